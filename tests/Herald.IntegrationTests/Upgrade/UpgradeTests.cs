using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.IntegrationTests.Storage;
using Herald.Testing;

namespace Herald.IntegrationTests.Upgrade;

/// <summary>
/// A database the previous release made (tests/fixtures/upgrade: commit 69f9df2, migrations
/// 0001-0007 and 0010) opened by HEAD on both engines: the newer migrations run, the credential
/// key still matches, the directory and subscriptions are there, the API key still
/// authenticates, and the messages it left queued deliver with the sealed SMTP password.
/// </summary>
public sealed class UpgradeTests(PostfixFixture postfix, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_database_of_the_previous_release_migrates_and_its_queued_mail_delivers_with_its_sealed_password(string engine)
    {
        var fixture = UpgradeFixture.Load();
        await using var db = await TestDatabases.CreateAsync(engine, migrate: false);
        await UpgradeFixture.PlaceAsync(db, Ct);
        var environment = new Dictionary<string, string>(OutboxNode.FastRetries) { ["HERALD_CREDENTIAL_KEY"] = fixture.CredentialKey };
        if (db.Url is { } url)
        {
            environment["HERALD_DATABASE"] = url;
        }

        using var cli = new HeraldCommandLine(db.DataDirectory);
        foreach (var (name, value) in environment)
        {
            cli.Environment[name] = value;
        }

        // The first HEAD command migrates, then checks the key against the old check value.
        var status = await OutboxNode.MustAsync(cli, "key", "status");
        Assert.Contains("matches this database", status.Output, StringComparison.Ordinal);
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            Assert.Equal(db.Database.MigrationVersions, (await connection.QueryAsync<int>("SELECT version FROM schema_migrations ORDER BY version")).ToList());
        }

        Assert.Contains("alice-hr", (await OutboxNode.MustAsync(cli, "subscription", "list", "--scope", "/hr")).Output, StringComparison.Ordinal);
        Assert.Contains("alice@example.org", (await OutboxNode.MustAsync(cli, "user", "list")).Output, StringComparison.Ordinal);
        Assert.Contains("/hr", (await OutboxNode.MustAsync(cli, "scope", "list")).Output, StringComparison.Ordinal);

        // The upstream: the Postfix fixture's listener that relays only for a client that
        // authenticated (STARTTLS, then AUTH), as the fixture's account. The fixture's connection
        // points at a port nothing listens on, on the machine that made it. Every door drops a
        // connection's password when its server changes (a secret goes only where it was entered
        // for), so the row is moved here as DNS moving the smart host's name would; the sealed
        // password, bound to the connection's name, stays the old one. Raising the security to
        // STARTTLS through the door keeps it.
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            Assert.Equal(1, await connection.ExecuteAsync("UPDATE smtp_connections SET host = '127.0.0.1', port = @port WHERE name = '/:default'", new { port = postfix.StartTlsAuthPort }));
        }

        await OutboxNode.MustAsync(cli, "smtp", "set", "--security", "starttls-required", "--trust-ca", postfix.Pki("ca.pem"));
        Assert.Contains("password set", (await OutboxNode.MustAsync(cli, "smtp", "connection", "show", "default")).Output, StringComparison.Ordinal);

        await using var server = await HeraldServer.StartAsync(db.DataDirectory, environment);
        using var http = server.Client(fixture.ApiKey(engine));
        var expected = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in fixture.QueuedMessages(engine))
        {
            var sent = await OutboxNode.WaitForAsync(http, id, state => state == "sent", TimeSpan.FromSeconds(60));
            output.WriteLine($"{id}: {sent.GetProperty("attempts").EnumerateArray().Last()}");
            expected[sent.GetProperty("messageIdHeader").GetString()!.Trim('<', '>')] = OutboxNode.Recipients(sent).Single().GetProperty("address").GetString()!;
        }

        // Postfix delivered each one to its recipient's mailbox: only an authenticated client
        // may relay there, so the password opened with the fixture's key.
        foreach (var (messageId, address) in expected)
        {
            await WaitForDeliveryAsync(address, messageId);
        }
    }

    private async Task WaitForDeliveryAsync(string address, string messageId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!postfix.Delivered(address).Any(bytes => MimeKit.MimeMessage.Load(new MemoryStream(bytes)).MessageId == messageId))
        {
            Assert.True(DateTime.UtcNow < deadline, $"Postfix did not deliver {messageId} to {address}:\n{postfix.MailLogTail()}");
            await Task.Delay(100, Ct);
        }
    }
}
