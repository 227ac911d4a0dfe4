using Herald.Access;
using Herald.Delivery;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.OAuth;

/// <summary>
/// OAuth 2.0 delivery against real servers on loopback: Herald's connection pool asks a real
/// authorization server (OpenIddict) for tokens with Duende.IdentityModel and presents them to
/// Dovecot's submission service, which introspects each one at that server and relays the mail to
/// smtp-sink. Herald and the authorization server share one fake clock, so that tokens expire
/// when a test says so, not after a wait.
/// </summary>
public sealed class OAuthDeliveryTests : IAsyncLifetime
{
    private const string Mailbox = "mailbox@example.org";
    private const string ClientId = "herald";
    private const string ClientSecret = "herald-client-secret";

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private AuthorizationServer _tokens = null!;
    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;
    private TestDatabase _database = null!;
    private ServiceProvider _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _tokens = await AuthorizationServer.StartAsync(_time);
        await _tokens.AddClientAsync(ClientId, ClientSecret, Mailbox);
        _sink = SmtpSink.Start();
        _dovecot = await DovecotSubmission.StartAsync(_tokens, _sink.Port);
        _database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        _node = OAuthNode.Build(_database, _time);
    }

    [Fact]
    public async Task Client_credentials_token_delivers_through_dovecot()
    {
        var connection = await SaveGenericConnectionAsync();

        var result = await SendAsync(connection, "Client credentials");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal(RecipientOutcome.Sent, Assert.Single(result.Recipients).Outcome);
        var received = Assert.Single(_sink.Received());
        Assert.Equal("Client credentials", received.ToMimeMessage().Subject);
        Assert.Equal(Mailbox, received.Sender);
        Assert.Equal(1, _tokens.TokenRequests);
        Assert.Equal(1, _tokens.Introspections);
    }

    [Fact]
    public async Task Expired_token_is_renewed_before_it_is_presented()
    {
        var connection = await SaveGenericConnectionAsync();
        Assert.Null((await SendAsync(connection, "First")).FailedAt);
        Assert.Null((await SendAsync(connection, "From the cache")).FailedAt);
        Assert.Equal(1, _tokens.TokenRequests);

        // The token lives ten minutes at the authorization server; eleven pass.
        _time.Advance(TimeSpan.FromMinutes(11));
        var result = await SendAsync(connection, "After expiry");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal(["First", "From the cache", "After expiry"], _sink.Received().Select(m => m.ToMimeMessage().Subject));
        Assert.Equal(2, _tokens.TokenRequests);
        // Three sessions, three tokens shown to Dovecot, none refused: the expired one never was.
        Assert.Equal(3, _tokens.Introspections);
    }

    [Fact]
    public async Task Token_rejected_by_the_server_is_replaced_once_and_the_mail_goes_out()
    {
        var connection = await SaveGenericConnectionAsync();
        Assert.Null((await SendAsync(connection, "Before the revocation")).FailedAt);

        // The cached token is still within its lifetime, but the authorization server revoked it.
        await _tokens.RevokeTokensAsync(ClientId);
        var result = await SendAsync(connection, "After the revocation");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal(["Before the revocation", "After the revocation"], _sink.Received().Select(m => m.ToMimeMessage().Subject));
        Assert.Equal(2, _tokens.TokenRequests);
        // The revoked token, then the fresh one.
        Assert.Equal(3, _tokens.Introspections);
    }

    [Fact]
    public async Task Disabled_client_defers_with_the_authorization_servers_error_and_sends_nothing()
    {
        var connection = await SaveGenericConnectionAsync();
        await _tokens.DisableClientAsync(ClientId);

        var result = await SendAsync(connection, "Never sent");

        Assert.Equal(DeliveryStage.Authenticate, result.FailedAt);
        var recipient = Assert.Single(result.Recipients);
        Assert.Equal(RecipientOutcome.TransientFailure, recipient.Outcome);
        Assert.Contains("unauthorized_client", recipient.Detail, StringComparison.Ordinal);
        Assert.Contains($"SMTP connection {connection.Qualified}", recipient.Detail, StringComparison.Ordinal);
        Assert.Contains("enable the client", recipient.Detail, StringComparison.Ordinal);
        Assert.True(SmtpConnectionPool.IsConfigurationFailure(result));
        Assert.Empty(_sink.Received());
        Assert.Equal(0, _tokens.Introspections);
    }

    [Fact]
    public async Task Secrets_are_sealed_and_a_new_token_endpoint_drops_them()
    {
        var connection = await SaveGenericConnectionAsync();
        var oauth = connection.Authentication.OAuth!;
        Assert.NotNull(oauth.ClientSecret);
        Assert.DoesNotContain(ClientSecret, System.Text.Encoding.UTF8.GetString(oauth.ClientSecret.Ciphertext), StringComparison.Ordinal);

        var service = _node.GetRequiredService<OutgoingSettingsService>();
        var moved = await service.SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "oauth", false, new ConnectionUpdate
        {
            Authentication = new AuthenticationChange.ToOAuth(null, new OAuthChange { TokenEndpoint = "https://login.attacker.example/token" }),
        }), Ct);

        // The secret may go only to the token endpoint it was entered for: without a new one the save is refused.
        Assert.NotNull(moved.Refusal);
        Assert.Contains(moved.Refusal!.Errors, e => e.Field == "clientSecret");
        var stored = await _node.GetRequiredService<ISettingsStore>().GetConnectionAsync(connection.Id, Ct);
        Assert.Equal(_tokens.TokenEndpoint.TrimEnd('/'), stored!.Authentication.OAuth!.TokenEndpoint);
        Assert.NotNull(stored.Authentication.OAuth.ClientSecret);
    }

    private async Task<SmtpConnection> SaveGenericConnectionAsync()
    {
        var saved = await _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "oauth", true, new ConnectionUpdate
        {
            Host = "127.0.0.1",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = new AuthenticationChange.ToOAuth(Mailbox, new OAuthChange
            {
                Provider = "generic",
                TokenEndpoint = _tokens.TokenEndpoint,
                ClientId = ClientId,
                ClientSecret = ClientSecret,
            }),
        }), Ct);
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
        return saved.Value.Connection;
    }

    private Task<DeliveryResult> SendAsync(SmtpConnection connection, string subject) => OAuthNode.SendAsync(_node, connection, Mailbox, subject);

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        await _database.DisposeAsync();
        _dovecot.Dispose();
        _sink.Dispose();
        await _tokens.DisposeAsync();
    }
}
