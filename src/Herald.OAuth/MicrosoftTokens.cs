using Herald.Delivery;
using Herald.Settings;
using Microsoft.Identity.Client;

namespace Herald.OAuth;

/// <summary>
/// Microsoft Entra ID through MSAL: app-only client credentials (a secret or a certificate) for
/// Exchange Online, or a signed-in mailbox whose refresh token lives in MSAL's serialized token
/// cache. An authority on one of Microsoft's clouds is used with the tenant; any other authority is
/// an OpenID Connect issuer MSAL discovers itself (its generic authority support).
/// </summary>
internal sealed class MicrosoftTokens(OAuthHttp http)
{
    /// <summary>The hosts of Microsoft's public and national clouds.</summary>
    private static readonly HashSet<string> EntraHosts = new(StringComparer.OrdinalIgnoreCase)
    {
        "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.microsoftonline.de",
    };

    private readonly HttpFactory _http = new(http);

    public static bool IsEntra(string authority) => Uri.TryCreate(authority, UriKind.Absolute, out var uri) && EntraHosts.Contains(uri.Host);

    public async Task<(OAuthToken? Token, OAuthFailure? Failure)> RequestAsync(OAuthTokenRequest request, CancellationToken cancellationToken)
    {
        var settings = request.Settings;
        var builder = ConfidentialClientApplicationBuilder.Create(settings.ClientId).WithHttpClientFactory(_http);
        builder = IsEntra(settings.EffectiveAuthority)
            ? builder.WithAuthority($"{settings.EffectiveAuthority}/{settings.Tenant}")
            : builder.WithOidcAuthority(settings.EffectiveAuthority);
        if (request.Secrets.ClientCertificate is { } certificate)
        {
            // The chain goes with the assertion so that a renewed certificate (subject name and
            // issuer) keeps working where the app registration trusts it that way.
            builder = builder.WithCertificate(certificate, sendX5C: true);
        }
        else if (request.Secrets.ClientSecret is { } secret)
        {
            builder = builder.WithClientSecret(secret);
        }

        var application = builder.Build();
        var scopes = settings.EffectiveScope.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            if (settings.Grant == OAuthGrant.ClientCredentials)
            {
                var result = await application.AcquireTokenForClient(scopes).ExecuteAsync(cancellationToken).ConfigureAwait(false);
                return (new OAuthToken(result.AccessToken, result.ExpiresOn), null);
            }

            return await SignedInAsync(application, request, scopes.Where(s => s != "offline_access").ToArray(), cancellationToken).ConfigureAwait(false);
        }
        catch (MsalServiceException ex)
        {
            return (null, OAuthErrors.Describe(request, ex.ErrorCode, ex.Message));
        }
        catch (MsalClientException ex)
        {
            return (null, OAuthErrors.Unreachable(request, $"MSAL could not ask {settings.EffectiveAuthority} for a token ({ex.ErrorCode}: {ex.Message})"));
        }
        catch (HttpRequestException ex)
        {
            return (null, OAuthErrors.Unreachable(request, $"{settings.EffectiveAuthority} could not be reached ({ex.Message})"));
        }
    }

    /// <summary>A signed-in mailbox: MSAL redeems the stored refresh token; the one it received
    /// in exchange (Entra ID rotates them) is read from the token cache MSAL leaves, and stored next.</summary>
    private static async Task<(OAuthToken? Token, OAuthFailure? Failure)> SignedInAsync(
        IConfidentialClientApplication application, OAuthTokenRequest request, string[] scopes, CancellationToken cancellationToken)
    {
        string? rotated = null;
        application.UserTokenCache.SetAfterAccess(args =>
        {
            if (args.HasStateChanged)
            {
                rotated = RefreshTokenIn(args.TokenCache.SerializeMsalV3()) ?? rotated;
            }
        });

        try
        {
            var result = await ((IByRefreshToken)application).AcquireTokenByRefreshToken(scopes, request.RefreshToken).ExecuteAsync(cancellationToken).ConfigureAwait(false);
            return (new OAuthToken(result.AccessToken, result.ExpiresOn, rotated, result.Account?.Username), null);
        }
        catch (MsalUiRequiredException ex)
        {
            return (null, OAuthErrors.Describe(request, "interaction_required", ex.Message) with { RefreshTokenRejected = true });
        }
    }

    /// <summary>The refresh token in MSAL's serialized cache (its "RefreshToken" section).</summary>
    internal static string? RefreshTokenIn(byte[] cache)
    {
        using var document = System.Text.Json.JsonDocument.Parse(cache);
        if (!document.RootElement.TryGetProperty("RefreshToken", out var tokens))
        {
            return null;
        }

        foreach (var entry in tokens.EnumerateObject())
        {
            if (entry.Value.TryGetProperty("secret", out var secret) && secret.GetString() is { Length: > 0 } value)
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>MSAL's HTTP abstraction over the node's handler; MSAL keeps the client it is given.</summary>
    private sealed class HttpFactory(OAuthHttp http) : IMsalHttpClientFactory
    {
        private readonly HttpClient _client = http.Client();

        public HttpClient GetHttpClient() => _client;
    }
}
