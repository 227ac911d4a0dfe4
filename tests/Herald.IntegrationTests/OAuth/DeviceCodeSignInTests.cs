using System.Security.Cryptography;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.OAuth;

/// <summary>
/// Signing a connection in from a terminal (the device authorization grant, RFC 8628), as an
/// administrator of a build server with no browser would: <c>herald smtp connection sign-in</c>
/// prints where to go and the code; the test enters the code at the test authorization server's
/// verification page; the refresh token the CLI stores then sends mail through Dovecot to
/// smtp-sink. A denied or expired code ends with a sentence, and nothing is stored.
/// </summary>
public sealed class DeviceCodeSignInTests : IAsyncLifetime
{
    private const string Mailbox = "builds@example.org";
    private const string ClientId = "build-terminal";
    private const string ClientSecret = "build-terminal-secret";
    private const string CodeLine = @"open (?<url>\S+) on any device and enter the code (?<code>\S+) ";

    // The authorization server's clock: device codes expire by it.
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly HeraldCommandLine _cli = new() { Environment = { ["HERALD_CREDENTIAL_KEY"] = "device code passphrase" } };
    private AuthorizationServer _tokens = null!;
    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;

    public async ValueTask InitializeAsync()
    {
        _tokens = await AuthorizationServer.StartAsync(_time);
        await _tokens.AddClientAsync(ClientId, ClientSecret, Mailbox);
        _sink = SmtpSink.Start();
        _dovecot = await DovecotSubmission.StartAsync(_tokens, _sink.Port);
    }

    [Fact]
    public async Task Device_code_sign_in_from_the_cli_stores_a_refresh_token_that_delivers_mail()
    {
        await SetConnectionAsync();

        var signIn = _cli.Start(null, "smtp", "connection", "sign-in", "default");
        var shown = await signIn.WaitForOutputAsync(CodeLine);
        Assert.Equal(_tokens.VerificationEndpoint, shown.Groups["url"].Value);
        await _tokens.VerifyAsync(shown.Groups["code"].Value);
        var signedIn = await signIn.Completion;

        Assert.True(signedIn.ExitCode == 0, signedIn.ToString());
        Assert.Contains($"SMTP connection /:default sends as {Mailbox} with the refresh token, stored encrypted.", signedIn.Output, StringComparison.Ordinal);
        var show = await OutboxNode.MustAsync(_cli, "smtp", "connection", "show", "default");
        Assert.Contains($"signed in as {Mailbox}", show.Output, StringComparison.Ordinal);
        Assert.Contains("(refresh token set)", show.Output, StringComparison.Ordinal);

        var sent = await _cli.RunAsync("test-email", "--to", "ops@example.net", "--subject", "Signed in from a terminal");
        Assert.True(sent.ExitCode == 0, sent.ToString());
        var delivered = Assert.Single(_sink.Received());
        Assert.Equal("Signed in from a terminal", delivered.ToMimeMessage().Subject);
        Assert.Equal(Mailbox, delivered.Sender);
    }

    [Fact]
    public async Task Denied_device_code_ends_with_a_sentence_and_stores_nothing()
    {
        await SetConnectionAsync();

        var signIn = _cli.Start(null, "smtp", "connection", "sign-in", "default");
        var shown = await signIn.WaitForOutputAsync(CodeLine);
        await _tokens.VerifyAsync(shown.Groups["code"].Value, allow: false);
        var denied = await signIn.Completion;

        Assert.Equal(1, denied.ExitCode);
        Assert.Contains("access_denied", denied.Error, StringComparison.Ordinal);
        Assert.Contains("the sign-in was denied at the provider: sign in again and approve it. Nothing was stored.", denied.Error, StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task Expired_device_code_ends_with_a_sentence_and_stores_nothing()
    {
        await SetConnectionAsync();

        var signIn = _cli.Start(null, "smtp", "connection", "sign-in", "default");
        await signIn.WaitForOutputAsync(CodeLine);
        // Nobody enters the code; the authorization server's clock passes its lifetime.
        _time.Advance(TimeSpan.FromMinutes(11));
        var expired = await signIn.Completion;

        Assert.Equal(1, expired.ExitCode);
        Assert.Contains("the code expired before anyone approved it: sign in again and enter the new code in time. Nothing was stored.", expired.Error, StringComparison.Ordinal);
        await AssertNothingStoredAsync();
    }

    [Fact]
    public async Task A_google_service_account_needs_no_sign_in_and_the_cli_says_so()
    {
        var key = Path.Combine(_cli.DataDirectory, "service-account.json");
        using (var rsa = RSA.Create(2048))
        {
            await File.WriteAllTextAsync(key, JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["type"] = "service_account",
                ["client_email"] = "herald@example-project.iam.gserviceaccount.com",
                ["private_key"] = rsa.ExportPkcs8PrivateKeyPem(),
            }), TestContext.Current.CancellationToken);
        }

        await OutboxNode.MustAsync(_cli, "smtp", "connection", "set", "workspace", "--server", "smtp.gmail.com", "--port", "587", "--security", "starttls-required",
            "--auth", "oauth2", "--oauth-provider", "google", "--service-account-key", key, "--username", Mailbox);

        var signIn = await _cli.RunAsync("smtp", "connection", "sign-in", "workspace");

        Assert.True(signIn.ExitCode == 0, signIn.ToString());
        Assert.Contains("SMTP connection /:workspace needs no sign-in: its service account herald@example-project.iam.gserviceaccount.com gets tokens", signIn.Output, StringComparison.Ordinal);
        Assert.Equal(0, _tokens.TokenRequests);
    }

    [Fact]
    public async Task A_server_without_a_device_endpoint_is_not_signed_in_from_a_terminal()
    {
        await OutboxNode.MustAsync(_cli, "smtp", "connection", "set", "browser-only", "--server", "127.0.0.1", "--port", $"{_dovecot.Port}",
            "--security", "none", "--allow-plaintext-auth", "true", "--auth", "oauth2", "--oauth-provider", "generic", "--oauth-grant", "refresh-token",
            "--token-endpoint", _tokens.TokenEndpoint, "--authorization-endpoint", _tokens.AuthorizationEndpoint, "--client-id", ClientId, "--username", Mailbox);

        var signIn = await _cli.RunAsync("smtp", "connection", "sign-in", "browser-only");

        Assert.Equal(1, signIn.ExitCode);
        Assert.Contains("SMTP connection /:browser-only has no device authorization endpoint to sign in at from a terminal: give it (--device-endpoint https://…), or sign in with the console.", signIn.Error, StringComparison.Ordinal);
        Assert.Equal(0, _tokens.TokenRequests);
    }

    /// <summary>The scope's default connection: OAuth 2.0 with a signed-in mailbox, not signed in yet.</summary>
    private async Task SetConnectionAsync()
    {
        var set = await _cli.RunWithInputAsync(ClientSecret + "\n",
            "smtp", "set", "--from", Mailbox, "--server", "127.0.0.1", "--port", $"{_dovecot.Port}", "--security", "none", "--allow-plaintext-auth", "true",
            "--auth", "oauth2", "--oauth-provider", "generic", "--oauth-grant", "refresh-token", "--token-endpoint", _tokens.TokenEndpoint,
            "--device-endpoint", _tokens.DeviceEndpoint, "--client-id", ClientId, "--username", Mailbox, "--client-secret-stdin");
        Assert.True(set.ExitCode == 0, set.ToString());
    }

    private async Task AssertNothingStoredAsync()
    {
        var show = await OutboxNode.MustAsync(_cli, "smtp", "connection", "show", "default");
        Assert.Contains("nobody has signed in yet", show.Output, StringComparison.Ordinal);
        var sent = await _cli.RunAsync("test-email", "--to", "ops@example.net");
        Assert.Equal(1, sent.ExitCode);
        Assert.Contains("has no refresh token", sent.Error, StringComparison.Ordinal);
        Assert.Empty(_sink.Received());
    }

    public async ValueTask DisposeAsync()
    {
        _cli.Dispose();
        _dovecot.Dispose();
        _sink.Dispose();
        await _tokens.DisposeAsync();
    }
}
