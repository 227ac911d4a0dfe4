using System.Net;
using System.Net.Http.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Testing;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace Herald.IntegrationTests.Delivery;

/// <summary>
/// A stored password goes only to the server it was entered for, proven against two real
/// Postfix servers that accept the same SASL account: the one the connection was set up for,
/// and a second one that logs every AUTH it sees. After an administrator of <c>/</c> moves the
/// connection to the second server without giving the password again, the second server never
/// sees an AUTH from Herald, and the mail waits with a sentence saying what is missing.
/// </summary>
public sealed class SecretBindingTests(PostfixFixture original) : IAsyncDisposable
{
    private readonly HeraldCommandLine _cli = new() { Environment = { ["HERALD_CREDENTIAL_KEY"] = "secret binding passphrase, amber kestrel" } };
    private HeraldServer? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Moving_a_connection_to_another_server_never_sends_it_the_stored_password()
    {
        await using var other = await PostfixFixture.StartAnotherAsync("herald-postfix-binding");
        var logBefore = await ProveTheOtherServerLogsAuthAttemptsAsync(other);

        var set = await _cli.RunWithInputAsync(original.SaslPassword + "\n",
            "smtp", "set", "--from", "herald@example.org", "--server", "127.0.0.1", "--port", $"{original.StartTlsAuthPort}",
            "--security", "starttls-required", "--trust-ca", original.Pki("ca.pem"), "--auth", "plain", "--username", original.SaslUser, "--password-stdin");
        Assert.True(set.ExitCode == 0, set.ToString());
        _server = await HeraldServer.StartAsync(_cli.DataDirectory, new Dictionary<string, string>(OutboxNode.FastRetries) { ["HERALD_CREDENTIAL_KEY"] = "secret binding passphrase, amber kestrel" });
        var apiKey = (await OutboxNode.MustAsync(_cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];
        using var http = _server.Client(apiKey);

        // The password works where it was entered for.
        var before = PostfixFixture.NewRecipient("before");
        var first = await OutboxNode.SendAsync(http, new { scope = "/", to = new[] { before }, subject = "Before the move", text = "x" });
        await OutboxNode.WaitForAsync(http, first, s => s == "sent");
        await original.WaitForMessageAsync(before);

        // The administrator of / points the connection at another server and gives no password,
        // through the API of the node that sends (its settings cache sees the change at once; a
        // change by the CLI reaches a running node within OutgoingSettingsCache.Lifetime).
        using var moved = await http.PutAsJsonAsync(
            new Uri("api/v1/connections/default?scope=%2F", UriKind.Relative),
            new { port = other.StartTlsAuthPort, trustCa = await File.ReadAllTextAsync(other.Pki("ca.pem"), Ct) },
            Ct);
        var movedBody = await moved.Content.ReadAsStringAsync(Ct);
        Assert.True(moved.IsSuccessStatusCode, movedBody);
        Assert.Contains("The stored password of /:default was dropped because its server changed", movedBody, StringComparison.Ordinal);

        var after = PostfixFixture.NewRecipient("after");
        var second = await OutboxNode.SendAsync(http, new { scope = "/", to = new[] { after }, subject = "After the move", text = "x" });
        var deferred = await OutboxNode.WaitForAsync(http, second, s => s == "deferred");
        var reply = OutboxNode.Recipients(deferred).Single().GetProperty("lastReply").GetString();
        Assert.Contains("SMTP connection /:default needs a password", reply, StringComparison.Ordinal);

        // Another attempt or two, then: the other server saw no AUTH from Herald, and nothing arrived anywhere.
        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        // The proof's own summary line, should the log write it again (it was seen past the
        // offset once in CI, word for word: same time, process and command counts), is not Herald's.
        var authLines = LogSince(other, logBefore.Offset).Where(line => IsAuthAttempt(line) && line != logBefore.Proof).ToArray();
        Assert.True(authLines.Length == 0, $"The other server logged an AUTH after the move:\n{string.Join('\n', authLines)}");
        Assert.Empty(other.Delivered(after));
        Assert.Empty(original.Delivered(after));
        Assert.Contains("needs a password", (await OutboxNode.MustAsync(_cli, "queue", "show", second)).Output, StringComparison.Ordinal);
    }

    /// <summary>The negative above means something only if the other server records AUTH: a
    /// login by MailKit with the shared account shows in its log. Returns the log's length after
    /// that proof, from where the test reads what came later (the log is not truncated: Postfix's
    /// log daemon writes on while a test would truncate it), and the proof's own line.</summary>
    private static async Task<(long Offset, string Proof)> ProveTheOtherServerLogsAuthAttemptsAsync(PostfixFixture other)
    {
        using var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(other.Pki("ca.pem"));
        using var client = new SmtpClient { ServerCertificateValidationCallback = (_, presented, _, _) => IssuedBy(presented, ca) };
        // The fixture's own start-up check may have logged an AUTH session already: only a line
        // after this point is the proof's.
        var start = new FileInfo(Path.Combine(other.Directory, "maillog")).Length;
        await client.ConnectAsync("127.0.0.1", other.StartTlsAuthPort, SecureSocketOptions.StartTls, Ct);
        await client.AuthenticateAsync(new NetworkCredential(other.SaslUser, other.SaslPassword), Ct);
        await client.DisconnectAsync(true, Ct);
        // smtpd's summary of each session counts the AUTH commands it received.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string? proof;
        while ((proof = LogSince(other, start).FirstOrDefault(line => line.Contains("disconnect from", StringComparison.Ordinal) && line.Contains(" auth=1", StringComparison.Ordinal))) is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "The other server did not log the proof's AUTH session within 10 s.");
            await Task.Delay(50, Ct);
        }

        return (new FileInfo(Path.Combine(other.Directory, "maillog")).Length, proof);
    }

    /// <summary>What smtpd logs for a client's AUTH: the count in each session's summary, the
    /// mechanism and user of an accepted one, the warning for a refused one.</summary>
    private static bool IsAuthAttempt(string line) =>
        line.Contains(" auth=", StringComparison.Ordinal) || line.Contains("sasl_method=", StringComparison.Ordinal)
        || line.Contains("sasl_username=", StringComparison.Ordinal) || (line.Contains("SASL ", StringComparison.Ordinal) && line.Contains("authentication failed", StringComparison.Ordinal));

    private static string[] LogSince(PostfixFixture other, long offset)
    {
        using var log = new FileStream(Path.Combine(other.Directory, "maillog"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        log.Seek(offset, SeekOrigin.Begin);
        using var reader = new StreamReader(log);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static bool IssuedBy(System.Security.Cryptography.X509Certificates.X509Certificate? presented, System.Security.Cryptography.X509Certificates.X509Certificate2 ca)
    {
        if (presented is null)
        {
            return false;
        }

        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        using var leaf = new System.Security.Cryptography.X509Certificates.X509Certificate2(presented);
        return chain.Build(leaf);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _cli.Dispose();
    }
}
