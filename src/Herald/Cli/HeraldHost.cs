using Herald.Access;
using Herald.Credentials;
using Herald.Listeners;
using Herald.Notifications;
using Herald.Notifications.Digests;
using Herald.Notifications.FanOut;
using Herald.Outbox;
using Herald.Relay;
using Herald.Storage.Database;
using Herald.Web;
using Herald.Web.Console;
using Herald.Web.Metrics;
using Microsoft.Extensions.Options;

namespace Herald.Cli;

/// <summary>Where a node runs: its data directory and database, its name and tags, the URLs its
/// HTTP host listens on, and the console whose environment holds the credential key.</summary>
internal sealed record HeraldHostOptions(string DataDirectory, HeraldDatabase Database, NodeIdentity Node, string Urls, CliConsole Console)
{
    /// <summary>Applied after the node is composed and before it is built. Serve leaves it null;
    /// a test uses it for what an operator gives through <c>HERALD_…</c> variables, and for where logs go.</summary>
    public Action<WebApplicationBuilder>? Configure { get; init; }
}

/// <summary>
/// A node as <c>herald serve</c> composes and starts it: HTTP API and console, relay listeners,
/// delivery, notifications and digests on one database. Serve runs it; tests that must exercise the
/// real composition (the authorization matrix) start the same host in process.
/// </summary>
internal static partial class HeraldHost
{
    /// <summary>Builds the node, migrates its database, checks the credential key and starts it;
    /// the started application, or the sentence that says why it did not start.</summary>
    public static async Task<(WebApplication? App, string? Problem)> StartAsync(HeraldHostOptions options, CancellationToken cancellationToken)
    {
        var (dataDirectory, database, node, urls, console) = (options.DataDirectory, options.Database, options.Node, options.Urls, options.Console);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        // Settings such as HERALD_Delivery__MaximumAge=1.00:00:00 reach the options classes, read
        // as every verb reads them (the environment, then the service's settings file).
        builder.Configuration.AddConfiguration(HeraldNode.Settings(console));
        // One line per request is noise at thousands of messages a second.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Links in notifications point at the first --urls entry unless Notifications:PublicBaseUrl
        // says otherwise: registered before the libraries bind their options, so configuration wins.
        builder.Services.Configure<NotificationOptions>(o => o.PublicBaseUrl = ServeCommand.PublicBaseUrl(urls));
        // Each library binds and validates its own options (AddHeraldCore, AddHeraldSmtp), from
        // the configuration above: a value out of range stops serve with a sentence.
        builder.Services.AddHeraldNode(dataDirectory, database, console);
        builder.Services.AddSingleton(node);
        builder.Services.AddHeraldWorkers();
        // A background loop that dies (only a fatal runtime error ends one) stops the node, loudly,
        // instead of leaving it to answer /healthz while it delivers nothing.
        builder.Services.Configure<HostOptions>(o => o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost);

        builder.Services.AddSingleton(provider => ActivatorUtilities.CreateInstance<RelayListenerHost>(provider, dataDirectory));
        builder.Services.AddHostedService(provider => provider.GetRequiredService<RelayListenerHost>());
        builder.Services.AddHeraldWeb();
        // OpenTelemetry's standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, …)
        // from the environment or the service's settings file: OTLP export when one is set.
        builder.Configuration.AddInMemoryCollection(console.Variables()
            .Where(v => v.Key.StartsWith("OTEL_", StringComparison.OrdinalIgnoreCase))
            .Select(v => KeyValuePair.Create(v.Key, (string?)v.Value)));
        builder.Services.AddHeraldTelemetry(builder.Configuration, node.Name);
        // Console cookies and anti-forgery tokens survive a restart and are good on every node:
        // their keys live in the database, sealed with the credential key. A node with a
        // passphrase serves only if it opens the database's key (checked below), so the
        // passphrase being there decides it. Without one, they stay with this node's data.
        var consoleKeysInDatabase = NodePassphrase.ForNode(dataDirectory, console.Environment).Read() is not null;
        var consoleKeyDirectory = Path.Combine(dataDirectory, "console-keys");
        builder.Services.AddConsoleKeyRing(consoleKeysInDatabase, consoleKeyDirectory);

        options.Configure?.Invoke(builder);
        var app = builder.Build();
        try
        {
            var problem = await PrepareAsync(app, options, consoleKeysInDatabase, consoleKeyDirectory, cancellationToken);
            if (problem is null)
            {
                return (app, null);
            }

            await app.DisposeAsync();
            return (null, problem);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private static async Task<string?> PrepareAsync(WebApplication app, HeraldHostOptions options, bool consoleKeysInDatabase, string consoleKeyDirectory, CancellationToken cancellationToken)
    {
        var database = options.Database;
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Herald");
        var applied = await database.MigrateAsync(cancellationToken);
        LogDatabase(log, options.DataDirectory, database.Description, applied, options.Node.Name);

        // A node killed mid-transfer left its spool files; nothing refers to them any more.
        var spool = app.Services.GetRequiredService<MessageSpool>();
        if (spool.RemoveOrphans() is > 0 and var orphans)
        {
            LogSpoolOrphans(log, orphans, spool.Directory);
        }

        // A node whose key differs from the database's would send with garbage credentials: refuse.
        var vault = app.Services.GetRequiredService<CredentialVault>();
        var key = await vault.GetKeyAsync(initializeDatabase: true, cancellationToken);
        if (key.Key is null && key != CredentialKeyStatus.NotConfigured)
        {
            return key.Problem!;
        }

        if (key.Key is null)
        {
            LogNoCredentialKey(log, vault.Passphrase.KeyFilePath);
        }
        else
        {
            LogCredentialKey(log, vault.Passphrase.Origin);
        }

        if (consoleKeysInDatabase)
        {
            LogConsoleKeysInDatabase(log);
        }
        else
        {
            LogConsoleKeysOnDisk(log, consoleKeyDirectory);
        }

        app.MapHeraldApi();

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (OptionsValidationException ex)
        {
            // A setting out of range (HERALD_Section__Name) stops serve with the sentence that names it.
            return $"A setting is not valid: {string.Join(" ", ex.Failures)}";
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Data directory {DataDirectory}; database {Database} ({Applied} migration(s) applied now); node {Node}")]
    private static partial void LogDatabase(ILogger logger, string dataDirectory, string database, int applied, string node);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} spool file(s) of transfers cut off when this node last stopped, from {Directory}")]
    private static partial void LogSpoolOrphans(ILogger logger, int count, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Credential key from {Origin} matches the database")]
    private static partial void LogCredentialKey(ILogger logger, string origin);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No credential key is set: SMTP passwords and other secrets cannot be stored, and console sign-ins are good on this node only. Next: run 'herald key set' (it reads a passphrase from standard input and writes {KeyFile}), or set HERALD_CREDENTIAL_KEY or HERALD_CREDENTIAL_KEY_FILE, with the same passphrase on every node of this database; then restart herald serve")]
    private static partial void LogNoCredentialKey(ILogger logger, string keyFile);

    [LoggerMessage(Level = LogLevel.Information, Message = "Console sign-in keys are kept in the database, sealed with the credential key: a session or form from one node is good on every node of the database")]
    private static partial void LogConsoleKeysInDatabase(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Console sign-in keys are kept in {Directory}, unencrypted and for this node only, because it had no credential key when it started: a session signed in here is not recognised by another node")]
    private static partial void LogConsoleKeysOnDisk(ILogger logger, string directory);
}
