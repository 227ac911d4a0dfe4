using System.Text;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;

namespace Herald.IntegrationTests.Relay;

/// <summary>A second private Postfix instance, started once for <see cref="PostfixRelayhostTests"/>;
/// each test points it at its own Herald with <see cref="PostfixFixture.RelayViaAsync"/>.</summary>
public sealed class RelayClientPostfix : IAsyncLifetime
{
    public PostfixFixture Instance { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Instance = await PostfixFixture.StartAnotherAsync("herald-postfix-relay-client");

    public ValueTask DisposeAsync() => Instance.DisposeAsync();
}

/// <summary>
/// Postfix itself with Herald as its relayhost (<c>relayhost = [127.0.0.1]:port</c>,
/// <c>smtp_tls_security_level = encrypt</c>, SASL AUTH with a relay account made by
/// <c>herald relay account add</c>): the set-up an administrator makes when Herald replaces a
/// smarthost. Herald delivers to the shared Postfix fixture, so the path is
/// swaks → Postfix → Herald (STARTTLS, AUTH required) → Postfix upstream (STARTTLS, AUTH) → mailbox.
/// </summary>
public sealed partial class PostfixRelayhostTests(PostfixFixture upstream, RelayClientPostfix client) : IClassFixture<RelayClientPostfix>, IAsyncDisposable
{
    private const string Account = "postfix-relay";
    private const string AccountPassword = "relay account pass";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly RelayNode _node = new();

    private PostfixFixture Postfix => client.Instance;

    [Fact]
    public async Task Postfix_relays_into_herald_over_starttls_with_auth_and_the_body_reaches_the_mailbox_unchanged()
    {
        await StartHeraldAsync();
        await Postfix.RelayViaAsync(_node.RelayPort, Account, AccountPassword);
        var to = PostfixFixture.NewRecipient("relayhost");
        var body = ".leading dot\r\n..two dots\r\ntrailing blanks   \r\n\tindented\r\n" + new string('y', 900) + "\r\nlast line\r\n";

        await SubmitToPostfixAsync(to, body);

        var delivered = Encoding.UTF8.GetString(await upstream.WaitForMessageAsync(to, Patience)).ReplaceLineEndings("\n");
        Assert.Equal(body.ReplaceLineEndings("\n"), delivered[(delivered.IndexOf("\n\n", StringComparison.Ordinal) + 2)..]);
        var sent = await Postfix.WaitForLogLineAsync(Patience, $"to=<{to}>", $"relay=127.0.0.1[127.0.0.1]:{_node.RelayPort},", "status=sent");
        await Postfix.WaitForLogLineAsync(Patience, $"TLS connection established to 127.0.0.1[127.0.0.1]:{_node.RelayPort}: TLSv1.");
        var outboxId = QueuedAs().Match(sent).Groups["id"].Value;
        // Herald's own trace header: ESMTPSA is ESMTP under TLS (S) after AUTH (A), RFC 3848.
        Assert.Matches($@"Received: from postfix\.test \(\[127\.0\.0\.1\]\)\n\tby \S+ \(Herald\) with ESMTPSA id {outboxId}\n", delivered);
        var listed = await _node.MustAsync("queue", "list");
        Assert.StartsWith(outboxId + " ", listed, StringComparison.Ordinal);
        Assert.Contains("source relay, from herald@example.org", await _node.MustAsync("queue", "show", outboxId), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postfix_with_a_wrong_relay_password_defers_and_herald_accepts_nothing()
    {
        await StartHeraldAsync();
        await Postfix.RelayViaAsync(_node.RelayPort, Account, "not the password");
        var to = PostfixFixture.NewRecipient("relayhost-refused");

        await SubmitToPostfixAsync(to, "must not arrive\r\n");

        var deferred = await Postfix.WaitForLogLineAsync(Patience, $"to=<{to}>", $"relay=127.0.0.1[127.0.0.1]:{_node.RelayPort},", "status=deferred");
        Assert.Contains("SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8", deferred, StringComparison.Ordinal);
        await _node.Server.WaitForOutputAsync($"authentication as {Account} failed", Patience);
        Assert.Equal("", await _node.MustAsync("queue", "list"));
        Assert.Empty(upstream.Delivered(to));
    }

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    /// <summary>Herald as an operator sets it up: an account for Postfix, password on standard
    /// input, and a listener for loopback clients that requires AUTH.</summary>
    private async Task StartHeraldAsync()
    {
        await _node.UseUpstreamAsync(upstream);
        await _node.MustWithInputAsync(AccountPassword + "\n", "relay", "account", "add", "--scope", "/", "--user", Account);
        await _node.MustAsync("relay", "set", "--listen", _node.Listen, "--scope", "/", "--access", "only-list", "--allow", "127.0.0.0/8", "--auth", "required");
        await _node.StartServeAsync();
    }

    /// <summary>swaks submits to the Postfix instance's own smtpd (plain listener, loopback trusted).</summary>
    private async Task SubmitToPostfixAsync(string to, string body)
    {
        var message = $"From: Scanner <scanner@apps.example.com>\r\nTo: <{to}>\r\nSubject: through postfix\r\nMessage-ID: <relayhost-{Guid.NewGuid():N}@apps.example.com>\r\n\r\n{body}";
        var file = Path.Combine(_node.Cli.DataDirectory, $"message-{Guid.NewGuid():N}.eml");
        // swaks ends the data with CRLF "." CRLF itself, so the file leaves out the last CRLF.
        await File.WriteAllTextAsync(file, message[..^2], TestContext.Current.CancellationToken);
        var (exit, transcript) = await ExternalTool.RunAsync("swaks", ["--server", $"127.0.0.1:{Postfix.PlainPort}", "--from", "scanner@apps.example.com", "--to", to,
            "--data", file, "--timeout", "30"], TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, transcript);
        Assert.Contains("250 2.0.0 Ok: queued as ", transcript, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"status=sent \(250 2\.0\.0 Ok: queued as (?<id>[0-9a-f]{32})\)")]
    private static partial Regex QueuedAs();
}
