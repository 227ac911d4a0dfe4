using Herald.Credentials;

namespace Herald.Settings;

/// <summary>Who issues a connection's OAuth 2.0 access tokens, each through its own library.</summary>
public enum OAuthProvider
{
    /// <summary>Microsoft Entra ID (Microsoft 365, Exchange Online), through MSAL.</summary>
    Microsoft,

    /// <summary>Google Workspace, through Google.Apis.Auth.</summary>
    Google,

    /// <summary>Any OAuth 2.0 authorization server with a token endpoint.</summary>
    Generic,
}

/// <summary>How a connection gets its tokens.</summary>
public enum OAuthGrant
{
    /// <summary>The application itself (Microsoft's app-only access, a Google service account,
    /// a generic client's client_credentials): no person, no browser.</summary>
    ClientCredentials,

    /// <summary>A refresh token that an administrator's sign-in (console or device code) left.</summary>
    RefreshToken,
}

public static class OAuthNames
{
    public static readonly NamedValues<OAuthProvider> Providers = new(
        (OAuthProvider.Microsoft, "microsoft"),
        (OAuthProvider.Google, "google"),
        (OAuthProvider.Generic, "generic"));

    public static readonly NamedValues<OAuthGrant> Grants = new(
        (OAuthGrant.ClientCredentials, "client-credentials"),
        (OAuthGrant.RefreshToken, "refresh-token"));

    /// <summary>Microsoft's public cloud; national clouds have their own (login.microsoftonline.us, login.chinacloudapi.cn).</summary>
    public const string MicrosoftAuthority = "https://login.microsoftonline.com";

    /// <summary>App-only access to Exchange Online's SMTP (the SMTP.SendAsApp permission).</summary>
    public const string MicrosoftAppScope = "https://outlook.office365.com/.default";

    /// <summary>Delegated access to Exchange Online's SMTP for a signed-in mailbox.</summary>
    public const string MicrosoftDelegatedScope = "https://outlook.office.com/SMTP.Send offline_access";

    public const string GoogleScope = "https://mail.google.com/";

    /// <summary>The SASL mechanisms that carry a bearer token.</summary>
    public static readonly IReadOnlyList<string> Mechanisms = ["XOAUTH2", "OAUTHBEARER"];
}

/// <summary>
/// How an SMTP connection gets OAuth 2.0 access tokens: the provider's public settings and its
/// sealed secrets (a client secret, a client certificate, a Google service-account key, or the
/// refresh token a sign-in left). The mailbox the token is for is the connection's user name.
/// </summary>
public sealed record OAuthSettings
{
    public required OAuthProvider Provider { get; init; }

    public OAuthGrant Grant { get; init; } = OAuthGrant.ClientCredentials;

    /// <summary>Microsoft: the directory (tenant) id or domain.</summary>
    public string? Tenant { get; init; }

    /// <summary>Microsoft: the cloud's authority host (<see cref="OAuthNames.MicrosoftAuthority"/>
    /// unless a national cloud's).</summary>
    public string? Authority { get; init; }

    /// <summary>Generic: where tokens are requested.</summary>
    public string? TokenEndpoint { get; init; }

    /// <summary>Generic: where an administrator signs in (authorization code with PKCE).</summary>
    public string? AuthorizationEndpoint { get; init; }

    /// <summary>Generic: RFC 8628 device authorization, for signing in from the CLI.</summary>
    public string? DeviceEndpoint { get; init; }

    public string? ClientId { get; init; }

    /// <summary>What the token is requested for; null for the provider's default.</summary>
    public string? Scope { get; init; }

    public EncryptedSecret? ClientSecret { get; init; }

    /// <summary>Microsoft: a certificate credential instead of a secret (its key sealed as PKCS#12).</summary>
    public StoredClientCertificate? ClientCertificate { get; init; }

    /// <summary>Google: the service account's JSON key, sealed.</summary>
    public EncryptedSecret? ServiceAccountKey { get; init; }

    /// <summary>Google: the service account's address, read from its key (public).</summary>
    public string? ServiceAccount { get; init; }

    /// <summary>The sealed refresh token (for Microsoft, MSAL's serialized token cache that holds it).</summary>
    public EncryptedSecret? RefreshToken { get; init; }

    /// <summary>Whose refresh token it is: the account that signed in.</summary>
    public string? Account { get; init; }

    public DateTimeOffset? SignedInAt { get; init; }

    /// <summary>The scope the provider is asked for.</summary>
    public string EffectiveScope => Scope ?? (Provider, Grant) switch
    {
        (OAuthProvider.Microsoft, OAuthGrant.ClientCredentials) => OAuthNames.MicrosoftAppScope,
        (OAuthProvider.Microsoft, _) => OAuthNames.MicrosoftDelegatedScope,
        (OAuthProvider.Google, _) => OAuthNames.GoogleScope,
        _ => "",
    };

    public string EffectiveAuthority => (Authority ?? OAuthNames.MicrosoftAuthority).TrimEnd('/');

    /// <summary>Where the secrets are sent: a change of it drops them (they go only where they were entered for).</summary>
    public string Endpoint => Provider switch
    {
        OAuthProvider.Microsoft => $"{EffectiveAuthority}/{Tenant}",
        OAuthProvider.Google => "google",
        _ => TokenEndpoint ?? "",
    };

    /// <summary>Whether the connection has what its grant needs to ask for a token, or the sentence saying what is missing.</summary>
    public string? Missing(string connection) => (Provider, Grant) switch
    {
        (_, OAuthGrant.RefreshToken) when RefreshToken is null =>
            $"SMTP connection {connection} has no refresh token: sign in with the console's 'Sign in with …' button on the connection, or from a terminal with 'herald smtp connection sign-in', or give one with --refresh-token-stdin.",
        (OAuthProvider.Google, OAuthGrant.ClientCredentials) when ServiceAccountKey is null =>
            $"SMTP connection {connection} has no service-account key: give the JSON key of the service account (--service-account-key FILE).",
        (OAuthProvider.Microsoft, OAuthGrant.ClientCredentials) when ClientSecret is null && ClientCertificate is null =>
            $"SMTP connection {connection} has no client secret or certificate (they are dropped when the tenant, authority or server changes): give one again.",
        (OAuthProvider.Generic, OAuthGrant.ClientCredentials) when ClientSecret is null =>
            $"SMTP connection {connection} has no client secret (it is dropped when the token endpoint or server changes): give it again.",
        _ => null,
    };

    /// <summary>The same settings without any secret: what a change of endpoint leaves.</summary>
    public OAuthSettings WithoutSecrets() =>
        this with { ClientSecret = null, ClientCertificate = null, ServiceAccountKey = null, ServiceAccount = null, RefreshToken = null, Account = null, SignedInAt = null };

    public bool HasSecrets => ClientSecret is not null || ClientCertificate is not null || ServiceAccountKey is not null || RefreshToken is not null;
}
