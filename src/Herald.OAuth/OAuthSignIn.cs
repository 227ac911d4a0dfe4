using Duende.IdentityModel.Client;
using Herald.Delivery;
using Herald.Settings;

namespace Herald.OAuth;

/// <summary>
/// The authorization-code grant with PKCE (RFC 7636) through Duende.IdentityModel: the authorize
/// URL with its parameters, and the code redeemed at the token endpoint for a refresh token; and the
/// device authorization grant (RFC 8628) for a terminal, through MSAL on Microsoft's clouds.
/// </summary>
public sealed class OAuthSignIn(OAuthHttp http, TimeProvider time) : IOAuthSignIn
{
    private const string GoogleAuthorize = "https://accounts.google.com/o/oauth2/v2/auth";

    public async Task<Uri?> AuthorizationUrlAsync(
        SmtpConnection connection, OAuthSettings settings, Uri redirect, string state, string codeChallenge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(redirect);
        if (settings.ClientId is null || (await EndpointsAsync(settings, cancellationToken).ConfigureAwait(false)).Authorize is not { } endpoint)
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
        var endpoints = await EndpointsAsync(settings, cancellationToken).ConfigureAwait(false);
        if (endpoints.Token is null)
        {
            return (null, null, OAuthErrors.Unreachable(request, endpoints.Problem ?? "the connection names no token endpoint"));
        }

        using var client = http.Client();
        var response = await client.RequestAuthorizationCodeTokenAsync(new AuthorizationCodeTokenRequest
        {
            Address = endpoints.Token,
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

        var endpoints = await EndpointsAsync(settings, cancellationToken).ConfigureAwait(false);
        if (endpoints.Device is null || endpoints.Token is null)
        {
            return (null, null, OAuthErrors.Unreachable(request,
                endpoints.Problem ?? $"{settings.EffectiveAuthority} names no device authorization endpoint, so it cannot sign in from a terminal; sign in with the console instead"));
        }

        return await new DeviceCodeFlow(http, time).RunAsync(request, endpoints.Device, endpoints.Token, SignInScope(settings), show, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Where a person signs in and where codes are redeemed: Microsoft's v2.0 endpoints of
    /// the tenant, Google's, the ones a generic connection names, or — for a Microsoft connection
    /// whose authority is another OpenID Connect issuer, as MSAL's generic authority reads it —
    /// the ones its discovery document names.</summary>
    private async Task<(string? Authorize, string? Token, string? Device, string? Problem)> EndpointsAsync(OAuthSettings settings, CancellationToken cancellationToken)
    {
        switch (settings.Provider)
        {
            case OAuthProvider.Microsoft when MicrosoftTokens.IsEntra(settings.EffectiveAuthority):
                var tenant = $"{settings.EffectiveAuthority}/{settings.Tenant}/oauth2/v2.0";
                return ($"{tenant}/authorize", $"{tenant}/token", $"{tenant}/devicecode", null);
            case OAuthProvider.Microsoft:
                using (var client = http.Client())
                {
                    var discovery = await client.GetDiscoveryDocumentAsync(settings.EffectiveAuthority, cancellationToken).ConfigureAwait(false);
                    return discovery.IsError
                        ? (null, null, null, $"the discovery document of {settings.EffectiveAuthority} could not be read ({discovery.Error})")
                        : (settings.AuthorizationEndpoint ?? discovery.AuthorizeEndpoint, discovery.TokenEndpoint, settings.DeviceEndpoint ?? discovery.DeviceAuthorizationEndpoint, null);
                }

            case OAuthProvider.Google:
                return (GoogleAuthorize, Google.Apis.Auth.OAuth2.GoogleAuthConsts.OidcTokenUrl, null, null);
            default:
                return (settings.AuthorizationEndpoint, settings.TokenEndpoint, settings.DeviceEndpoint, null);
        }
    }

    /// <summary>What a signed-in mailbox's token is for: the connection's scope, with offline
    /// access so that a refresh token comes back. For Microsoft also what MSAL adds to every
    /// request it makes (openid, profile): MSAL redeems the refresh token later, and a server that
    /// holds a refresh to the scopes first granted would otherwise refuse it.</summary>
    private static string SignInScope(OAuthSettings settings)
    {
        var scopes = (settings with { Grant = OAuthGrant.RefreshToken }).EffectiveScope.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        string[] added = settings.Provider switch
        {
            OAuthProvider.Google => [],
            OAuthProvider.Microsoft => ["openid", "profile", "offline_access"],
            _ => ["offline_access"],
        };
        return string.Join(' ', scopes.Concat(added.Where(s => !scopes.Contains(s))));
    }
}
