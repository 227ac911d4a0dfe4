using System.ComponentModel.DataAnnotations;

namespace Herald.Web.Console.OpenIdConnect;

/// <summary>Which field of a directory user the provider's claim is compared with.</summary>
public enum DirectoryField
{
    /// <summary>The user's id (for <c>oid</c> or <c>sub</c>: ids synced from the provider's directory).</summary>
    Id,

    /// <summary>The user's email address, ignoring case.</summary>
    Email,
}

/// <summary>
/// Console sign-in with the organisation's OpenID Connect provider (Entra ID, Keycloak, Okta,
/// Google); configuration section <c>OpenIdConnect</c> (<c>HERALD_OpenIdConnect__Authority=…</c>).
/// Read by this node only: a farm gives every node the same values. The client secret is never
/// logged, shown or returned; validation names a setting, never its value.
/// </summary>
public sealed class SingleSignOnOptions : IValidatableObject
{
    public const string Section = "OpenIdConnect";

    /// <summary>The claims a directory user can be matched by.</summary>
    public static readonly IReadOnlyList<string> UserClaims = ["email", "oid", "sub", "preferred_username"];

    /// <summary>What is asked for when <see cref="Scopes"/> is empty.</summary>
    public static readonly IReadOnlyList<string> DefaultScopes = ["openid", "profile", "email"];

    /// <summary>Whether the console offers the provider's sign-in.</summary>
    public bool Enabled { get; set; }

    /// <summary>The issuer URL; its <c>/.well-known/openid-configuration</c> says the rest. HTTPS,
    /// except a provider on this machine's loopback.</summary>
    [MaxLength(2000)]
    public string? Authority { get; set; }

    [MaxLength(500)]
    public string? ClientId { get; set; }

    /// <summary>A confidential client's secret (prefer <see cref="ClientSecretFile"/>); neither
    /// makes a public client, which proves itself with PKCE alone.</summary>
    [MaxLength(4096)]
    public string? ClientSecret { get; set; }

    /// <summary>A file holding the client secret (one line).</summary>
    [MaxLength(4096)]
    public string? ClientSecretFile { get; set; }

    /// <summary>Scopes asked for; empty means <see cref="DefaultScopes"/>. A configured list
    /// replaces the default one, so it must include <c>openid</c>.</summary>
    public string[] Scopes { get; set; } = [];

    /// <summary>The ID token's claim that names the directory user: one of <see cref="UserClaims"/>.</summary>
    public string UserClaim { get; set; } = "email";

    /// <summary>The directory user's field that <see cref="UserClaim"/> is compared with.</summary>
    public DirectoryField UserField { get; set; } = DirectoryField.Email;

    /// <summary>The claim that carries groups or roles (Entra ID: <c>groups</c> or <c>roles</c>).</summary>
    [MaxLength(200)]
    public string GroupClaim { get; set; } = "groups";

    /// <summary>Each item <c>SCOPE=VALUE</c>: whoever carries VALUE in <see cref="GroupClaim"/>
    /// signs in as an administrator of SCOPE (<c>/hr=herald-admins-hr</c>). Split at the first
    /// <c>=</c>, so a value may itself hold one (an LDAP-style DN).</summary>
    public string[] AdministratorGroups { get; set; } = [];

    /// <summary>Whether local administrator passwords still sign in to the console (break-glass).
    /// Off, /signin offers only the provider; <c>herald admin</c> on the node still works.</summary>
    public bool LocalPasswords { get; set; } = true;

    /// <summary>The provider's name on the sign-in button: "Sign in with …".</summary>
    [MaxLength(100)]
    public string DisplayName { get; set; } = "single sign-on";

    /// <summary>How long a sign-in may take at the provider before Herald refuses its answer.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "01:00:00")]
    public TimeSpan SignInTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The scopes asked for.</summary>
    public IReadOnlyList<string> EffectiveScopes => Scopes.Length > 0 ? Scopes : DefaultScopes;

    /// <summary>Whether a client secret is configured (never what it is).</summary>
    public bool HasClientSecret => !string.IsNullOrEmpty(ClientSecret) || !string.IsNullOrEmpty(ClientSecretFile);

    /// <summary>The secret, from the setting or its file; null for a public client.</summary>
    public string? ReadClientSecret() =>
        !string.IsNullOrEmpty(ClientSecret) ? ClientSecret
        : !string.IsNullOrEmpty(ClientSecretFile) ? File.ReadAllText(ClientSecretFile).Trim()
        : null;

    /// <summary>The map of <see cref="AdministratorGroups"/>, or null (with the errors) when an item is unreadable.</summary>
    public AdministratorGroupMap Administrators() => AdministratorGroupMap.Parse(AdministratorGroups).Map
        ?? throw new InvalidOperationException("OpenIdConnect:AdministratorGroups was validated at start.");

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enabled)
        {
            yield break;
        }

        if (string.IsNullOrWhiteSpace(Authority))
        {
            yield return Problem(nameof(Authority), "is required when OpenIdConnect:Enabled is true: the provider's issuer URL, such as https://login.microsoftonline.com/TENANT/v2.0.");
        }
        else if (!Uri.TryCreate(Authority, UriKind.Absolute, out var authority) || !(authority.Scheme == Uri.UriSchemeHttps || (authority.Scheme == Uri.UriSchemeHttp && authority.IsLoopback)))
        {
            yield return Problem(nameof(Authority), "must be an https:// URL (http:// only for a provider on this machine's loopback).");
        }

        if (string.IsNullOrWhiteSpace(ClientId))
        {
            yield return Problem(nameof(ClientId), "is required when OpenIdConnect:Enabled is true: the client (application) id registered at the provider.");
        }

        if (!string.IsNullOrEmpty(ClientSecret) && !string.IsNullOrEmpty(ClientSecretFile))
        {
            yield return Problem(nameof(ClientSecretFile), "and OpenIdConnect:ClientSecret are both set: give the secret one way.");
        }
        else if (!string.IsNullOrEmpty(ClientSecretFile) && !File.Exists(ClientSecretFile))
        {
            yield return Problem(nameof(ClientSecretFile), $"names {ClientSecretFile}, which does not exist or cannot be read.");
        }

        if (Scopes.Length > 0 && !Scopes.Contains("openid", StringComparer.Ordinal))
        {
            yield return Problem("Scopes", "must include openid: a configured list replaces the default (openid profile email).");
        }

        if (Scopes.Any(s => s.Length is 0 or > 200 || s.Any(char.IsWhiteSpace)))
        {
            yield return Problem("Scopes", "must each be one word of at most 200 characters.");
        }

        if (!UserClaims.Contains(UserClaim, StringComparer.Ordinal))
        {
            yield return Problem(nameof(UserClaim), $"must be one of {string.Join(", ", UserClaims)}.");
        }

        if (string.IsNullOrWhiteSpace(GroupClaim))
        {
            yield return Problem(nameof(GroupClaim), "must name the claim that carries groups or roles, such as groups.");
        }

        if (AdministratorGroupMap.Parse(AdministratorGroups).Error is { } error)
        {
            yield return Problem(nameof(AdministratorGroups), error);
        }
    }

    private static ValidationResult Problem(string setting, string sentence) =>
        new($"OpenIdConnect:{setting} (HERALD_OpenIdConnect__{setting}) {sentence}", [setting]);
}
