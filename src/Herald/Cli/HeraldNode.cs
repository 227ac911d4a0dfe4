using Herald.Credentials;
using Herald.Outbox;
using Herald.Smtp;
using Herald.Storage;
using Herald.Storage.Database;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Herald.Cli;

/// <summary>Composition: one node's services on one data directory and database, for a CLI verb or for serve.</summary>
internal static class HeraldNode
{
    public const string DataDirectoryVariable = "HERALD_DATA_DIR";
    public const string DatabaseVariable = "HERALD_DATABASE";
    public const string DefaultDataDirectory = "herald-data";

    public static string ResolveDataDirectory(string? option, CliConsole console) =>
        Path.GetFullPath(option ?? console.Environment(DataDirectoryVariable) ?? DefaultDataDirectory);

    /// <summary>The node's database: PostgreSQL when --database or HERALD_DATABASE names one,
    /// otherwise SQLite in the data directory.</summary>
    public static HeraldDatabase ResolveDatabase(string? option, string dataDirectory, CliConsole console) =>
        HeraldDatabases.Open(option ?? console.Environment(DatabaseVariable), dataDirectory);

    public static IServiceCollection AddHeraldNode(this IServiceCollection services, string dataDirectory, HeraldDatabase database, CliConsole console) =>
        services
            .AddMetrics()
            .AddHeraldCore(NodePassphrase.ForNode(dataDirectory, console.Environment))
            .AddHeraldStorage(database)
            .AddHeraldSmtp()
            .AddSingleton(provider => new DiskSpaceGuard(
                database is SqliteDatabase ? dataDirectory : null,
                provider.GetRequiredService<IOptions<OutboxOptions>>(),
                provider.GetRequiredService<TimeProvider>()));

    /// <summary>The services for an administrator verb, on a migrated database.</summary>
    public static async Task<ServiceProvider> OpenAsync(string dataDirectory, HeraldDatabase database, CliConsole console, CancellationToken cancellationToken)
    {
        var provider = new ServiceCollection().AddHeraldNode(dataDirectory, database, console).BuildServiceProvider();
        await database.MigrateAsync(cancellationToken);
        return provider;
    }
}
