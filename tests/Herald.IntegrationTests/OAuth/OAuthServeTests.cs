using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Testing;

namespace Herald.IntegrationTests.OAuth;

/// <summary>
/// OAuth 2.0 through the doors an administrator of a build server uses, with nothing that needs a
/// browser: <c>herald smtp set --auth oauth2 …</c> with the secret on standard input, <c>herald smtp
/// show</c>, <c>herald key rotate</c>, then a real <c>herald serve</c> delivering through Dovecot
/// with tokens from the test's authorization server, and deferring with the server's reason (and
/// the failing-connection gauge naming the connection) once the client is disabled.
/// </summary>
public sealed class OAuthServeTests : IAsyncLifetime
{
    private const string Mailbox = "builds@example.org";
    private const string ClientSecret = "build-server-client-secret";
    private const string FirstPassphrase = "oauth serve passphrase";
    private const string RotatedPassphrase = "oauth serve rotated passphrase";

    private readonly HeraldCommandLine _cli = new() { Environment = { ["HERALD_CREDENTIAL_KEY"] = FirstPassphrase } };
    private AuthorizationServer _tokens = null!;
    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;
    private HeraldServer? _server;

    public async ValueTask InitializeAsync()
    {
        _tokens = await AuthorizationServer.StartAsync();
        await _tokens.AddClientAsync("build-server", ClientSecret, Mailbox);
        _sink = SmtpSink.Start();
        _dovecot = await DovecotSubmission.StartAsync(_tokens, _sink.Port);
    }

    [Fact]
    public async Task Client_credentials_set_from_the_cli_survive_key_rotation_deliver_and_a_disabled_client_defers()
    {
        var set = await _cli.RunWithInputAsync(ClientSecret + "\n",
            "smtp", "set", "--from", Mailbox, "--server", "127.0.0.1", "--port", $"{_dovecot.Port}", "--security", "none", "--allow-plaintext-auth", "true",
            "--auth", "oauth2", "--oauth-provider", "generic", "--token-endpoint", _tokens.TokenEndpoint, "--client-id", "build-server",
            "--username", Mailbox, "--client-secret-stdin");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.DoesNotContain(ClientSecret, set.Output + set.Error, StringComparison.Ordinal);

        // Which provider, whose token and until when; never the secret or the token.
        var show = await OutboxNode.MustAsync(_cli, "smtp", "show");
        Assert.Contains($"OAuth 2.0 (generic, XOAUTH2 or OAUTHBEARER) for mailbox {Mailbox}", show.Output, StringComparison.Ordinal);
        Assert.Contains($"generic, token endpoint {_tokens.TokenEndpoint.TrimEnd('/')}", show.Output, StringComparison.Ordinal);
        Assert.Contains($"the application build-server (app-only), sending as {Mailbox}", show.Output, StringComparison.Ordinal);
        Assert.Contains("client secret set", show.Output, StringComparison.Ordinal);
        Assert.Matches(@"token\s+obtained, expires \d{4}-\d\d-\d\d \d\d:\d\d UTC", show.Output);
        Assert.DoesNotContain(ClientSecret, show.Output, StringComparison.Ordinal);

        // The client secret is re-sealed with every other secret.
        var rotated = await _cli.RunWithInputAsync(RotatedPassphrase + "\n", "key", "rotate");
        Assert.True(rotated.ExitCode == 0, rotated.ToString());
        _cli.Environment["HERALD_CREDENTIAL_KEY"] = RotatedPassphrase;

        // No idle sessions kept: each message opens one and shows the server a token, as after a quiet spell.
        _server = await HeraldServer.StartAsync(_cli.DataDirectory, new Dictionary<string, string>(OutboxNode.FastRetries)
        {
            ["HERALD_CREDENTIAL_KEY"] = RotatedPassphrase,
            ["HERALD_Delivery__IdleConnectionTimeout"] = "00:00:00",
        });
        var apiKey = (await OutboxNode.MustAsync(_cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];
        using var http = _server.Client(apiKey);

        var first = await OutboxNode.SendAsync(http, new { scope = "/", to = new[] { "ops@example.net" }, subject = "Build 1 passed", text = "x" });
        await OutboxNode.WaitForAsync(http, first, s => s == "sent");
        var delivered = Assert.Single(_sink.Received());
        Assert.Equal("Build 1 passed", delivered.ToMimeMessage().Subject);
        Assert.Equal(Mailbox, delivered.Sender);

        // The client is disabled at the authorization server (and its tokens revoked).
        await _tokens.DisableClientAsync("build-server");
        var second = await OutboxNode.SendAsync(http, new { scope = "/", to = new[] { "ops@example.net" }, subject = "Build 2 passed", text = "x" });
        var deferred = await OutboxNode.WaitForAsync(http, second, s => s == "deferred");
        var reply = OutboxNode.Recipients(deferred).Single().GetProperty("lastReply").GetString();
        Assert.Contains("unauthorized_client", reply, StringComparison.Ordinal);
        Assert.Contains("enable the client", reply, StringComparison.Ordinal);

        var metrics = await http.GetStringAsync(new Uri("metrics", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Matches(@"herald_connection_failing\{connection=""[^""]*default""\} 1", metrics);
        Assert.Single(_sink.Received());
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _cli.Dispose();
        _dovecot.Dispose();
        _sink.Dispose();
        await _tokens.DisposeAsync();
    }
}
