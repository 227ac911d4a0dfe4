using Herald.Credentials;
using Herald.Smtp;
using Herald.Storage;
using Herald.Storage.Database;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary>Composition: one node's services on one data directory, for a CLI verb or for serve.</summary>
internal static class HeraldNode
{
    public const string DataDirectoryVariable = "HERALD_DATA_DIR";
    public const string DefaultDataDirectory = "herald-data";

    public static string ResolveDataDirectory(string? option, CliConsole console) =>
        Path.GetFullPath(option ?? console.Environment(DataDirectoryVariable) ?? DefaultDataDirectory);

    public static IServiceCollection AddHeraldNode(this IServiceCollection services, string dataDirectory, CliConsole console) =>
        services
            .AddHeraldCore(NodePassphrase.ForNode(dataDirectory, console.Environment))
            .AddHeraldStorage(new SqliteDatabase(dataDirectory))
            .AddHeraldSmtp();

    /// <summary>The services for an administrator verb, on a migrated database.</summary>
    public static async Task<ServiceProvider> OpenAsync(string dataDirectory, CliConsole console, CancellationToken cancellationToken)
    {
        var provider = new ServiceCollection().AddHeraldNode(dataDirectory, console).BuildServiceProvider();
        await provider.GetRequiredService<HeraldDatabase>().MigrateAsync(cancellationToken);
        return provider;
    }
}
