using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;
using Herald.Delivery;
using Herald.Settings;

namespace Herald.OAuth;

/// <summary>Google Workspace through Google.Apis.Auth: the service account signs a JWT assertion
/// for the mailbox it acts as (domain-wide delegation) and Google's fixed token endpoint answers.</summary>
internal sealed class GoogleTokens(OAuthHttp http, TimeProvider time)
{
    public async Task<(OAuthToken? Token, OAuthFailure? Failure)> RequestAsync(OAuthTokenRequest request, CancellationToken cancellationToken)
    {
        if (request.Settings.Grant == OAuthGrant.RefreshToken)
        {
            // A Google sign-in's refresh token is redeemed like any other provider's, at Google's endpoint.
            var generic = new GenericTokens(http, time);
            return await generic.RequestAsync(
                request with { Settings = request.Settings with { TokenEndpoint = GoogleAuthConsts.OidcTokenUrl } }, cancellationToken).ConfigureAwait(false);
        }

        string email, privateKey;
        using (var document = JsonDocument.Parse(request.Secrets.ServiceAccountKey!))
        {
            email = document.RootElement.GetProperty("client_email").GetString()!;
            privateKey = document.RootElement.GetProperty("private_key").GetString()!;
        }

        var credential = new ServiceAccountCredential(new ServiceAccountCredential.Initializer(email, GoogleAuthConsts.OidcTokenUrl)
        {
            User = request.Connection.Authentication.UserName,
            Scopes = request.Settings.EffectiveScope.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            HttpClientFactory = new Handler(http.Handler),
            Clock = new Clock(time),
        }.FromPrivateKey(privateKey));

        try
        {
            await credential.RequestAccessTokenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (TokenResponseException ex)
        {
            return (null, OAuthErrors.Describe(request, ex.Error?.Error, ex.Error?.ErrorDescription));
        }
        catch (HttpRequestException ex)
        {
            return (null, OAuthErrors.Unreachable(request, $"Google's token endpoint could not be reached ({ex.Message})"));
        }

        var token = credential.Token;
        var expiresIn = token.ExpiresInSeconds is long seconds and > 0 ? seconds : 3600;
        return (new OAuthToken(token.AccessToken, time.GetUtcNow().AddSeconds(expiresIn)), null);
    }

    /// <summary>Google's own HTTP abstraction over the node's handler.</summary>
    private sealed class Handler(HttpMessageHandler handler) : Google.Apis.Http.HttpClientFactory
    {
        // The credential is never disposed, so the node's handler is never disposed through it.
        protected override HttpMessageHandler CreateHandler(Google.Apis.Http.CreateHttpClientArgs args) => handler;
    }

    private sealed class Clock(TimeProvider time) : Google.Apis.Util.IClock
    {
        public DateTime Now => time.GetLocalNow().DateTime;

        public DateTime UtcNow => time.GetUtcNow().UtcDateTime;
    }
}
