using Duende.IdentityModel.Client;
using Herald.Delivery;
using Herald.Settings;

namespace Herald.OAuth;

/// <summary>Any OAuth 2.0 authorization server, through Duende.IdentityModel: the client-credentials
/// grant, or the refresh-token grant with the token a sign-in left.</summary>
internal sealed class GenericTokens(OAuthHttp http, TimeProvider time)
{
    public async Task<(OAuthToken? Token, OAuthFailure? Failure)> RequestAsync(OAuthTokenRequest request, CancellationToken cancellationToken)
    {
        var settings = request.Settings;
        using var client = http.Client();
        var scope = settings.EffectiveScope.Length == 0 ? null : settings.EffectiveScope;
        TokenResponse response = settings.Grant == OAuthGrant.RefreshToken
            ? await client.RequestRefreshTokenAsync(new RefreshTokenRequest
            {
                Address = settings.TokenEndpoint,
                ClientId = settings.ClientId!,
                ClientSecret = request.Secrets.ClientSecret,
                RefreshToken = request.RefreshToken!,
                Scope = scope,
            }, cancellationToken).ConfigureAwait(false)
            : await client.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
            {
                Address = settings.TokenEndpoint,
                ClientId = settings.ClientId!,
                ClientSecret = request.Secrets.ClientSecret,
                Scope = scope,
            }, cancellationToken).ConfigureAwait(false);

        return Read(request, response, time.GetUtcNow());
    }

    internal static (OAuthToken? Token, OAuthFailure? Failure) Read(OAuthTokenRequest request, TokenResponse response, DateTimeOffset now)
    {
        if (response.ErrorType == ResponseErrorType.Protocol && response.Error is { } error)
        {
            return (null, OAuthErrors.Describe(request, error, response.ErrorDescription));
        }

        if (response.IsError || response.AccessToken is not { Length: > 0 } accessToken)
        {
            var reason = response.ErrorType switch
            {
                ResponseErrorType.Http => $"the token endpoint answered HTTP {(int)response.HttpStatusCode} {response.HttpErrorReason}",
                ResponseErrorType.Exception => $"the token endpoint could not be reached ({response.Exception?.Message ?? response.Error})",
                _ => "the token endpoint's answer has no access token",
            };
            return (null, OAuthErrors.Unreachable(request, reason));
        }

        // A token without expires_in is renewed after an hour, the usual lifetime.
        var expiresIn = response.ExpiresIn > 0 ? response.ExpiresIn : 3600;
        return (new OAuthToken(accessToken, now.AddSeconds(expiresIn), response.RefreshToken), null);
    }
}
