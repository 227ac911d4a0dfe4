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
        var application = Application(request);
        var scopes = settings.EffectiveScope.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        try
        {
            if (settings.Grant == OAuthGrant.ClientCredentials && application is IConfidentialClientApplication confidential)
            {
                var result = await confidential.AcquireTokenForClient(scopes).ExecuteAsync(cancellationToken).ConfigureAwait(false);
                return (new OAuthToken(result.AccessToken, result.ExpiresOn), null);
            }

            return await SignedInAsync(application, request, Delegated(scopes), cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// A mailbox signed in from a terminal: MSAL's device-code flow as a public client (the app
    /// registration allows public client flows), on one of Microsoft's clouds; the refresh token
    /// is read from the token cache MSAL leaves. MSAL has no device-code flow for a generic OpenID
    /// Connect authority: <see cref="OAuthSignIn"/> uses the issuer's device endpoint instead.
    /// </summary>
    public async Task<(string? RefreshToken, string? Account, OAuthFailure? Failure)> DeviceCodeAsync(
        OAuthTokenRequest request, Func<OAuthDeviceCode, CancellationToken, Task> show, CancellationToken cancellationToken)
    {
        var settings = request.Settings;
        var application = PublicClientApplicationBuilder.Create(settings.ClientId)
            .WithHttpClientFactory(_http)
            .WithAuthority($"{settings.EffectiveAuthority}/{settings.Tenant}")
            .Build();
        string? refreshToken = null;
        application.UserTokenCache.SetAfterAccess(args =>
        {
            if (args.HasStateChanged)
            {
                refreshToken = RefreshTokenIn(args.TokenCache.SerializeMsalV3()) ?? refreshToken;
            }
        });

        try
        {
            var scopes = Delegated(settings.EffectiveScope.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            var result = await application.AcquireTokenWithDeviceCode(scopes, code => show(new OAuthDeviceCode(code.VerificationUrl, code.UserCode, code.ExpiresOn), cancellationToken))
                .ExecuteAsync(cancellationToken).ConfigureAwait(false);
            return (refreshToken, AccountOf(result), null);
        }
        catch (MsalServiceException ex)
        {
            return (null, null, OAuthErrors.Describe(request, ex.ErrorCode, ex.Message));
        }
        catch (MsalClientException ex)
        {
            return (null, null, OAuthErrors.Unreachable(request, $"MSAL could not sign in at {settings.EffectiveAuthority} ({ex.ErrorCode}: {ex.Message})"));
        }
        catch (HttpRequestException ex)
        {
            return (null, null, OAuthErrors.Unreachable(request, $"{settings.EffectiveAuthority} could not be reached ({ex.Message})"));
        }
    }

    /// <summary>MSAL's application for the connection: confidential with a secret or a certificate;
    /// public without one (a mailbox signed in through the device code redeems its refresh token
    /// as the public client it signed in as).</summary>
    private IClientApplicationBase Application(OAuthTokenRequest request)
    {
        var settings = request.Settings;
        var secrets = request.Secrets;
        if (secrets.ClientCertificate is null && secrets.ClientSecret is null && settings.Grant == OAuthGrant.RefreshToken)
        {
            var publicClient = PublicClientApplicationBuilder.Create(settings.ClientId).WithHttpClientFactory(_http);
            return (IsEntra(settings.EffectiveAuthority)
                ? publicClient.WithAuthority($"{settings.EffectiveAuthority}/{settings.Tenant}")
                : publicClient.WithOidcAuthority(settings.EffectiveAuthority)).Build();
        }

        var builder = ConfidentialClientApplicationBuilder.Create(settings.ClientId).WithHttpClientFactory(_http);
        builder = IsEntra(settings.EffectiveAuthority)
            ? builder.WithAuthority($"{settings.EffectiveAuthority}/{settings.Tenant}")
            : builder.WithOidcAuthority(settings.EffectiveAuthority);
        if (secrets.ClientCertificate is { } certificate)
        {
            // The chain goes with the assertion so that a renewed certificate (subject name and
            // issuer) keeps working where the app registration trusts it that way.
            builder = builder.WithCertificate(certificate, sendX5C: true);
        }
        else if (secrets.ClientSecret is { } secret)
        {
            builder = builder.WithClientSecret(secret);
        }

        return builder.Build();
    }

    /// <summary>Who signed in, from the ID token's preferred_username (MSAL puts a placeholder
    /// sentence in <c>Account.Username</c> when the token has none).</summary>
    private static string? AccountOf(AuthenticationResult result) =>
        result.ClaimsPrincipal?.FindFirst("preferred_username")?.Value is { Length: > 0 and <= 256 } name ? name : null;

    /// <summary>MSAL adds offline_access (and openid, profile) itself and refuses them given.</summary>
    private static string[] Delegated(string[] scopes) => scopes.Where(s => s != "offline_access").ToArray();

    /// <summary>A signed-in mailbox: MSAL redeems the stored refresh token; the one it received
    /// in exchange (Entra ID rotates them) is read from the token cache MSAL leaves, and stored next.</summary>
    private static async Task<(OAuthToken? Token, OAuthFailure? Failure)> SignedInAsync(
        IClientApplicationBase application, OAuthTokenRequest request, string[] scopes, CancellationToken cancellationToken)
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
            return (new OAuthToken(result.AccessToken, result.ExpiresOn, rotated, AccountOf(result)), null);
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
