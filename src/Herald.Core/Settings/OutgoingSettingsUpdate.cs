using System.Security.Cryptography.X509Certificates;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>
/// A change to one SMTP connection, as an administrator states it: every null field keeps what is
/// stored (or the default, for a new connection). Values arrive as written so that validation can
/// name the field that is wrong.
/// </summary>
public sealed record ConnectionUpdate
{
    public static readonly ConnectionUpdate None = new();

    public string? Host { get; init; }

    public int? Port { get; init; }

    public string? Security { get; init; }

    public AuthenticationChange? Authentication { get; init; }

    public ClientCertificateChange? ClientCertificate { get; init; }

    public ServerTrust? Trust { get; init; }

    public TimeSpan? ConnectTimeout { get; init; }

    public TimeSpan? CommandTimeout { get; init; }

    public int? ConnectionLimit { get; init; }

    /// <summary>Messages per minute; 0 removes the limit.</summary>
    public int? RateLimitPerMinute { get; init; }

    public IReadOnlyList<string>? NodeTags { get; init; }

    /// <summary>See <see cref="SmtpConnection.EhloName"/>; empty returns to the automatic name.</summary>
    public string? EhloName { get; init; }

    /// <summary>See <see cref="SmtpConnection.AllowPlaintextAuth"/>.</summary>
    public bool? AllowPlaintextAuth { get; init; }

    public bool IsEmpty => this == None;
}

/// <summary>
/// A change to a scope's outgoing email settings (the SharePoint form), as an administrator states
/// it: every null field keeps what is stored. <see cref="ConnectionChange"/> changes the
/// connection the scope uses in the same step, as the form and <c>herald smtp set</c> do.
/// </summary>
public sealed record OutgoingSettingsUpdate(ScopePath Scope)
{
    /// <summary>The SMTP connection the scope is to use, as a <see cref="ConnectionReference"/>
    /// (<c>smarthost</c> or <c>/hr:smarthost</c>). Null: the one the scope's own settings name;
    /// with <see cref="ConnectionChange"/> and none named, the scope's own <c>default</c>.</summary>
    public string? Connection { get; init; }

    public ConnectionUpdate ConnectionChange { get; init; } = ConnectionUpdate.None;

    public bool? Enabled { get; init; }

    public string? FromAddress { get; init; }

    public string? FromName { get; init; }

    public string? ReplyTo { get; init; }

    public string? Charset { get; init; }

    public string? Impersonation { get; init; }
}

/// <summary>Anonymous removes any stored credentials; SASL and OAuth change only what they name.</summary>
public abstract record AuthenticationChange
{
    /// <summary>The written name of OAuth 2.0 authentication (<c>--auth oauth2</c>).</summary>
    public const string OAuth2 = "oauth2";

    /// <summary>The written name of Kerberos authentication (<c>--auth kerberos</c>; <c>gssapi</c> alone says the same).</summary>
    public const string KerberosAuth = "kerberos";

    /// <summary>The change an administrator asks for in words, as the CLI and the API take it:
    /// <c>anonymous</c>, <c>any</c>, <c>oauth2</c> (with <paramref name="oauth"/>'s fields),
    /// <c>kerberos</c> or <c>gssapi</c> (with <paramref name="kerberos"/>'s fields), or a
    /// comma-separated list of mechanisms, with an optional user name and password; null when
    /// nothing about authentication was said.</summary>
    public static AuthenticationChange? FromWords(string? auth, string? userName, string? password, out string? error, OAuthChange? oauth = null, KerberosChange? kerberos = null)
    {
        error = null;
        if (string.Equals(auth?.Trim(), "anonymous", StringComparison.OrdinalIgnoreCase))
        {
            if (userName is not null || password is not null || oauth is not null || kerberos is not null)
            {
                error = "Anonymous authentication cannot be combined with a user name, password, OAuth or Kerberos settings.";
            }

            return new ToAnonymous();
        }

        if (string.Equals(auth?.Trim(), KerberosAuth, StringComparison.OrdinalIgnoreCase) || string.Equals(auth?.Trim(), "gssapi", StringComparison.OrdinalIgnoreCase)
            || (kerberos is not null && auth is null))
        {
            if (password is not null || oauth is not null)
            {
                error = "Kerberos authenticates with the service account's keytab or credential cache, not a password or OAuth settings: leave them out.";
            }

            return new ToKerberos(userName, kerberos ?? new KerberosChange());
        }

        if (kerberos is not null)
        {
            error = "The keytab, credential cache, realm and service principal belong to Kerberos: use them with --auth kerberos.";
        }

        if (string.Equals(auth?.Trim(), OAuth2, StringComparison.OrdinalIgnoreCase) || oauth is not null)
        {
            if (password is not null)
            {
                error = "OAuth 2.0 authenticates with a token, not a password: leave the password out (the client secret is --client-secret-stdin).";
            }

            return new ToOAuth(userName, oauth ?? new OAuthChange());
        }

        if (auth is null && userName is null && password is null)
        {
            return null;
        }

        IReadOnlyList<string>? mechanisms = auth is null ? null
            : string.Equals(auth.Trim(), "any", StringComparison.OrdinalIgnoreCase) ? []
            : auth.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new ToSasl(userName, password, mechanisms);
    }

    public sealed record ToAnonymous : AuthenticationChange;

    public sealed record ToSasl(string? UserName, string? Password, IReadOnlyList<string>? Mechanisms) : AuthenticationChange
    {
        // The password never appears in a log line or exception message.
        public override string ToString() => $"SASL (user {UserName ?? "unchanged"}, password {(Password is null ? "unchanged" : "set")})";
    }

    /// <summary>OAuth 2.0 for the mailbox <paramref name="UserName"/> (null: unchanged).</summary>
    public sealed record ToOAuth(string? UserName, OAuthChange OAuth) : AuthenticationChange;

    /// <summary>Kerberos (GSSAPI) as the client principal <paramref name="UserName"/> (null: unchanged).</summary>
    public sealed record ToKerberos(string? UserName, KerberosChange Kerberos) : AuthenticationChange;
}

/// <summary>A change to a connection's Kerberos settings as written: every null field keeps what
/// is stored; an empty service principal returns to <c>SMTPSVC/host</c>. A keytab replaces a
/// credential cache and the other way round. No field is a secret (the keytab stays in its file).</summary>
public sealed record KerberosChange
{
    public string? Realm { get; init; }

    public string? Keytab { get; init; }

    public string? CredentialCache { get; init; }

    public string? ServicePrincipal { get; init; }
}

/// <summary>
/// A change to a connection's OAuth 2.0 settings as written: every null field keeps what is stored.
/// Secrets arrive in plaintext and are sealed by the use case; none of them is ever printed.
/// </summary>
public sealed record OAuthChange
{
    public string? Provider { get; init; }

    public string? Grant { get; init; }

    public string? Tenant { get; init; }

    public string? Authority { get; init; }

    public string? TokenEndpoint { get; init; }

    public string? AuthorizationEndpoint { get; init; }

    public string? DeviceEndpoint { get; init; }

    public string? ClientId { get; init; }

    /// <summary>The scope to ask for; an empty string returns to the provider's default.</summary>
    public string? Scope { get; init; }

    /// <summary>The SASL mechanisms allowed (XOAUTH2, OAUTHBEARER; empty: either).</summary>
    public IReadOnlyList<string>? Mechanisms { get; init; }

    public string? ClientSecret { get; init; }

    /// <summary>Microsoft: a certificate credential with its private key; replaces a client secret.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>Google: the service account's JSON key.</summary>
    public string? ServiceAccountKey { get; init; }

    /// <summary>A refresh token obtained elsewhere, or left by a sign-in.</summary>
    public string? RefreshToken { get; init; }

    /// <summary>Set by a sign-in only: whose refresh token it is.</summary>
    public string? Account { get; init; }

    // No secret in a log line or exception message.
    public override string ToString() =>
        $"OAuth ({Provider ?? "provider unchanged"}; secret {(ClientSecret is null ? "unchanged" : "set")}, refresh token {(RefreshToken is null ? "unchanged" : "set")})";
}

public abstract record ClientCertificateChange
{
    public sealed record Remove : ClientCertificateChange;

    public sealed record Replace(X509Certificate2 Certificate) : ClientCertificateChange;
}
