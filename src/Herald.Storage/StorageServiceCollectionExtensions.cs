using Herald.Credentials;
using Herald.Settings;
using Herald.Storage.Credentials;
using Herald.Storage.Database;
using Herald.Storage.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage;

public static class StorageServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldStorage(this IServiceCollection services, HeraldDatabase database)
    {
        services.AddSingleton(database);
        services.AddSingleton<ISettingsStore, SqlSettingsStore>();
        services.AddSingleton<ICredentialKeyStore, SqlCredentialKeyStore>();
        return services;
    }
}
