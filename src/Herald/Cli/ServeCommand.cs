using System.CommandLine;
using Dapper;
using Herald.Access;
using Herald.Credentials;
using Herald.Listeners;
using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Notifications.Matching;
using Herald.Notifications.Digests;
using Herald.Outbox;
using Herald.Relay;
using Herald.Storage.Database;
using Herald.Web;
using Herald.Web.Console;

namespace Herald.Cli;

/// <summary><c>herald serve</c>: one command starts the node on its data directory.</summary>
internal static partial class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:8025";

    public static Command Create(CliConsole console)
    {
        var urls = new Option<string>("--urls") { Description = $"Where the HTTP API listens (default {DefaultUrls}; several separated by ';').", DefaultValueFactory = _ => DefaultUrls };
        var nodeName = new Option<string?>("--node-name") { Description = "This node's name in leases and delivery history (default: HERALD_NODE_NAME, else the host name)." };
        var nodeTags = new Option<string?>("--node-tags") { Description = "Comma-separated tags: SMTP connections with node tags are used only by nodes carrying one (default: HERALD_NODE_TAGS)." };
        var command = new Command("serve", "Run Herald: HTTP API, relay listeners, outbox and delivery workers.") { urls, nodeName, nodeTags };
        command.SetAction(async (parse, ct) =>
        {
            var dataDirectory = HeraldNode.ResolveDataDirectory(parse.GetValue(HeraldCli.DataDirectory), console);
            HeraldDatabase database;
            try
            {
                database = HeraldNode.ResolveDatabase(parse.GetValue(HeraldCli.Database), dataDirectory, console);
            }
            catch (ArgumentException ex)
            {
                return console.Fail(ex.Message);
            }

            var node = new NodeIdentity(
                parse.GetValue(nodeName) ?? console.Environment("HERALD_NODE_NAME") ?? Environment.MachineName,
                (parse.GetValue(nodeTags) ?? console.Environment("HERALD_NODE_TAGS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            return await RunAsync(dataDirectory, database, node, parse.GetValue(urls)!, console, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(string dataDirectory, HeraldDatabase database, NodeIdentity node, string urls, CliConsole console, CancellationToken cancellationToken)
    {
        if (database.NeverBlocksCaller)
        {
            UseInlineSocketCompletions();
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        // Settings such as HERALD_Delivery__MaximumAge=1.00:00:00 reach the options classes.
        builder.Configuration.AddEnvironmentVariables("HERALD_");
        // One line per request is noise at thousands of messages a second.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddHeraldNode(dataDirectory, database, console);
        builder.Services.AddOptions<DeliveryOptions>().BindConfiguration(DeliveryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(node);
        builder.Services.AddOptions<RelayOptions>().BindConfiguration(RelayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // Links in notifications point at the first --urls entry unless Notifications:PublicBaseUrl says otherwise.
        builder.Services.Configure<NotificationOptions>(o => o.PublicBaseUrl = PublicBaseUrl(urls));
        builder.Services.AddOptions<NotificationOptions>().BindConfiguration(NotificationOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<DeliveryWorker>();
        builder.Services.AddHostedService<NotificationEngine>();
        builder.Services.AddHostedService<DigestScheduler>();

        builder.Services.AddSingleton(provider => ActivatorUtilities.CreateInstance<RelayListenerHost>(provider, dataDirectory));
        builder.Services.AddHostedService(provider => provider.GetRequiredService<RelayListenerHost>());
        builder.Services.AddHeraldWeb();
        // Console cookies and anti-forgery tokens survive a restart and are good on every node:
        // their keys live in the database, sealed with the credential key. A node with a
        // passphrase serves only if it opens the database's key (checked below), so the
        // passphrase being there decides it. Without one, they stay with this node's data.
        var consoleKeysInDatabase = NodePassphrase.ForNode(dataDirectory, console.Environment).Read() is not null;
        var consoleKeyDirectory = Path.Combine(dataDirectory, "console-keys");
        builder.Services.AddConsoleKeyRing(consoleKeysInDatabase, consoleKeyDirectory);
        if (consoleKeysInDatabase)
        {
            // Data Protection warns that a key "may be persisted to storage in unencrypted form"
            // when it has no XML encryptor of its own; ConsoleKeyRing seals every element whole,
            // so the warning would be false. Its errors still show.
            builder.Logging.AddFilter("Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager", LogLevel.Error);
        }

        await using var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Herald");

        var applied = await database.MigrateAsync(cancellationToken);
        LogDatabase(log, dataDirectory, database.Description, applied, node.Name);

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
            return console.Fail(key.Problem!);
        }

        if (key.Key is null)
        {
            LogNoCredentialKey(log);
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

        app.MapHeraldApi(async token =>
        {
            await using var connection = await database.OpenAsync(token);
            return await connection.ExecuteScalarAsync<long>("SELECT 1") == 1;
        });

        await app.StartAsync(cancellationToken);
        LogListening(log, app.Urls);
        await OfferConsoleSetupAsync(app, log, cancellationToken);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    /// <summary>The first URL serve listens on, as recipients would reach it; a wildcard host
    /// (0.0.0.0, [::], *, +) becomes this machine's name.</summary>
    internal static string PublicBaseUrl(string urls)
    {
        var first = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (first is null)
        {
            return NotificationOptions.DefaultPublicBaseUrl;
        }

        var wildcard = System.Text.RegularExpressions.Regex.Match(first, @"^(https?://)(\*|\+|0\.0\.0\.0|\[::\])(:\d+)?/?$");
        if (wildcard.Success)
        {
            first = wildcard.Groups[1].Value + Environment.MachineName.ToLowerInvariant() + wildcard.Groups[3].Value;
        }

        return Uri.TryCreate(first, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url.GetLeftPart(UriPartial.Path).TrimEnd('/')
            : NotificationOptions.DefaultPublicBaseUrl;
    }

    /// <summary>With no administrator yet, the console can only be entered through a one-time link
    /// (or after 'herald admin create'); it goes to the log, which only the operator reads.</summary>
    private static async Task OfferConsoleSetupAsync(WebApplication app, ILogger log, CancellationToken cancellationToken)
    {
        if ((await app.Services.GetRequiredService<AdministratorService>().ListAsync(cancellationToken)).Count > 0)
        {
            return;
        }

        var link = app.Services.GetRequiredService<SetupLink>();
        var token = link.Issue();
        var baseUrl = app.Urls.FirstOrDefault()?.TrimEnd('/') ?? DefaultUrls;
        LogSetupLink(log, $"{baseUrl}/setup?token={token}", SetupLink.Lifetime.TotalMinutes);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No console administrator exists yet. Create the first one within {Minutes} minutes at {Link} (works once), or run 'herald admin create --name NAME'")]
    private static partial void LogSetupLink(ILogger logger, string link, double minutes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Data directory {DataDirectory}; database {Database} ({Applied} migration(s) applied now); node {Node}")]
    private static partial void LogDatabase(ILogger logger, string dataDirectory, string database, int applied, string node);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} spool file(s) of transfers cut off when this node last stopped, from {Directory}")]
    private static partial void LogSpoolOrphans(ILogger logger, int count, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Credential key from {Origin} matches the database")]
    private static partial void LogCredentialKey(ILogger logger, string origin);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No credential key is set: SMTP passwords and client certificates cannot be stored until one is (HERALD_CREDENTIAL_KEY or 'herald key set')")]
    private static partial void LogNoCredentialKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Console sign-in keys are kept in the database, sealed with the credential key: a session or form from one node is good on every node of the database")]
    private static partial void LogConsoleKeysInDatabase(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Console sign-in keys are kept in {Directory}, unencrypted and for this node only, because it had no credential key when it started: a session signed in here is not recognised by another node")]
    private static partial void LogConsoleKeysOnDisk(ILogger logger, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Herald is listening on {Urls} (console: /, health: /healthz, API: /api/v1, OpenAPI: /openapi/v1.json)")]
    private static partial void LogListening(ILogger logger, ICollection<string> urls);

    /// <summary>
    /// On a database that never blocks its caller (SQLite), socket completions (HTTP requests, SMTP replies) continue on the socket
    /// engine's thread instead of hopping to the thread pool first: on 2 cores those hops cost
    /// about 5% of the messages a second (bench/run.sh, SQLite run A: 3,058–3,434 with, 2,954–3,301
    /// without). That is safe only because nothing on those paths blocks: SQLite, the one
    /// synchronous I/O, always moves to the thread pool first (SqliteDatabase.OpenAsync). Not on
    /// PostgreSQL: Npgsql's continuations would run on that one thread too, and under load a
    /// stalled one held up every socket of the node (timeouts, lost deliveries in the benchmark).
    /// Read once, when the first socket is made, so this runs before any; an operator's own
    /// setting of the variable wins.
    /// </summary>
    private static void UseInlineSocketCompletions()
    {
        const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
        }
    }
}
