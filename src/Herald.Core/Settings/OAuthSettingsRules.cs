using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Herald.Credentials;

namespace Herald.Settings;

/// <summary>
/// What makes a connection's OAuth 2.0 settings valid, and how a change to them is applied: each
/// field checked and named as the request names it, secrets sealed under the connection's id, and
/// secrets bound to where they were entered for (another provider, tenant, authority, token
/// endpoint or client id drops them unless the same change brings new ones).
/// </summary>
internal static class OAuthSettingsRules
{
    public const int MaxSecretLength = 4096;

    /// <summary>A refresh token, or MSAL's token cache that holds one (a few KiB).</summary>
    public const int MaxRefreshTokenLength = 64 * 1024;

    public const int MaxServiceAccountKeyLength = 16 * 1024;

    private const int MaxUrlLength = 2048;

    /// <summary>Applies <paramref name="change"/> to <paramref name="connection"/>'s authentication;
    /// <paramref name="key"/> is asked for only when a secret is being stored.</summary>
    public static async Task<SmtpConnection> ApplyAsync(
        SmtpConnection connection, AuthenticationChange.ToOAuth change, Func<string, Task<CredentialKey?>> key,
        DateTimeOffset now, List<FieldError> errors, List<string> notes)
    {
        var current = connection.Authentication;
        var before = current.OAuth;
        var c = change.OAuth;

        var userName = change.UserName?.Trim() ?? current.UserName;
        if (string.IsNullOrEmpty(userName) || userName.Length > 256 || userName.Any(char.IsControl))
        {
            errors.Add(new("username", "OAuth 2.0 needs the mailbox to send as (the user name), at most 256 characters on one line."));
            return connection;
        }

        OAuthProvider provider;
        if (c.Provider is { } providerName)
        {
            if (!OAuthNames.Providers.TryParse(providerName, out var error, out provider))
            {
                errors.Add(new("oauthProvider", $"OAuth provider {error}"));
                return connection;
            }
        }
        else if (before is not null)
        {
            provider = before.Provider;
        }
        else
        {
            errors.Add(new("oauthProvider", $"Say which OAuth provider issues the tokens: {string.Join(", ", OAuthNames.Providers.Names)}."));
            return connection;
        }

        // Another provider starts from nothing: none of the old one's settings mean anything there.
        var settings = before is not null && before.Provider == provider ? before : new OAuthSettings { Provider = provider };

        if (c.Grant is { } grantName)
        {
            if (OAuthNames.Grants.TryParse(grantName, out var error, out var grant))
            {
                settings = settings with { Grant = grant };
            }
            else
            {
                errors.Add(new("oauthGrant", $"OAuth grant {error}"));
            }
        }

        settings = settings with
        {
            Tenant = Text(c.Tenant, "tenant", "The tenant", 256, errors, IsTenant, "a directory (tenant) id or a domain such as contoso.onmicrosoft.com") ?? settings.Tenant,
            Authority = Url(c.Authority, "authority", "The authority", errors) ?? settings.Authority,
            TokenEndpoint = Url(c.TokenEndpoint, "tokenEndpoint", "The token endpoint", errors) ?? settings.TokenEndpoint,
            AuthorizationEndpoint = Url(c.AuthorizationEndpoint, "authorizationEndpoint", "The authorization endpoint", errors) ?? settings.AuthorizationEndpoint,
            DeviceEndpoint = Url(c.DeviceEndpoint, "deviceEndpoint", "The device authorization endpoint", errors) ?? settings.DeviceEndpoint,
            ClientId = Text(c.ClientId, "clientId", "The client id", 256, errors, id => !id.Any(char.IsWhiteSpace), "one word") ?? settings.ClientId,
        };

        if (c.Scope is { } scope)
        {
            scope = scope.Trim();
            if (scope.Length > 1024 || scope.Any(char.IsControl))
            {
                errors.Add(new("oauthScope", "The scope is at most 1,024 characters on one line (scopes separated by spaces)."));
            }
            else
            {
                settings = settings with { Scope = scope.Length == 0 ? null : scope };
            }
        }

        var mechanisms = current.OAuth is null ? [] : current.Mechanisms;
        if (c.Mechanisms is { } requested)
        {
            var normalized = requested.Take(4).Select(m => m.Trim().ToUpperInvariant()).Distinct().ToArray();
            if (normalized.FirstOrDefault(m => !OAuthNames.Mechanisms.Contains(m)) is { } unknown)
            {
                errors.Add(new("auth", $"'{Shorten(unknown)}' does not carry an OAuth 2.0 token: use {string.Join(" or ", OAuthNames.Mechanisms)}."));
            }
            else
            {
                mechanisms = normalized;
            }
        }

        // Secrets go only where they were entered for.
        if (before is not null && before.HasSecrets && Binding(before) != Binding(settings))
        {
            settings = settings with
            {
                ClientSecret = c.ClientSecret is null ? null : settings.ClientSecret,
                ClientCertificate = c.ClientCertificate is null ? null : settings.ClientCertificate,
                ServiceAccountKey = c.ServiceAccountKey is null ? null : settings.ServiceAccountKey,
                ServiceAccount = c.ServiceAccountKey is null ? null : settings.ServiceAccount,
                RefreshToken = null,
                Account = null,
                SignedInAt = null,
            };
            if (before.Provider == settings.Provider)
            {
                notes.Add($"The stored OAuth secrets of {connection.Qualified} that were not given again were dropped because {Moved(before, settings)}: give them again (or sign in again) to get tokens there.");
            }
        }

        settings = await SealAsync(settings, c, connection.Id, key, now, errors).ConfigureAwait(false);
        CheckComplete(settings, connection.Qualified, errors);

        return connection with
        {
            Authentication = new SmtpAuthentication(userName, mechanisms, null) { OAuth = settings },
        };
    }

    /// <summary>What the secrets are bound to.</summary>
    private static string Binding(OAuthSettings settings) => $"{OAuthNames.Providers.NameOf(settings.Provider)} {settings.Endpoint} {settings.ClientId}";

    private static string Moved(OAuthSettings before, OAuthSettings after) =>
        before.ClientId != after.ClientId && before.Endpoint == after.Endpoint
            ? $"its client id changed from {before.ClientId} to {after.ClientId}"
            : $"its token endpoint changed from {before.Endpoint} to {after.Endpoint}";

    private static async Task<OAuthSettings> SealAsync(
        OAuthSettings settings, OAuthChange c, string id, Func<string, Task<CredentialKey?>> key, DateTimeOffset now, List<FieldError> errors)
    {
        if (c.ClientSecret is { } secret)
        {
            if (secret.Length is 0 or > MaxSecretLength)
            {
                errors.Add(new("clientSecret", "A client secret is 1 to 4,096 characters."));
            }
            else if (await key("clientSecret").ConfigureAwait(false) is { } k)
            {
                // A secret replaces a certificate: one credential at a time.
                settings = settings with { ClientSecret = k.Seal(secret, SecretNames.OAuthClientSecret(id)), ClientCertificate = null };
            }
        }

        if (c.ClientCertificate is { } certificate)
        {
            if (CertificateProblem(certificate, now) is { } problem)
            {
                errors.Add(new("oauthCertificate", problem));
            }
            else if (await key("oauthCertificate").ConfigureAwait(false) is { } k)
            {
                settings = settings with
                {
                    ClientCertificate = new StoredClientCertificate(
                        k.Seal(certificate.Export(X509ContentType.Pkcs12), SecretNames.OAuthClientCertificate(id)),
                        certificate.Subject, certificate.GetCertHashString(HashAlgorithmName.SHA256), certificate.NotAfter.ToUniversalTime()),
                    ClientSecret = c.ClientSecret is null ? null : settings.ClientSecret,
                };
            }
        }

        if (c.ServiceAccountKey is { } json)
        {
            if (ServiceAccountOf(json, out var problem) is not { } account)
            {
                errors.Add(new("serviceAccountKey", problem!));
            }
            else if (await key("serviceAccountKey").ConfigureAwait(false) is { } k)
            {
                settings = settings with { ServiceAccountKey = k.Seal(json, SecretNames.OAuthServiceAccountKey(id)), ServiceAccount = account };
            }
        }

        if (c.RefreshToken is { } token)
        {
            if (token.Length is 0 or > MaxRefreshTokenLength || token.Any(char.IsControl))
            {
                errors.Add(new("refreshToken", "A refresh token is 1 to 65,536 characters on one line."));
            }
            else if (await key("refreshToken").ConfigureAwait(false) is { } k)
            {
                settings = settings with
                {
                    RefreshToken = k.Seal(token, SecretNames.OAuthRefreshToken(id)),
                    Account = c.Account is { } account && account.Length <= 256 ? account : null,
                    SignedInAt = now,
                    Grant = OAuthGrant.RefreshToken,
                };
            }
        }

        return settings;
    }

    /// <summary>What each provider needs before a token can be asked for.</summary>
    private static void CheckComplete(OAuthSettings s, string connection, List<FieldError> errors)
    {
        if (errors.Count > 0)
        {
            return;
        }

        switch (s.Provider)
        {
            case OAuthProvider.Microsoft:
                if (s.Tenant is null)
                {
                    errors.Add(new("tenant", $"Microsoft 365 needs the directory (tenant) id of {connection}'s app registration."));
                }

                if (s.ClientId is null)
                {
                    errors.Add(new("clientId", "Microsoft 365 needs the app registration's application (client) id."));
                }

                if (s.Grant == OAuthGrant.ClientCredentials && s.ClientSecret is null && s.ClientCertificate is null)
                {
                    errors.Add(new("clientSecret", "App-only access to Microsoft 365 needs a client secret or a client certificate."));
                }

                break;
            case OAuthProvider.Google:
                if (s.Grant == OAuthGrant.ClientCredentials && s.ServiceAccountKey is null)
                {
                    errors.Add(new("serviceAccountKey", "Google Workspace needs the JSON key of a service account with domain-wide delegation."));
                }

                if (s.Grant == OAuthGrant.RefreshToken && s.ClientId is null)
                {
                    errors.Add(new("clientId", "Signing in with Google needs the OAuth client id (and secret) of a web application client."));
                }

                break;
            case OAuthProvider.Generic:
                if (s.TokenEndpoint is null)
                {
                    errors.Add(new("tokenEndpoint", "A generic OAuth 2.0 provider needs its token endpoint (https://…)."));
                }

                if (s.ClientId is null)
                {
                    errors.Add(new("clientId", "A generic OAuth 2.0 provider needs the client id Herald is registered with."));
                }

                if (s.Grant == OAuthGrant.ClientCredentials && s.ClientSecret is null)
                {
                    errors.Add(new("clientSecret", "The client-credentials grant needs the client secret."));
                }

                break;
        }
    }

    /// <summary>The service account's address from its JSON key, or why the key is not one.</summary>
    public static string? ServiceAccountOf(string json, out string? problem)
    {
        problem = null;
        if (json.Length > MaxServiceAccountKeyLength)
        {
            problem = "A service-account key is a JSON file of at most 16 KiB.";
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            string? Field(string name) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            if (Field("type") != "service_account")
            {
                problem = "That JSON is not a service-account key (its \"type\" is not \"service_account\"): create a key for the service account in the Google Cloud console (Keys → Add key → JSON).";
                return null;
            }

            if (Field("client_email") is not { Length: > 0 and <= 256 } email || Field("private_key") is not { } pem)
            {
                problem = "The service-account key has no \"client_email\" or \"private_key\".";
                return null;
            }

            using var rsa = RSA.Create();
            rsa.ImportFromPem(pem);
            return email;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or CryptographicException)
        {
            problem = "The service-account key is not valid JSON with an RSA \"private_key\": give the file exactly as Google made it.";
            return null;
        }
    }

    private static string? CertificateProblem(X509Certificate2 certificate, DateTimeOffset now)
    {
        if (!certificate.HasPrivateKey)
        {
            return "The certificate has no private key: give the PEM with its key, or a PKCS#12 file.";
        }

        using var rsa = certificate.GetRSAPrivateKey();
        if (rsa is null)
        {
            return "Microsoft Entra ID takes RSA certificates only.";
        }

        return certificate.NotAfter.ToUniversalTime() < now.UtcDateTime ? $"The certificate expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}." : null;
    }

    private static bool IsTenant(string tenant) => tenant.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '.');

    private static string? Text(string? value, string field, string label, int limit, List<FieldError> errors, Func<string, bool> valid, string expected)
    {
        if (value is null)
        {
            return null;
        }

        value = value.Trim();
        if (value.Length == 0 || value.Length > limit || value.Any(char.IsControl) || !valid(value))
        {
            errors.Add(new(field, $"{label} '{Shorten(value)}' is not valid: give {expected}, at most {limit} characters."));
            return null;
        }

        return value;
    }

    /// <summary>An https URL (http only to this machine, where nothing crosses a network).</summary>
    private static string? Url(string? value, string field, string label, List<FieldError> errors)
    {
        if (value is null)
        {
            return null;
        }

        value = value.Trim();
        if (value.Length > MaxUrlLength
            || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0
            || !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback)))
        {
            errors.Add(new(field, $"{label} '{Shorten(value)}' is not an https:// URL (without user name or #fragment)."));
            return null;
        }

        return value.TrimEnd('/');
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
