using System.Collections.Concurrent;
using Herald.Access;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.OAuth;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.OAuth;

/// <summary>
/// MSAL's own device-code flow (a public client on an Entra ID authority) end to end: MSAL asks
/// https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode and polls …/token as it does
/// for Exchange Online, and those requests are answered by the test's authorization server (the
/// node's HTTP stack routes Microsoft's host there, the one thing a test cannot have for real).
/// The refresh token it leaves is stored by the same use case the CLI calls, and later delivers
/// mail through Dovecot as a public client (no secret).
/// </summary>
public sealed class MicrosoftDeviceCodeTests : IAsyncLifetime
{
    private const string Mailbox = "sharepoint@contoso.example";
    private const string ClientId = "sharepoint-terminal";

    private AuthorizationServer _tokens = null!;
    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;
    private TestDatabase _database = null!;
    private EntraAtTheTestServer _entra = null!;
    private ServiceProvider _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _tokens = await AuthorizationServer.StartAsync();
        await _tokens.AddPublicClientAsync(ClientId, Mailbox);
        _sink = SmtpSink.Start();
        _dovecot = await DovecotSubmission.StartAsync(_tokens, _sink.Port);
        _database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        _entra = new EntraAtTheTestServer(_tokens);
        _node = OAuthNode.Build(_database, TimeProvider.System, new OAuthHttp(_entra));
    }

    [Fact]
    public async Task Msal_device_code_sign_in_stores_a_refresh_token_that_delivers_as_a_public_client()
    {
        var saved = await _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "m365", true, new ConnectionUpdate
        {
            Host = "127.0.0.1",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = new AuthenticationChange.ToOAuth(Mailbox, new OAuthChange
            {
                Provider = "microsoft",
                Grant = "refresh-token",
                Tenant = "contoso.example",
                ClientId = ClientId,
            }),
        }), Ct);
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());

        var signIn = _node.GetRequiredService<OAuthSignInService>();
        var signedIn = await signIn.SignInWithDeviceCodeAsync(Caller.Operator, ScopePath.Root, "m365", (code, _) => _tokens.VerifyAsync(code.UserCode), Ct);

        Assert.True(signedIn.Refusal is null, $"{signedIn.Refusal}\n{string.Join('\n', _entra.Requested)}");
        Assert.Equal("Signed in as sharepoint@contoso.example: SMTP connection /:m365 sends as sharepoint@contoso.example with the refresh token, stored encrypted.", signedIn.Value);
        Assert.Contains("https://login.microsoftonline.com/contoso.example/oauth2/v2.0/devicecode", _entra.Requested);

        var stored = await _node.GetRequiredService<ISettingsStore>().GetConnectionAsync(saved.Value.Connection.Id, Ct);
        Assert.NotNull(stored!.Authentication.OAuth!.RefreshToken);
        Assert.Equal(Mailbox, stored.Authentication.OAuth.Account);
        var result = await OAuthNode.SendAsync(_node, stored, Mailbox, "Signed in with MSAL's device code");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal("Signed in with MSAL's device code", Assert.Single(_sink.Received()).ToMimeMessage().Subject);
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        await _database.DisposeAsync();
        _dovecot.Dispose();
        _sink.Dispose();
        await _tokens.DisposeAsync();
    }

    /// <summary>Sends what MSAL asks of login.microsoftonline.com to the test server's endpoints of
    /// the same name, and remembers every address MSAL asked.</summary>
    private sealed class EntraAtTheTestServer(AuthorizationServer server) : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly ConcurrentQueue<string> _requested = new();

        public IReadOnlyCollection<string> Requested => _requested.ToArray();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            _requested.Enqueue(uri.GetLeftPart(UriPartial.Path));
            if (uri.Host == "login.microsoftonline.com")
            {
                request.RequestUri = uri.AbsolutePath switch
                {
                    var path when path.EndsWith("/oauth2/v2.0/devicecode", StringComparison.Ordinal) => new Uri(server.DeviceEndpoint),
                    var path when path.EndsWith("/oauth2/v2.0/token", StringComparison.Ordinal) => new Uri(server.TokenEndpoint),
                    _ => new Uri(server.BaseAddress, "not-microsoft" + uri.PathAndQuery),
                };
                if (request.Content is { } content && (await content.ReadAsStringAsync(cancellationToken)).Split('&') is var fields && fields.Contains("grant_type=device_code"))
                {
                    // Entra ID takes MSAL's short grant name and a scope again with the device code;
                    // RFC 8628 (and OpenIddict) the URN, and the scope only with the device authorization.
                    request.Content = new StringContent(
                        string.Join('&', fields
                            .Where(f => !f.StartsWith("scope=", StringComparison.Ordinal))
                            .Select(f => f == "grant_type=device_code" ? "grant_type=" + Uri.EscapeDataString("urn:ietf:params:oauth:grant-type:device_code") : f)),
                        System.Text.Encoding.ASCII, "application/x-www-form-urlencoded");
                }
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
