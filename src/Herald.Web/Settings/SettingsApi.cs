using System.Security.Cryptography.X509Certificates;
using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Settings;

/// <summary>
/// <c>/api/v1/settings/outgoing</c> (a scope's outgoing email settings, the SharePoint form),
/// <c>/api/v1/connections</c> (SMTP connections, each owned by a scope) and the test email. The
/// handlers translate JSON to <see cref="OutgoingSettingsService"/>'s use cases and back; every
/// decision (who may, what is valid) is the service's.
/// </summary>
public static class SettingsApi
{
    public static RouteGroupBuilder MapSettingsApi(this RouteGroupBuilder api)
    {
        var settings = api.MapGroup("/settings").WithTags("Settings");
        settings.MapGet("/outgoing", GetAsync).WithName("getOutgoingSettings").WithSummary("Get a scope's outgoing email settings")
            .WithDescription("Effective outgoing email settings of a scope; secrets only as 'set'.");
        settings.MapPut("/outgoing", PutAsync).WithName("putOutgoingSettings").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Change a scope's outgoing email settings")
            .WithDescription("Change a scope's outgoing email settings (and its connection); fields left out keep their values.");
        settings.MapGet("/public-url", GetPublicUrlAsync).WithName("getPublicUrl").WithSummary("Get the public URL")
            .WithDescription("The address links in mail start with, and where it comes from.");
        settings.MapPut("/public-url", PutPublicUrlAsync).WithName("putPublicUrl").WithSummary("Set the public URL")
            .WithDescription("Store the address links in mail start with, for every node (administrators of / only); empty removes it.");
        settings.MapPost("/test-email", TestAsync).WithName("sendTestEmail").WithSummary("Send a test email")
            .WithDescription("Send a test email through a scope's settings now and report the SMTP outcome.");

        var connections = api.MapGroup("/connections").WithTags("Settings");
        connections.MapGet("/", ListConnectionsAsync).WithName("listConnections").WithSummary("List SMTP connections")
            .WithDescription("SMTP connections of the scopes this key administers and of the scopes above them.");
        connections.MapGet("/{name}", GetConnectionAsync).WithName("getConnection").WithSummary("Get an SMTP connection")
            .WithDescription("One SMTP connection, owned by ?scope= (default /); secrets only as 'set'.");
        connections.MapPut("/{name}", PutConnectionAsync).WithName("putConnection").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Add or change an SMTP connection")
            .WithDescription("Add or change the SMTP connection {name} owned by ?scope=; fields left out keep their values.");
        connections.MapDelete("/{name}", DeleteConnectionAsync).WithName("deleteConnection").ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Delete an SMTP connection")
            .WithDescription("Delete an SMTP connection that no scope uses.");
        return api;
    }

    /// <summary>The fields of an SMTP connection; null keeps the stored value. Secrets are write-only.</summary>
    public record ConnectionRequest
    {
        public string? Server { get; init; }
        public int? Port { get; init; }
        public string? Security { get; init; }

        /// <summary><c>anonymous</c> (removes stored credentials), <c>any</c>, or mechanisms separated by commas.</summary>
        public string? Auth { get; init; }
        public string? Username { get; init; }
        public string? Password { get; init; }

        /// <summary>PEM text with the certificate and its private key, base64 of a PKCS#12 file
        /// without a password, or <c>none</c> to remove it.</summary>
        public string? ClientCertificate { get; init; }

        /// <summary>PEM of the CA that must issue the server's certificate, or <c>system</c>.</summary>
        public string? TrustCa { get; init; }

        /// <summary>SHA-256 thumbprint of the one server certificate to accept.</summary>
        public string? TrustThumbprint { get; init; }
        public int? ConnectTimeoutSeconds { get; init; }
        public int? CommandTimeoutSeconds { get; init; }
        public int? ConnectionLimit { get; init; }
        public int? RateLimitPerMinute { get; init; }
        public IReadOnlyList<string>? NodeTags { get; init; }

        /// <summary>The fully qualified name Herald greets the server with (EHLO); empty returns to the automatic name.</summary>
        public string? EhloName { get; init; }
        public bool? AllowPlaintextAuth { get; init; }

        /// <summary>OAuth 2.0 settings, with <c>auth: "oauth2"</c>; null fields keep their values.</summary>
        public OAuthRequest? OAuth { get; init; }

        /// <summary>Kerberos settings (realm, keytab or credentialCache, servicePrincipal), with
        /// <c>auth: "kerberos"</c> and the service account's principal as the user name; null fields keep their values.</summary>
        public KerberosChange? Kerberos { get; init; }

        // The password and the key never appear in a log line or exception message.
        public override string ToString() =>
            $"{GetType().Name} for {Server}, password {(Password is null ? "unchanged" : "given")}, client certificate {(ClientCertificate is null ? "unchanged" : "given")}";
    }

    /// <summary>A connection's OAuth 2.0 fields as the API takes them; secrets are write-only.</summary>
    public sealed record OAuthRequest
    {
        /// <summary><c>microsoft</c>, <c>google</c> or <c>generic</c>.</summary>
        public string? Provider { get; init; }

        /// <summary><c>client-credentials</c> or <c>refresh-token</c>.</summary>
        public string? Grant { get; init; }
        public string? Tenant { get; init; }
        public string? Authority { get; init; }
        public string? TokenEndpoint { get; init; }
        public string? AuthorizationEndpoint { get; init; }
        public string? DeviceEndpoint { get; init; }
        public string? ClientId { get; init; }
        public string? Scope { get; init; }

        /// <summary>XOAUTH2, OAUTHBEARER, or both (empty: whichever the server offers).</summary>
        public IReadOnlyList<string>? Mechanisms { get; init; }
        public string? ClientSecret { get; init; }

        /// <summary>Microsoft: PEM text with the certificate and its key, or base64 of a PKCS#12 file.</summary>
        public string? ClientCertificate { get; init; }

        /// <summary>Google: the service account's JSON key, as text.</summary>
        public string? ServiceAccountKey { get; init; }
        public string? RefreshToken { get; init; }

        public override string ToString() =>
            $"OAuth {Provider}, client secret {(ClientSecret is null ? "unchanged" : "given")}, refresh token {(RefreshToken is null ? "unchanged" : "given")}";
    }

    /// <summary>A scope's settings and, in the same step, the connection it uses (named by
    /// <see cref="Connection"/>: <c>smarthost</c> or <c>/hr:smarthost</c>).</summary>
    public sealed record OutgoingSettingsRequest : ConnectionRequest
    {
        public string? Connection { get; init; }

        /// <summary>Whether the scope sends email. Turned off (false): notifications are dropped;
        /// queued messages wait until email is turned back on.</summary>
        public bool? Enabled { get; init; }

        public string? From { get; init; }
        public string? FromName { get; init; }
        public string? ReplyTo { get; init; }
        public string? Charset { get; init; }
        public string? Impersonation { get; init; }
    }

    public sealed record TestEmailRequest(IReadOnlyList<string>? To, string? Subject, string? Body);

    public sealed record SettingView(object? Value, string? DefinedAt);

    public sealed record ClientCertificateView(string Subject, string Thumbprint, DateTimeOffset NotAfter);

    public sealed record ConnectionView(
        string Name, string Owner, string Qualified, string Host, int Port, string Security, string Authentication, string? Username, bool PasswordSet,
        ClientCertificateView? ClientCertificate, string Trust, string? TrustThumbprint, int ConnectTimeoutSeconds, int CommandTimeoutSeconds,
        int ConnectionLimit, int? RateLimitPerMinute, IReadOnlyList<string> NodeTags, bool AllowPlaintextAuth,
        IReadOnlyList<string>? UsedBy = null, bool? Editable = null, OAuthView? OAuth = null, KerberosView? Kerberos = null, string? EhloName = null)
    {
        public static ConnectionView From(SmtpConnection c, ConnectionListing? listing = null) => new(
            c.Name, c.Owner.Value, c.Qualified, c.Host, c.Port, SmtpSecurityNames.Values.NameOf(c.Security),
            c.Authentication.IsAnonymous ? "anonymous" : c.Authentication.OAuth is not null ? AuthenticationChange.OAuth2
                : c.Authentication.Kerberos is not null ? AuthenticationChange.KerberosAuth : c.Authentication.Mechanisms.Count == 0 ? "any" : string.Join(",", c.Authentication.Mechanisms),
            c.Authentication.UserName, c.Authentication.Password is not null,
            c.ClientCertificate is { } cert ? new ClientCertificateView(cert.Subject, cert.Thumbprint, cert.NotAfter) : null,
            ServerTrust.ModeNames.NameOf(c.Trust.Mode), c.Trust.Thumbprint, (int)c.ConnectTimeout.TotalSeconds, (int)c.CommandTimeout.TotalSeconds,
            c.ConnectionLimit, c.RateLimitPerMinute, c.NodeTags, c.AllowPlaintextAuth,
            listing?.UsedBy.Select(s => s.Value).ToArray(), listing?.Editable,
            c.Authentication.OAuth is { } oauth ? OAuthView.From(oauth, c.Authentication.Mechanisms) : null,
            c.Authentication.Kerberos is { } kerberos ? KerberosView.From(kerberos, c) : null,
            c.EhloName);
    }

    /// <summary>A connection's Kerberos settings: whose tickets, from where, for which service.</summary>
    public sealed record KerberosView(string Principal, string Realm, string ServicePrincipal, bool ServicePrincipalIsDefault, string? Keytab, string? CredentialCache)
    {
        public static KerberosView From(KerberosSettings k, SmtpConnection c) => new(
            k.ClientPrincipal(c.Authentication.UserName!), k.Realm, k.QualifiedServicePrincipal(c.Host), k.ServicePrincipal is null, k.Keytab, k.CredentialCache);
    }

    /// <summary>A connection's OAuth 2.0 settings; each secret only as whether it is set.</summary>
    public sealed record OAuthView(
        string Provider, string Grant, string? Tenant, string? Authority, string? TokenEndpoint, string? AuthorizationEndpoint, string? DeviceEndpoint,
        string? ClientId, string Scope, IReadOnlyList<string> Mechanisms, bool ClientSecretSet, ClientCertificateView? ClientCertificate,
        string? ServiceAccount, bool RefreshTokenSet, string? Account, DateTimeOffset? SignedInAt)
    {
        public static OAuthView From(OAuthSettings o, IReadOnlyList<string> mechanisms) => new(
            OAuthNames.Providers.NameOf(o.Provider), OAuthNames.Grants.NameOf(o.Grant), o.Tenant,
            o.Provider == OAuthProvider.Microsoft ? o.EffectiveAuthority : null, o.TokenEndpoint, o.AuthorizationEndpoint, o.DeviceEndpoint,
            o.ClientId, o.EffectiveScope, mechanisms, o.ClientSecret is not null,
            o.ClientCertificate is { } cert ? new ClientCertificateView(cert.Subject, cert.Thumbprint, cert.NotAfter) : null,
            o.ServiceAccount, o.RefreshToken is not null, o.Account, o.SignedInAt);
    }

    public sealed record OutgoingSettingsView(string Scope, IReadOnlyDictionary<string, SettingView> Settings, ConnectionView? Connection, IReadOnlyList<string>? Notes = null);

    public sealed record SavedConnectionView(ConnectionView Connection, IReadOnlyList<string> Notes);

    public sealed record TestEmailView(bool Sent, string? Problem, string? Connection, string? FailedAt, IReadOnlyList<TestRecipientView> Recipients, string? Transcript);

    public sealed record TestRecipientView(string Address, string Outcome, string Detail);

    private static async Task<Results<Ok<OutgoingSettingsView>, ProblemHttpResult>> GetAsync(
        HttpContext context, string? scope, OutgoingSettingsService service)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var target, out var error))
        {
            return ApiResults.Refused(Refusal.Invalid("scope", error));
        }

        var view = await service.GetAsync(context.Caller(), target, context.RequestAborted).ConfigureAwait(false);
        return view.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(View(view.Value!));
    }

    private static async Task<Results<Ok<OutgoingSettingsView>, ProblemHttpResult>> PutAsync(
        HttpContext context, string? scope, OutgoingSettingsRequest request, OutgoingSettingsService service)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var target, out var error))
        {
            return ApiResults.Refused(Refusal.Invalid("scope", error));
        }

        var errors = new List<FieldError>();
        var update = new OutgoingSettingsUpdate(target)
        {
            Connection = request.Connection,
            ConnectionChange = ConnectionChange(request, errors),
            Enabled = request.Enabled,
            FromAddress = request.From,
            FromName = request.FromName,
            ReplyTo = request.ReplyTo,
            Charset = request.Charset,
            Impersonation = request.Impersonation,
        };
        if (errors.Count > 0)
        {
            return ApiResults.Refused(Refusal.Invalid(errors, "The settings are not valid. Nothing was saved."));
        }

        var caller = context.Caller();
        var saved = await service.ApplyAsync(caller, update, context.RequestAborted).ConfigureAwait(false);
        if (saved.Refusal is { } refusal)
        {
            return ApiResults.Refused(refusal);
        }

        var view = await service.GetAsync(caller, target, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(View(view.Value!) with { Notes = saved.Value!.Notes });
    }

    private static async Task<Results<Ok<TestEmailView>, ProblemHttpResult>> TestAsync(
        HttpContext context, string? scope, TestEmailRequest request, TestEmailService tester)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var target, out var error))
        {
            return ApiResults.Refused(Refusal.Invalid("scope", error));
        }

        var to = new List<EmailAddress>();
        foreach (var (text, i) in (request.To ?? []).Take(11).Select((t, i) => (t, i)))
        {
            if (!EmailAddress.TryParse(text, out var address, out var addressError))
            {
                return ApiResults.Refused(Refusal.Invalid($"to[{i}]", addressError));
            }

            to.Add(address);
        }

        var outcome = await tester.SendAsync(context.Caller(), target, to, request.Subject ?? "Herald test email", request.Body ?? "This is a test email sent by Herald.", context.RequestAborted).ConfigureAwait(false);
        if (outcome.Refusal is { } refusal)
        {
            return ApiResults.Refused(refusal);
        }

        var o = outcome.Value!;
        return TypedResults.Ok(new TestEmailView(
            o.Result?.AllSent == true,
            o.Problem ?? o.Result?.Failure,
            o.Connection?.Qualified,
            o.Result?.FailedAt?.ToString(),
            o.Result?.Recipients.Select(r => new TestRecipientView(r.Address, r.Outcome.ToString(), r.Reply?.ToString() ?? r.Detail)).ToArray() ?? [],
            o.Result?.Transcript));
    }

    public sealed record PublicUrlRequest(string? PublicUrl);

    public sealed record PublicUrlResponse(string PublicUrl, string Source, string? Warning)
    {
        public static PublicUrlResponse From(PublicUrlView v) => new(v.Url, v.Source == PublicUrlSource.Stored ? "stored" : "node", v.Warning);
    }

    private static async Task<Results<Ok<PublicUrlResponse>, ProblemHttpResult>> GetPublicUrlAsync(HttpContext context, PublicUrlService service)
    {
        var view = await service.ShowAsync(context.Caller(), context.RequestAborted).ConfigureAwait(false);
        return view.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(PublicUrlResponse.From(view.Value!));
    }

    private static async Task<Results<Ok<PublicUrlResponse>, ProblemHttpResult>> PutPublicUrlAsync(HttpContext context, PublicUrlRequest request, PublicUrlService service)
    {
        var set = await service.SetAsync(context.Caller(), request.PublicUrl, context.RequestAborted).ConfigureAwait(false);
        return set.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(PublicUrlResponse.From(set.Value!));
    }

    private static async Task<Results<Ok<ConnectionView[]>, ProblemHttpResult>> ListConnectionsAsync(HttpContext context, OutgoingSettingsService service)
    {
        var listed = await service.ListConnectionsAsync(context.Caller(), context.RequestAborted).ConfigureAwait(false);
        return listed.Refusal is { } refusal
            ? ApiResults.Refused(refusal)
            : TypedResults.Ok(listed.Value!.Select(l => ConnectionView.From(l.Connection, l)).ToArray());
    }

    private static async Task<Results<Ok<ConnectionView>, ProblemHttpResult>> GetConnectionAsync(
        HttpContext context, string name, string? scope, OutgoingSettingsService service)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var owner, out var error))
        {
            return ApiResults.Refused(Refusal.Invalid("scope", error));
        }

        var found = await service.GetConnectionAsync(context.Caller(), owner, name, context.RequestAborted).ConfigureAwait(false);
        return found.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(ConnectionView.From(found.Value!.Connection, found.Value));
    }

    private static async Task<Results<Ok<SavedConnectionView>, ProblemHttpResult>> PutConnectionAsync(
        HttpContext context, string name, string? scope, ConnectionRequest request, OutgoingSettingsService service)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var owner, out var error))
        {
            return ApiResults.Refused(Refusal.Invalid("scope", error));
        }

        var errors = new List<FieldError>();
        var change = ConnectionChange(request, errors);
        if (errors.Count > 0)
        {
            return ApiResults.Refused(Refusal.Invalid(errors, "The connection is not valid. Nothing was saved."));
        }

        var saved = await service.SaveConnectionAsync(context.Caller(), new ConnectionSave(owner, name, IsNew: null, change), context.RequestAborted).ConfigureAwait(false);
        return saved.Refusal is { } refusal
            ? ApiResults.Refused(refusal)
            : TypedResults.Ok(new SavedConnectionView(ConnectionView.From(saved.Value.Connection), saved.Value.Notes));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteConnectionAsync(
        HttpContext context, string name, string? scope, OutgoingSettingsService service)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var owner, out var error))
        {
            return ApiResults.Refused(Refusal.Invalid("scope", error));
        }

        var refusal = await service.DeleteConnectionAsync(context.Caller(), owner, name, context.RequestAborted).ConfigureAwait(false);
        return refusal is null ? TypedResults.NoContent() : ApiResults.Refused(refusal);
    }

    /// <summary>The request's connection fields as a change; what cannot even be read (a certificate
    /// that is not PEM or PKCS#12) is named in <paramref name="errors"/>.</summary>
    private static ConnectionUpdate ConnectionChange(ConnectionRequest request, List<FieldError> errors)
    {
        var authentication = AuthenticationChange.FromWords(request.Auth, request.Username, request.Password, out var authError, OAuthChangeFrom(request.OAuth, errors), request.Kerberos);
        if (authError is not null)
        {
            errors.Add(new("auth", authError));
        }

        ClientCertificateChange? certificate = null;
        if (request.ClientCertificate is { } text)
        {
            certificate = ClientCertificateFrom(text, errors);
        }

        ServerTrust? trust = null;
        if (request.TrustCa is not null && request.TrustThumbprint is not null)
        {
            errors.Add(new("trustCa", "Give either trustCa or trustThumbprint, not both."));
        }
        else if (string.Equals(request.TrustCa?.Trim(), "system", StringComparison.OrdinalIgnoreCase))
        {
            trust = ServerTrust.System;
        }
        else if (request.TrustCa is { } pem)
        {
            trust = ServerTrusts.TryPinCa(pem, "trustCa", out var pinned, out var trustError) ? pinned : null;
            if (trustError is not null)
            {
                errors.Add(new("trustCa", trustError));
            }
        }
        else if (request.TrustThumbprint is { } thumbprint)
        {
            trust = ServerTrusts.TryPinThumbprint(thumbprint, out var pinned, out var trustError) ? pinned : null;
            if (trustError is not null)
            {
                errors.Add(new("trustThumbprint", trustError));
            }
        }

        return new ConnectionUpdate
        {
            Host = request.Server,
            Port = request.Port,
            Security = request.Security,
            Authentication = authentication,
            ClientCertificate = certificate,
            Trust = trust,
            ConnectTimeout = request.ConnectTimeoutSeconds is { } connect ? TimeSpan.FromSeconds(connect) : null,
            CommandTimeout = request.CommandTimeoutSeconds is { } command ? TimeSpan.FromSeconds(command) : null,
            ConnectionLimit = request.ConnectionLimit,
            RateLimitPerMinute = request.RateLimitPerMinute,
            NodeTags = request.NodeTags,
            EhloName = request.EhloName,
            AllowPlaintextAuth = request.AllowPlaintextAuth,
        };
    }

    private static OAuthChange? OAuthChangeFrom(OAuthRequest? o, List<FieldError> errors)
    {
        if (o is null)
        {
            return null;
        }

        X509Certificate2? certificate = null;
        if (o.ClientCertificate is { } text)
        {
            certificate = CertificateFrom(text, "oauthCertificate", errors);
        }

        return new OAuthChange
        {
            Provider = o.Provider,
            Grant = o.Grant,
            Tenant = o.Tenant,
            Authority = o.Authority,
            TokenEndpoint = o.TokenEndpoint,
            AuthorizationEndpoint = o.AuthorizationEndpoint,
            DeviceEndpoint = o.DeviceEndpoint,
            ClientId = o.ClientId,
            Scope = o.Scope,
            Mechanisms = o.Mechanisms,
            ClientSecret = o.ClientSecret,
            ClientCertificate = certificate,
            ServiceAccountKey = o.ServiceAccountKey,
            RefreshToken = o.RefreshToken,
        };
    }

    private static ClientCertificateChange? ClientCertificateFrom(string text, List<FieldError> errors)
    {
        if (string.Equals(text.Trim(), "none", StringComparison.OrdinalIgnoreCase))
        {
            return new ClientCertificateChange.Remove();
        }

        return CertificateFrom(text, "clientCertificate", errors) is { } certificate ? new ClientCertificateChange.Replace(certificate) : null;
    }

    /// <summary>A certificate with its key from PEM text or base64 of a PKCS#12 file.</summary>
    private static X509Certificate2? CertificateFrom(string text, string field, List<FieldError> errors)
    {
        byte[] bytes;
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            bytes = System.Text.Encoding.ASCII.GetBytes(text);
        }
        else
        {
            try
            {
                bytes = Convert.FromBase64String(text.Trim());
            }
            catch (FormatException)
            {
                errors.Add(new(field, "The certificate is neither PEM text nor base64 of a PKCS#12 file."));
                return null;
            }
        }

        if (!ClientCertificates.TryLoad(bytes, field, out var certificate, out var error))
        {
            errors.Add(new(field, error));
            return null;
        }

        return certificate;
    }

    private static OutgoingSettingsView View(Herald.Settings.OutgoingSettingsView view)
    {
        var effective = view.Effective;
        static SettingView Of<T>(Setting<T> setting, Func<T, object?>? shape = null) =>
            new(shape is null ? setting.Value : shape(setting.Value), setting.DefinedAt?.Value);

        var settings = new Dictionary<string, SettingView>
        {
            ["enabled"] = Of(effective.Enabled),
            ["connection"] = new(view.Connection?.Qualified ?? effective.ConnectionId.Value, effective.ConnectionId.DefinedAt?.Value),
            ["from"] = Of(effective.FromAddress, a => a?.Value),
            ["fromName"] = Of(effective.FromName),
            ["replyTo"] = Of(effective.ReplyTo, a => a?.Value),
            ["charset"] = Of(effective.Charset),
            ["impersonation"] = Of(effective.Impersonation, ImpersonationPolicyNames.Values.NameOf),
        };

        return new OutgoingSettingsView(effective.Scope.Value, settings, view.Connection is { } c ? ConnectionView.From(c) : null);
    }
}
