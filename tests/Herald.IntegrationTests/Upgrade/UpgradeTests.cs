using System.Text;
using System.Text.RegularExpressions;
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
public sealed partial class UpgradeTests(ITestOutputHelper output)
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

        // The upstream: smtp-sink offers AUTH and, with -v, shows what the client sent. The
        // fixture's connection points at a port nothing listens on, on the machine that made
        // it. Every door drops a connection's password when its server changes (a secret goes
        // only where it was entered for), so the row is moved here as DNS moving the smart host's
        // name would: the sealed password, bound to the connection's name, is the old one.
        using var sink = SmtpSink.Start("-v");
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            Assert.Equal(1, await connection.ExecuteAsync("UPDATE smtp_connections SET host = '127.0.0.1', port = @port WHERE name = '/:default'", new { port = sink.Port }));
        }

        await using var server = await HeraldServer.StartAsync(db.DataDirectory, environment);
        using var http = server.Client(fixture.ApiKey(engine));
        foreach (var id in fixture.QueuedMessages(engine))
        {
            var sent = await OutboxNode.WaitForAsync(http, id, state => state == "sent", TimeSpan.FromSeconds(60));
            output.WriteLine($"{id}: {sent.GetProperty("message").GetProperty("subject")}");
        }

        var received = await sink.WaitForAsync(fixture.QueuedMessages(engine).Count, TimeSpan.FromSeconds(30));
        Assert.Equal(
            ["Queued before the upgrade 1", "Queued before the upgrade 1", "Queued before the upgrade 2", "Queued before the upgrade 2", "Queued before the upgrade 3", "Queued before the upgrade 3"],
            received.Select(m => m.ToMimeMessage().Subject).Order(StringComparer.Ordinal));

        // What the upstream received in AUTH PLAIN: the fixture's user and password, unsealed
        // with the fixture's key.
        var auth = AuthPlain().Matches(sink.Output).Select(m => Encoding.UTF8.GetString(Convert.FromBase64String(m.Groups[1].Value))).Distinct().ToList();
        Assert.Equal([$"\0{fixture.SmtpUser}\0{fixture.SmtpPassword}"], auth);
    }

    [GeneratedRegex(@"AUTH PLAIN ([A-Za-z0-9+/=]+)")]
    private static partial Regex AuthPlain();
}
