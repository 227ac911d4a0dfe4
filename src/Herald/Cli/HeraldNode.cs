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
    public const string MaximumAgeVariable = "HERALD_Delivery__MaximumAge";

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
            .AddHeraldOAuth()
            .AddSingleton(provider => new DiskSpaceGuard(
                database is SqliteDatabase ? dataDirectory : null,
                provider.GetRequiredService<IOptions<OutboxOptions>>(),
                provider.GetRequiredService<TimeProvider>()));

    /// <summary>The one delivery setting a verb uses, from the environment as herald serve reads
    /// it: 'queue retry' gives an expired message a new maximum age, as this node's serve would.</summary>
    /// <exception cref="ArgumentException">The value is not a positive duration.</exception>
    public static TimeSpan? MaximumAge(CliConsole console) => console.Environment(MaximumAgeVariable) switch
    {
        null => null,
        var text when TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var age) && age > TimeSpan.Zero => age,
        var text => throw new ArgumentException($"{MaximumAgeVariable} must be a positive duration such as 5.00:00:00, not '{text}'."),
    };

    /// <summary>The services for an administrator verb, on a migrated database.</summary>
    public static async Task<ServiceProvider> OpenAsync(string dataDirectory, HeraldDatabase database, CliConsole console, CancellationToken cancellationToken)
    {
        // Logging goes nowhere in a verb (its output is its sentences), but services may log.
        var services = new ServiceCollection().AddLogging().AddHeraldNode(dataDirectory, database, console);
        if (MaximumAge(console) is { } age)
        {
            services.Configure<DeliveryOptions>(o => o.MaximumAge = age);
        }

        var provider = services.BuildServiceProvider();
        await database.MigrateAsync(cancellationToken);
        return provider;
    }
}
