using Herald.Ldap;
using Herald.Notifications.Sync;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald;

public static class LdapServiceCollectionExtensions
{
    /// <summary>Directory sync's LDAP reader (OpenLDAP, Active Directory).</summary>
    public static IServiceCollection AddHeraldLdap(this IServiceCollection services)
    {
        services.TryAddSingleton<IDirectorySourceReader, LdapDirectoryReader>();
        return services;
    }
}
