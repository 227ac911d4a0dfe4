using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Herald.Access;
using Herald.Delivery;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.OAuth;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.OAuth;

/// <summary>
/// The Microsoft provider end to end: MSAL (app-only client credentials, a client secret) pointed
/// at the test's authorization server through its generic OpenID Connect authority support, over
/// HTTPS as MSAL requires, and the token it gets presented to Dovecot, which relays the mail.
/// Entra ID itself is not reachable from a test; everything after MSAL's discovery is the same code.
/// </summary>
public sealed class MicrosoftProviderTests : IAsyncLifetime
{
    private const string Mailbox = "sharepoint@contoso.example";

    private X509Certificate2 _tls = null!;
    private AuthorizationServer _tokens = null!;
    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;
    private TestDatabase _database = null!;
    private ServiceProvider _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _tls = LoopbackCertificate();
        _tokens = await AuthorizationServer.StartAsync(tls: _tls);
        await _tokens.AddClientAsync("sharepoint-farm", "farm-client-secret", Mailbox);
        _sink = SmtpSink.Start();
        _dovecot = await DovecotSubmission.StartAsync(_tokens, _sink.Port);
        _database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        // The node trusts the test server's certificate and nothing else.
        var trusting = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == _tls.GetCertHashString(),
            },
        };
        _node = OAuthNode.Build(_database, TimeProvider.System, new OAuthHttp(trusting));
    }

    [Fact]
    public async Task Msal_app_only_token_from_an_oidc_authority_delivers_through_dovecot()
    {
        var saved = await SaveAsync("farm-client-secret");
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
        Assert.Equal("https://outlook.office365.com/.default", saved.Value.Connection.Authentication.OAuth!.EffectiveScope);

        var result = await SendAsync(saved.Value.Connection, "Workflow task assigned");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal("Workflow task assigned", Assert.Single(_sink.Received()).ToMimeMessage().Subject);
        Assert.Equal(1, _tokens.Introspections);
    }

    [Fact]
    public async Task A_wrong_client_secret_defers_with_msals_error()
    {
        var saved = await SaveAsync("an expired secret");
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());

        var result = await SendAsync(saved.Value.Connection, "Never sent");

        Assert.Equal(DeliveryStage.Authenticate, result.FailedAt);
        var recipient = Assert.Single(result.Recipients);
        Assert.Equal(RecipientOutcome.TransientFailure, recipient.Outcome);
        Assert.Contains("Microsoft Entra ID gave SMTP connection /:m365 no token (invalid_client", recipient.Detail, StringComparison.Ordinal);
        Assert.Empty(_sink.Received());
    }

    [Fact]
    public async Task Msal_certificate_credential_signs_a_client_assertion_the_server_accepts_and_the_token_delivers()
    {
        using var credential = ClientCertificate("CN=sharepoint-farm certificate credential");
        await _tokens.AddCertificateClientAsync("sharepoint-farm-cert", credential, Mailbox);
        var saved = await SaveCertificateAsync("sharepoint-farm-cert", credential);
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
        Assert.Null(saved.Value.Connection.Authentication.OAuth!.ClientSecret);

        var result = await SendAsync(saved.Value.Connection, "Sent with a certificate credential");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal("Sent with a certificate credential", Assert.Single(_sink.Received()).ToMimeMessage().Subject);
        Assert.Equal(1, _tokens.Introspections);
    }

    [Fact]
    public async Task A_certificate_the_server_does_not_hold_defers_with_invalid_client()
    {
        using var registered = ClientCertificate("CN=uploaded certificate");
        using var other = ClientCertificate("CN=another certificate");
        await _tokens.AddCertificateClientAsync("sharepoint-farm-cert", registered, Mailbox);
        var saved = await SaveCertificateAsync("sharepoint-farm-cert", other);
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());

        var result = await SendAsync(saved.Value.Connection, "Never sent");

        Assert.Equal(DeliveryStage.Authenticate, result.FailedAt);
        var recipient = Assert.Single(result.Recipients);
        Assert.Equal(RecipientOutcome.TransientFailure, recipient.Outcome);
        Assert.Contains("Microsoft Entra ID gave SMTP connection /:m365 no token (invalid_client", recipient.Detail, StringComparison.Ordinal);
        Assert.Empty(_sink.Received());
    }

    [Fact]
    public async Task Console_sign_in_with_microsoft_at_an_oidc_authority_stores_a_refresh_token_msal_redeems_to_deliver()
    {
        // The console's own address, registered at the provider; the browser is only sent there.
        var redirect = new Uri("https://herald.example/connections/signin");
        await _tokens.AddClientAsync("sharepoint-delegated", "delegated-client-secret", Mailbox, redirect);
        var saved = await SaveSignedInAsync("sharepoint-delegated", "delegated-client-secret");
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
        var signIn = _node.GetRequiredService<OAuthSignInService>();

        // What the console's "Sign in with Microsoft" does: the authorization URL from the
        // authority's discovery document; the browser consents and comes back with a code.
        var started = await signIn.BeginAsync(Caller.Operator, ScopePath.Root, "m365", redirect, Ct);
        Assert.True(started.Refusal is null, started.Refusal?.ToString());
        Assert.StartsWith(_tokens.AuthorizationEndpoint + "?", started.Value!.AuthorizationUrl.AbsoluteUri, StringComparison.Ordinal);
        var back = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery((await _tokens.ConsentAsync(started.Value.AuthorizationUrl)).Query);
        Assert.Equal(started.Value.State, back["state"].ToString());
        var done = await signIn.CompleteAsync(Caller.Operator, ScopePath.Root, "m365", redirect, back["code"].ToString(), started.Value.CodeVerifier, Ct);
        Assert.True(done.Refusal is null, done.Refusal?.ToString());

        // MSAL, with the test server as its OpenID Connect authority, redeems the refresh token.
        var stored = await _node.GetRequiredService<ISettingsStore>().GetConnectionAsync(saved.Value.Connection.Id, Ct);
        Assert.NotNull(stored!.Authentication.OAuth!.RefreshToken);
        var result = await SendAsync(stored, "Sent by a mailbox signed in with Microsoft");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal("Sent by a mailbox signed in with Microsoft", Assert.Single(_sink.Received()).ToMimeMessage().Subject);
    }

    [Fact]
    public async Task Device_code_sign_in_at_an_oidc_authority_uses_its_discovered_device_endpoint_and_delivers()
    {
        await _tokens.AddClientAsync("sharepoint-terminal", "terminal-client-secret", Mailbox);
        var saved = await SaveSignedInAsync("sharepoint-terminal", "terminal-client-secret");
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());

        // MSAL has no device code for a generic authority: the issuer's discovery document names the endpoint.
        string? shown = null;
        var signedIn = await _node.GetRequiredService<OAuthSignInService>().SignInWithDeviceCodeAsync(Caller.Operator, ScopePath.Root, "m365", (code, _) =>
        {
            shown = code.VerificationUrl;
            return _tokens.VerifyAsync(code.UserCode);
        }, Ct);

        Assert.True(signedIn.Refusal is null, signedIn.Refusal?.ToString());
        Assert.Equal(new Uri(_tokens.BaseAddress, "connect/verify").AbsoluteUri, shown);
        var stored = await _node.GetRequiredService<ISettingsStore>().GetConnectionAsync(saved.Value.Connection.Id, Ct);
        var result = await SendAsync(stored!, "Signed in from a terminal at an OpenID Connect authority");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal("Signed in from a terminal at an OpenID Connect authority", Assert.Single(_sink.Received()).ToMimeMessage().Subject);
    }

    /// <summary>A Microsoft connection for a signed-in mailbox, not signed in yet, at the test server as authority.</summary>
    private Task<Result<(SmtpConnection Connection, IReadOnlyList<string> Notes)>> SaveSignedInAsync(string clientId, string clientSecret) =>
        _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "m365", true, new ConnectionUpdate
        {
            Host = "127.0.0.1",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = new AuthenticationChange.ToOAuth(Mailbox, new OAuthChange
            {
                Provider = "microsoft",
                Grant = "refresh-token",
                Tenant = "contoso.onmicrosoft.com",
                Authority = _tokens.Issuer,
                ClientId = clientId,
                ClientSecret = clientSecret,
            }),
        }), Ct);

    /// <summary>An app-only connection with a certificate credential instead of a secret.</summary>
    private Task<Result<(SmtpConnection Connection, IReadOnlyList<string> Notes)>> SaveCertificateAsync(string clientId, X509Certificate2 credential) =>
        _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "m365", true, new ConnectionUpdate
        {
            Host = "127.0.0.1",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = new AuthenticationChange.ToOAuth(Mailbox, new OAuthChange
            {
                Provider = "microsoft",
                Tenant = "contoso.onmicrosoft.com",
                Authority = _tokens.Issuer,
                ClientId = clientId,
                ClientCertificate = credential,
            }),
        }), Ct);

    /// <summary>A self-signed RSA certificate with its private key, as one made for an app registration.</summary>
    private static X509Certificate2 ClientCertificate(string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
    }

    /// <summary>An app-only Microsoft 365 connection whose authority is the test server.</summary>
    private Task<Result<(SmtpConnection Connection, IReadOnlyList<string> Notes)>> SaveAsync(string clientSecret) =>
        _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "m365", true, new ConnectionUpdate
        {
            Host = "127.0.0.1",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = new AuthenticationChange.ToOAuth(Mailbox, new OAuthChange
            {
                Provider = "microsoft",
                Tenant = "contoso.onmicrosoft.com",
                Authority = _tokens.Issuer,
                ClientId = "sharepoint-farm",
                ClientSecret = clientSecret,
            }),
        }), Ct);

    private Task<DeliveryResult> SendAsync(SmtpConnection connection, string subject) => OAuthNode.SendAsync(_node, connection, Mailbox, subject);

    /// <summary>A self-signed certificate for 127.0.0.1, as a private authorization server might have.</summary>
    private static X509Certificate2 LoopbackCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        await _database.DisposeAsync();
        _dovecot.Dispose();
        _sink.Dispose();
        await _tokens.DisposeAsync();
        _tls.Dispose();
    }
}
