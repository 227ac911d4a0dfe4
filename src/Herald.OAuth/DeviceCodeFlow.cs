using Duende.IdentityModel.Client;
using Herald.Delivery;
using Herald.Settings;

namespace Herald.OAuth;

/// <summary>
/// The device authorization grant (RFC 8628) through Duende.IdentityModel, for any authorization
/// server that has a device authorization endpoint: a device code and a user code are asked for,
/// the person is shown where to enter the user code, and the token endpoint is polled at the
/// interval the server asks for until the code is approved, denied or expired.
/// </summary>
internal sealed class DeviceCodeFlow(OAuthHttp http, TimeProvider time)
{
    /// <summary>RFC 8628 §3.5: a server that says "slow_down" wants five seconds more between polls.</summary>
    private static readonly TimeSpan SlowDown = TimeSpan.FromSeconds(5);

    public async Task<(string? RefreshToken, string? Account, OAuthFailure? Failure)> RunAsync(
        OAuthTokenRequest request, string deviceEndpoint, string tokenEndpoint, string scope,
        Func<OAuthDeviceCode, CancellationToken, Task> show, CancellationToken cancellationToken)
    {
        var settings = request.Settings;
        using var client = http.Client();
        var authorization = await client.RequestDeviceAuthorizationAsync(new DeviceAuthorizationRequest
        {
            Address = deviceEndpoint,
            ClientId = settings.ClientId!,
            ClientSecret = request.Secrets.ClientSecret,
            Scope = scope,
        }, cancellationToken).ConfigureAwait(false);
        if (authorization.IsError || authorization.DeviceCode is null || authorization.UserCode is null)
        {
            return (null, null, authorization.ErrorType == ResponseErrorType.Protocol && authorization.Error is { } error
                ? OAuthErrors.Describe(request, error, authorization.ErrorDescription)
                : OAuthErrors.Unreachable(request, $"the device authorization endpoint {deviceEndpoint} gave no device code ({authorization.Error ?? "no answer"})"));
        }

        // The code is valid for what the server says; fifteen minutes when it does not say.
        var expiresOn = time.GetUtcNow().AddSeconds(authorization.ExpiresIn is int seconds and > 0 ? seconds : 900);
        await show(new OAuthDeviceCode(authorization.VerificationUri ?? deviceEndpoint, authorization.UserCode, expiresOn), cancellationToken).ConfigureAwait(false);

        var interval = TimeSpan.FromSeconds(authorization.Interval > 0 ? authorization.Interval : 5);
        while (true)
        {
            await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
            var response = await client.RequestDeviceTokenAsync(new DeviceTokenRequest
            {
                Address = tokenEndpoint,
                ClientId = settings.ClientId!,
                ClientSecret = request.Secrets.ClientSecret,
                DeviceCode = authorization.DeviceCode,
            }, cancellationToken).ConfigureAwait(false);

            switch (response.Error)
            {
                case "authorization_pending" when time.GetUtcNow() < expiresOn:
                    continue;
                case "slow_down" when time.GetUtcNow() < expiresOn:
                    interval += SlowDown;
                    continue;
                case "authorization_pending" or "slow_down":
                    // The server still waits, but the code it gave has expired by now.
                    return (null, null, OAuthErrors.Describe(request, "expired_token", null));
            }

            var (token, failure) = GenericTokens.Read(request, response, time.GetUtcNow());
            return token is null ? (null, null, failure) : (token.RotatedRefreshToken, null, null);
        }
    }
}
