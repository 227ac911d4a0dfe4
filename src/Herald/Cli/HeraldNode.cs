using Herald.Credentials;
using Herald.Outbox;
using Herald.Smtp;
using Herald.Storage;
using Herald.Storage.Database;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Herald.Cli;

/// <summary>Composition: one node's services on one data directory and database, for a CLI verb or for serve.</summary>
internal static class HeraldNode
{
    public const string DataDirectoryVariable = "HERALD_DATA_DIR";
    public const string DatabaseVariable = "HERALD_DATABASE";
    public const string DefaultDataDirectory = "herald-data";

    /// <summary>Environment variables with this prefix are settings: <c>HERALD_Delivery__MaximumAge</c>
    /// is <c>Delivery:MaximumAge</c>, for serve and every verb alike.</summary>
    public const string SettingsPrefix = "HERALD_";

    public const string NodeNameVariable = "HERALD_NODE_NAME";
    public const string NodeTagsVariable = "HERALD_NODE_TAGS";

    /// <summary>The node's tags (<c>--node-tags</c> or HERALD_NODE_TAGS), for serve and for a verb
    /// run on the same machine alike: a test email from the CLI goes only through connections the
    /// node may use.</summary>
    public static string[] NodeTags(string? option, CliConsole console) =>
        (option ?? console.Environment(NodeTagsVariable) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

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
            .AddHeraldLdap()
            .AddSingleton(new MessageSpool(Path.Combine(dataDirectory, MessageSpool.DirectoryName)))
            // A verb delivers nothing itself (what it queues, such as a rule's test notifications,
            // waits for a serving node); serve registers the node it runs as after this one.
            .AddSingleton(new NodeIdentity($"{console.Environment(NodeNameVariable) ?? Environment.MachineName} (herald cli)", NodeTags(null, console)))
            .AddSingleton(provider => new DiskSpaceGuard(
                database is SqliteDatabase ? dataDirectory : null,
                provider.GetRequiredService<IOptions<OutboxOptions>>(),
                provider.GetRequiredService<TimeProvider>()));

    /// <summary>The services for an administrator verb, on a migrated database.</summary>
    public static async Task<ServiceProvider> OpenAsync(string dataDirectory, HeraldDatabase database, CliConsole console, CancellationToken cancellationToken)
    {
        var provider = Open(dataDirectory, database, console);
        await database.MigrateAsync(cancellationToken);
        return provider;
    }

    /// <summary>The services for a verb that looks at the database as it is (<c>herald doctor</c>), unmigrated.</summary>
    public static ServiceProvider Open(string dataDirectory, HeraldDatabase database, CliConsole console) =>
        // Logging goes nowhere in a verb (its output is its sentences), but services may log.
        new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(Settings(console)).AddHeraldNode(dataDirectory, database, console).BuildServiceProvider();

    /// <summary>The settings from the <c>HERALD_…</c> environment variables, as serve reads them.</summary>
    public static IConfiguration Settings(CliConsole console) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(console.Variables()
                .Where(v => v.Key.StartsWith(SettingsPrefix, StringComparison.OrdinalIgnoreCase))
                .Select(v => KeyValuePair.Create(v.Key[SettingsPrefix.Length..].Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal), (string?)v.Value)))
            .Build();

    /// <summary>Null when every library's options are valid; otherwise why not, in a sentence
    /// (what serve says when it refuses to start).</summary>
    public static string? CheckSettings(IServiceProvider provider)
    {
        try
        {
            provider.GetService<IStartupValidator>()?.Validate();
            return null;
        }
        catch (OptionsValidationException ex)
        {
            return ex.Message;
        }
        catch (InvalidOperationException ex)
        {
            // The binder's "Failed to convert configuration value …".
            return ex.InnerException is { } inner ? $"{ex.Message} {inner.Message}" : ex.Message;
        }
    }
}
