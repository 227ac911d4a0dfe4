using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Storage.Settings;

/// <summary>A row of <c>smtp_connections</c>; enums are stored by their written names.</summary>
internal sealed class ConnectionRow
{
    public const string Upsert = """
        INSERT INTO smtp_connections (name, owner_scope, short_name, allow_plaintext_auth, host, port, security, username, mechanisms, client_cert_subject,
            client_cert_thumbprint, client_cert_not_after, trust_mode, trust_ca_pem, trust_thumbprint,
            connect_timeout_ms, command_timeout_ms, connection_limit, rate_limit_per_minute, node_tags, oauth, kerberos, ehlo_name, updated_at)
        VALUES (@Name, @OwnerScope, @ShortName, @AllowPlaintextAuth, @Host, @Port, @Security, @Username, @Mechanisms, @ClientCertSubject,
            @ClientCertThumbprint, @ClientCertNotAfter, @TrustMode, @TrustCaPem, @TrustThumbprint,
            @ConnectTimeoutMs, @CommandTimeoutMs, @ConnectionLimit, @RateLimitPerMinute, @NodeTags, @OAuth, @Kerberos, @EhloName, @UpdatedAt)
        ON CONFLICT (name) DO UPDATE SET allow_plaintext_auth = excluded.allow_plaintext_auth, host = excluded.host, port = excluded.port, security = excluded.security,
            username = excluded.username, mechanisms = excluded.mechanisms, client_cert_subject = excluded.client_cert_subject,
            client_cert_thumbprint = excluded.client_cert_thumbprint, client_cert_not_after = excluded.client_cert_not_after,
            trust_mode = excluded.trust_mode, trust_ca_pem = excluded.trust_ca_pem, trust_thumbprint = excluded.trust_thumbprint,
            connect_timeout_ms = excluded.connect_timeout_ms, command_timeout_ms = excluded.command_timeout_ms,
            connection_limit = excluded.connection_limit, rate_limit_per_minute = excluded.rate_limit_per_minute,
            node_tags = excluded.node_tags, oauth = excluded.oauth, kerberos = excluded.kerberos, ehlo_name = excluded.ehlo_name, updated_at = excluded.updated_at
        """;

    /// <summary>The stored identity (<see cref="SmtpConnection.Id"/>).</summary>
    public string Name { get; set; } = "";
    public string OwnerScope { get; set; } = "/";
    /// <summary>Null on a row written by a node of the release before owners: its name then.</summary>
    public string? ShortName { get; set; }
    public long AllowPlaintextAuth { get; set; }
    public string Host { get; set; } = "";
    public long Port { get; set; }
    public string Security { get; set; } = "";
    public string? Username { get; set; }
    public string Mechanisms { get; set; } = "";
    public string? ClientCertSubject { get; set; }
    public string? ClientCertThumbprint { get; set; }
    public long? ClientCertNotAfter { get; set; }
    public string TrustMode { get; set; } = "";
    public string? TrustCaPem { get; set; }
    public string? TrustThumbprint { get; set; }
    public long ConnectTimeoutMs { get; set; }
    public long CommandTimeoutMs { get; set; }
    public long ConnectionLimit { get; set; }
    public long? RateLimitPerMinute { get; set; }
    public string NodeTags { get; set; } = "";
    /// <summary><see cref="OAuthDocument"/> as JSON; null for anonymous and password authentication.</summary>
    public string? OAuth { get; set; }
    /// <summary><see cref="KerberosSettings"/> as JSON; null unless the connection uses Kerberos.</summary>
    public string? Kerberos { get; set; }
    public string? EhloName { get; set; }
    public long UpdatedAt { get; set; }

    public static ConnectionRow From(SmtpConnection c, long now) => new()
    {
        Name = c.Id,
        OwnerScope = c.Owner.Value,
        ShortName = c.Name,
        AllowPlaintextAuth = c.AllowPlaintextAuth ? 1 : 0,
        Host = c.Host,
        Port = c.Port,
        Security = SmtpSecurityNames.Values.NameOf(c.Security),
        Username = c.Authentication.UserName,
        Mechanisms = string.Join(',', c.Authentication.Mechanisms),
        ClientCertSubject = c.ClientCertificate?.Subject,
        ClientCertThumbprint = c.ClientCertificate?.Thumbprint,
        ClientCertNotAfter = c.ClientCertificate?.NotAfter.ToUnixTimeMilliseconds(),
        TrustMode = ServerTrust.ModeNames.NameOf(c.Trust.Mode),
        TrustCaPem = c.Trust.CaPem,
        TrustThumbprint = c.Trust.Thumbprint,
        ConnectTimeoutMs = (long)c.ConnectTimeout.TotalMilliseconds,
        CommandTimeoutMs = (long)c.CommandTimeout.TotalMilliseconds,
        ConnectionLimit = c.ConnectionLimit,
        RateLimitPerMinute = c.RateLimitPerMinute,
        NodeTags = string.Join(',', c.NodeTags),
        OAuth = c.Authentication.OAuth is { } oauth ? OAuthDocument.Write(oauth) : null,
        Kerberos = c.Authentication.Kerberos is { } kerberos ? KerberosDocument.Write(kerberos) : null,
        EhloName = c.EhloName,
        UpdatedAt = now,
    };

    public SmtpConnection ToConnection(EncryptedSecret? password, EncryptedSecret? clientCertificate, Func<string, EncryptedSecret?> secret) => new()
    {
        Id = Name,
        Owner = Scopes.ScopePath.Parse(OwnerScope),
        Name = ShortName ?? Name,
        AllowPlaintextAuth = AllowPlaintextAuth != 0,
        Host = Host,
        Port = (int)Port,
        Security = SmtpSecurityNames.Values.Parse(Security),
        Authentication = Username is null
            ? SmtpAuthentication.Anonymous
            : new SmtpAuthentication(Username, Split(Mechanisms), OAuth is null && Kerberos is null ? password : null)
            {
                OAuth = OAuth is null ? null : OAuthDocument.Read(OAuth, Name, secret),
                Kerberos = Kerberos is null ? null : KerberosDocument.Read(Kerberos),
            },
        ClientCertificate = clientCertificate is null || ClientCertSubject is null
            ? null
            : new StoredClientCertificate(clientCertificate, ClientCertSubject, ClientCertThumbprint ?? "", DateTimeOffset.FromUnixTimeMilliseconds(ClientCertNotAfter ?? 0)),
        Trust = new ServerTrust(ServerTrust.ModeNames.Parse(TrustMode), TrustCaPem, TrustThumbprint),
        ConnectTimeout = TimeSpan.FromMilliseconds(ConnectTimeoutMs),
        CommandTimeout = TimeSpan.FromMilliseconds(CommandTimeoutMs),
        ConnectionLimit = (int)ConnectionLimit,
        RateLimitPerMinute = (int?)RateLimitPerMinute,
        NodeTags = Split(NodeTags),
        EhloName = EhloName,
    };

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>The public part of a connection's OAuth settings, as the <c>oauth</c> column holds it;
/// the secrets are rows of <c>secrets</c>.</summary>
internal sealed record OAuthDocument
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public string Provider { get; init; } = "";
    public string Grant { get; init; } = "";
    public string? Tenant { get; init; }
    public string? Authority { get; init; }
    public string? TokenEndpoint { get; init; }
    public string? AuthorizationEndpoint { get; init; }
    public string? DeviceEndpoint { get; init; }
    public string? ClientId { get; init; }
    public string? Scope { get; init; }
    public string? CertificateSubject { get; init; }
    public string? CertificateThumbprint { get; init; }
    public DateTimeOffset? CertificateNotAfter { get; init; }
    public string? ServiceAccount { get; init; }
    public string? Account { get; init; }
    public DateTimeOffset? SignedInAt { get; init; }

    public static string Write(OAuthSettings o) => System.Text.Json.JsonSerializer.Serialize(new OAuthDocument
    {
        Provider = OAuthNames.Providers.NameOf(o.Provider),
        Grant = OAuthNames.Grants.NameOf(o.Grant),
        Tenant = o.Tenant,
        Authority = o.Authority,
        TokenEndpoint = o.TokenEndpoint,
        AuthorizationEndpoint = o.AuthorizationEndpoint,
        DeviceEndpoint = o.DeviceEndpoint,
        ClientId = o.ClientId,
        Scope = o.Scope,
        CertificateSubject = o.ClientCertificate?.Subject,
        CertificateThumbprint = o.ClientCertificate?.Thumbprint,
        CertificateNotAfter = o.ClientCertificate?.NotAfter,
        ServiceAccount = o.ServiceAccount,
        Account = o.Account,
        SignedInAt = o.SignedInAt,
    }, Json);

    public static OAuthSettings Read(string json, string id, Func<string, EncryptedSecret?> secret)
    {
        var d = System.Text.Json.JsonSerializer.Deserialize<OAuthDocument>(json, Json)!;
        var certificate = secret(SecretNames.OAuthClientCertificate(id));
        return new OAuthSettings
        {
            Provider = OAuthNames.Providers.Parse(d.Provider),
            Grant = OAuthNames.Grants.Parse(d.Grant),
            Tenant = d.Tenant,
            Authority = d.Authority,
            TokenEndpoint = d.TokenEndpoint,
            AuthorizationEndpoint = d.AuthorizationEndpoint,
            DeviceEndpoint = d.DeviceEndpoint,
            ClientId = d.ClientId,
            Scope = d.Scope,
            ClientSecret = secret(SecretNames.OAuthClientSecret(id)),
            ClientCertificate = certificate is null || d.CertificateSubject is null
                ? null
                : new StoredClientCertificate(certificate, d.CertificateSubject, d.CertificateThumbprint ?? "", d.CertificateNotAfter ?? DateTimeOffset.MinValue),
            ServiceAccountKey = secret(SecretNames.OAuthServiceAccountKey(id)),
            ServiceAccount = d.ServiceAccount,
            RefreshToken = secret(SecretNames.OAuthRefreshToken(id)),
            Account = d.Account,
            SignedInAt = d.SignedInAt,
        };
    }
}

/// <summary>A connection's Kerberos settings, as the <c>kerberos</c> column holds them (no secret: the keys stay in their files).</summary>
internal static class KerberosDocument
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Write(KerberosSettings k) => System.Text.Json.JsonSerializer.Serialize(k, Json);

    public static KerberosSettings Read(string json) => System.Text.Json.JsonSerializer.Deserialize<KerberosSettings>(json, Json)!;
}

/// <summary>A row of <c>outgoing_settings</c>; a null column is inherited.</summary>
internal sealed class OutgoingRow
{
    public const string Upsert = """
        INSERT INTO outgoing_settings (scope_path, enabled, connection_name, from_address, from_name, reply_to, charset, impersonation, updated_at)
        VALUES (@ScopePath, @Enabled, @ConnectionName, @FromAddress, @FromName, @ReplyTo, @Charset, @Impersonation, @UpdatedAt)
        ON CONFLICT (scope_path) DO UPDATE SET enabled = excluded.enabled, connection_name = excluded.connection_name,
            from_address = excluded.from_address, from_name = excluded.from_name, reply_to = excluded.reply_to,
            charset = excluded.charset, impersonation = excluded.impersonation, updated_at = excluded.updated_at
        """;

    public string ScopePath { get; set; } = "";
    public long? Enabled { get; set; }
    public string? ConnectionName { get; set; }
    public string? FromAddress { get; set; }
    public string? FromName { get; set; }
    public string? ReplyTo { get; set; }
    public string? Charset { get; set; }
    public string? Impersonation { get; set; }
    public long UpdatedAt { get; set; }

    public static OutgoingRow From(ScopeOutgoingSettings s, long now) => new()
    {
        ScopePath = s.Scope.Value,
        Enabled = s.Enabled is { } enabled ? (enabled ? 1 : 0) : null,
        ConnectionName = s.ConnectionId,
        FromAddress = s.FromAddress?.Value,
        FromName = s.FromName,
        ReplyTo = s.ReplyTo?.Value,
        Charset = s.Charset,
        Impersonation = s.Impersonation is { } policy ? ImpersonationPolicyNames.Values.NameOf(policy) : null,
        UpdatedAt = now,
    };

    public ScopeOutgoingSettings ToSettings() => new(Scopes.ScopePath.Parse(ScopePath))
    {
        Enabled = Enabled is { } enabled ? enabled != 0 : null,
        ConnectionId = ConnectionName,
        FromAddress = FromAddress is null ? null : EmailAddress.Parse(FromAddress),
        FromName = FromName,
        ReplyTo = ReplyTo is null ? null : EmailAddress.Parse(ReplyTo),
        Charset = Charset,
        Impersonation = Impersonation is null ? null : ImpersonationPolicyNames.Values.Parse(Impersonation),
    };
}
