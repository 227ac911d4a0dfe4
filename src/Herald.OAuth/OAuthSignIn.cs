using Duende.IdentityModel.Client;
using Herald.Delivery;
using Herald.Settings;

namespace Herald.OAuth;

/// <summary>
/// The authorization-code grant with PKCE (RFC 7636) through Duende.IdentityModel: the authorize
/// URL with its parameters, and the code redeemed at the token endpoint for a refresh token. The
/// endpoints are the provider's: Microsoft's v2.0 endpoints of the tenant, Google's, or the ones
/// the connection names.
/// </summary>
public sealed class OAuthSignIn(OAuthHttp http, TimeProvider time) : IOAuthSignIn
{
    private const string GoogleAuthorize = "https://accounts.google.com/o/oauth2/v2/auth";

    public Uri? AuthorizationUrl(SmtpConnection connection, OAuthSettings settings, Uri redirect, string state, string codeChallenge)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(redirect);
        if (AuthorizeEndpoint(settings) is not { } endpoint || settings.ClientId is null)
        {
            return null;
        }

        // Google gives a refresh token only when asked for offline access, and again only with consent.
        var extra = settings.Provider == OAuthProvider.Google ? new Parameters { { "access_type", "offline" }, { "prompt", "consent" } } : null;
        return new Uri(new RequestUrl(endpoint).CreateAuthorizeUrl(
            clientId: settings.ClientId,
            responseType: "code",
            scope: SignInScope(settings),
            redirectUri: redirect.AbsoluteUri,
            state: state,
            codeChallenge: codeChallenge,
            codeChallengeMethod: "S256",
            loginHint: connection.Authentication.UserName,
            extra: extra));
    }

    public async Task<(string? RefreshToken, string? Account, OAuthFailure? Failure)> RedeemAsync(
        OpenedConnection connection, Uri redirect, string code, string codeVerifier, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(redirect);
        var settings = connection.Settings.Authentication.OAuth!;
        var request = new OAuthTokenRequest(connection.Settings, settings with { Grant = OAuthGrant.RefreshToken }, connection.OAuth!, null);
        using var client = http.Client();
        var response = await client.RequestAuthorizationCodeTokenAsync(new AuthorizationCodeTokenRequest
        {
            Address = TokenEndpoint(settings),
            ClientId = settings.ClientId!,
            ClientSecret = connection.OAuth?.ClientSecret,
            Code = code,
            RedirectUri = redirect.AbsoluteUri,
            CodeVerifier = codeVerifier,
        }, cancellationToken).ConfigureAwait(false);
        var (token, failure) = GenericTokens.Read(request, response, time.GetUtcNow());
        return token is null ? (null, null, failure) : (token.RotatedRefreshToken, null, null);
    }

    public async Task<(string? RefreshToken, string? Account, OAuthFailure? Failure)> DeviceCodeAsync(
        OpenedConnection connection, Func<OAuthDeviceCode, CancellationToken, Task> show, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var settings = connection.Settings.Authentication.OAuth!;
        var request = new OAuthTokenRequest(connection.Settings, settings with { Grant = OAuthGrant.RefreshToken }, connection.OAuth!, null);
        if (settings.Provider == OAuthProvider.Microsoft && MicrosoftTokens.IsEntra(settings.EffectiveAuthority))
        {
            return await new MicrosoftTokens(http).DeviceCodeAsync(request, show, cancellationToken).ConfigureAwait(false);
        }

        var (deviceEndpoint, tokenEndpoint) = (settings.DeviceEndpoint, TokenEndpoint(settings));
        if (settings.Provider == OAuthProvider.Microsoft)
        {
            // Another authority is an OpenID Connect issuer: its discovery document names the endpoints.
            using var client = http.Client();
            var discovery = await client.GetDiscoveryDocumentAsync(settings.EffectiveAuthority, cancellationToken).ConfigureAwait(false);
            if (discovery.IsError)
            {
                return (null, null, OAuthErrors.Unreachable(request, $"the discovery document of {settings.EffectiveAuthority} could not be read ({discovery.Error})"));
            }

            (deviceEndpoint, tokenEndpoint) = (settings.DeviceEndpoint ?? discovery.DeviceAuthorizationEndpoint, discovery.TokenEndpoint);
        }

        if (deviceEndpoint is null || tokenEndpoint is null)
        {
            return (null, null, OAuthErrors.Unreachable(request, $"{settings.EffectiveAuthority} names no device authorization endpoint, so it cannot sign in from a terminal; sign in with the console instead"));
        }

        return await new DeviceCodeFlow(http, time).RunAsync(request, deviceEndpoint, tokenEndpoint, SignInScope(settings), show, cancellationToken).ConfigureAwait(false);
    }

    private static string? AuthorizeEndpoint(OAuthSettings settings) => settings.Provider switch
    {
        OAuthProvider.Microsoft when MicrosoftTokens.IsEntra(settings.EffectiveAuthority) => $"{settings.EffectiveAuthority}/{settings.Tenant}/oauth2/v2.0/authorize",
        OAuthProvider.Google => GoogleAuthorize,
        _ => settings.AuthorizationEndpoint,
    };

    private static string? TokenEndpoint(OAuthSettings settings) => settings.Provider switch
    {
        OAuthProvider.Microsoft when MicrosoftTokens.IsEntra(settings.EffectiveAuthority) => $"{settings.EffectiveAuthority}/{settings.Tenant}/oauth2/v2.0/token",
        OAuthProvider.Google => Google.Apis.Auth.OAuth2.GoogleAuthConsts.OidcTokenUrl,
        _ => settings.TokenEndpoint,
    };

    /// <summary>What a signed-in mailbox's token is for: the connection's scope, with offline
    /// access so that a refresh token comes back.</summary>
    private static string SignInScope(OAuthSettings settings)
    {
        var scope = (settings with { Grant = OAuthGrant.RefreshToken }).EffectiveScope;
        return settings.Provider == OAuthProvider.Google || scope.Contains("offline_access", StringComparison.Ordinal) ? scope : $"{scope} offline_access".Trim();
    }
}
