using Herald.Delivery;
using Herald.Settings;

namespace Herald.OAuth;

/// <summary>Asks the connection's provider for a token through that provider's own library.</summary>
public sealed class OAuthTokenProviders(OAuthHttp http, TimeProvider time) : IOAuthTokenProvider
{
    private readonly MicrosoftTokens _microsoft = new(http);
    private readonly GoogleTokens _google = new(http, time);
    private readonly GenericTokens _generic = new(http, time);

    public async Task<(OAuthToken? Token, OAuthFailure? Failure)> RequestAsync(OAuthTokenRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return request.Settings.Provider switch
            {
                OAuthProvider.Microsoft => await _microsoft.RequestAsync(request, cancellationToken).ConfigureAwait(false),
                OAuthProvider.Google => await _google.RequestAsync(request, cancellationToken).ConfigureAwait(false),
                _ => await _generic.RequestAsync(request, cancellationToken).ConfigureAwait(false),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, OAuthErrors.Unreachable(request, $"the token endpoint did not answer within {OAuthHttp.Timeout.TotalSeconds:0} s"));
        }
    }
}
