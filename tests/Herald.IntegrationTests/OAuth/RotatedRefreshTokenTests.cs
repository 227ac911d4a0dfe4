using Duende.IdentityModel.Client;
using Herald.Access;
using Herald.Credentials;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.OAuth;

/// <summary>
/// A refresh token the authorization server rotates (OpenIddict's rolling refresh tokens: every
/// use gives a new one and the used one is refused) is stored sealed at once, so that the next
/// send — on a node that starts afresh, with nothing in memory — presents the new one and the
/// mail still goes. On both engines, since the rotated token is written by its own store call.
/// </summary>
public sealed class RotatedRefreshTokenTests : IAsyncLifetime
{
    private const string Mailbox = "alerts@example.org";
    private const string ClientId = "alerts";
    private const string ClientSecret = "alerts-client-secret";

    private AuthorizationServer _tokens = null!;
    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _tokens = await AuthorizationServer.StartAsync();
        await _tokens.AddClientAsync(ClientId, ClientSecret, Mailbox);
        _sink = SmtpSink.Start();
        _dovecot = await DovecotSubmission.StartAsync(_tokens, _sink.Port);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Second_send_uses_the_rotated_refresh_token_stored_sealed_and_the_old_one_is_refused(string engine)
    {
        await using var database = await TestDatabases.CreateAsync(engine);
        string connectionId, signedIn;
        await using (var node = OAuthNode.Build(database, TimeProvider.System))
        {
            connectionId = await SignedInConnectionAsync(node);
            signedIn = await StoredRefreshTokenAsync(node, connectionId);

            var first = await OAuthNode.SendAsync(node, await StoredAsync(node, connectionId), Mailbox, "First, with the signed-in token");
            Assert.True(first.FailedAt is null, first.Failure);
        }

        await using (var node = OAuthNode.Build(database, TimeProvider.System))
        {
            // The row holds the token the server gave in exchange, sealed, not the one signed in with.
            var row = await StoredAsync(node, connectionId);
            var rotated = await StoredRefreshTokenAsync(node, connectionId);
            Assert.NotEqual(signedIn, rotated);
            Assert.DoesNotContain(rotated, System.Text.Encoding.UTF8.GetString(row.Authentication.OAuth!.RefreshToken!.Ciphertext), StringComparison.Ordinal);

            // The server refuses the token that was used.
            using (var http = new HttpClient())
            {
                var reused = await http.RequestRefreshTokenAsync(new RefreshTokenRequest
                {
                    Address = _tokens.TokenEndpoint, ClientId = ClientId, ClientSecret = ClientSecret, RefreshToken = signedIn,
                }, Ct);
                Assert.Equal("invalid_grant", reused.Error);
            }

            // A node with nothing in memory sends with the stored, rotated token.
            var second = await OAuthNode.SendAsync(node, row, Mailbox, "Second, with the rotated token");

            Assert.True(second.FailedAt is null, second.Failure);
            Assert.Equal(["First, with the signed-in token", "Second, with the rotated token"], _sink.Received().Select(m => m.ToMimeMessage().Subject));
            Assert.NotEqual(rotated, await StoredRefreshTokenAsync(node, connectionId));
        }
    }

    /// <summary>A generic connection signed in with the device code, approved at the test server.</summary>
    private async Task<string> SignedInConnectionAsync(ServiceProvider node)
    {
        var saved = await node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "alerts", true, new ConnectionUpdate
        {
            Host = "127.0.0.1",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = new AuthenticationChange.ToOAuth(Mailbox, new OAuthChange
            {
                Provider = "generic",
                Grant = "refresh-token",
                TokenEndpoint = _tokens.TokenEndpoint,
                DeviceEndpoint = _tokens.DeviceEndpoint,
                ClientId = ClientId,
                ClientSecret = ClientSecret,
            }),
        }), Ct);
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
        var signedIn = await node.GetRequiredService<OAuthSignInService>()
            .SignInWithDeviceCodeAsync(Caller.Operator, ScopePath.Root, "alerts", (code, _) => _tokens.VerifyAsync(code.UserCode), Ct);
        Assert.True(signedIn.Refusal is null, signedIn.Refusal?.ToString());
        return saved.Value.Connection.Id;
    }

    private static async Task<SmtpConnection> StoredAsync(ServiceProvider node, string id) =>
        (await node.GetRequiredService<ISettingsStore>().GetConnectionAsync(id, Ct))!;

    /// <summary>The refresh token in the connection's row, opened with the node's credential key.</summary>
    private static async Task<string> StoredRefreshTokenAsync(ServiceProvider node, string id)
    {
        var row = await StoredAsync(node, id);
        var key = (await node.GetRequiredService<CredentialVault>().GetKeyAsync(initializeDatabase: false, Ct)).Key!;
        Assert.True(key.TryOpen(row.Authentication.OAuth!.RefreshToken!, SecretNames.OAuthRefreshToken(id), out var bytes));
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    public async ValueTask DisposeAsync()
    {
        _dovecot.Dispose();
        _sink.Dispose();
        await _tokens.DisposeAsync();
    }
}
