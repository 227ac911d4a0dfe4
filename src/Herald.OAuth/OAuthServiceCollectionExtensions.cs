using Herald.Delivery;
using Herald.OAuth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald;

public static class OAuthServiceCollectionExtensions
{
    /// <summary>OAuth 2.0 access tokens for SMTP connections: the providers' libraries behind
    /// <see cref="IOAuthTokenProvider"/>, over one HTTP stack for the node.</summary>
    public static IServiceCollection AddHeraldOAuth(this IServiceCollection services)
    {
        services.TryAddSingleton<OAuthHttp>(_ => new OAuthHttp());
        services.TryAddSingleton<IOAuthTokenProvider, OAuthTokenProviders>();
        services.TryAddSingleton<Herald.Settings.IOAuthSignIn, OAuthSignIn>();
        return services;
    }
}
