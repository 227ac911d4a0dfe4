using System.CommandLine;
using Dapper;
using Herald.Credentials;
using Herald.Storage.Database;
using Herald.Web.Health;

namespace Herald.Cli;

/// <summary><c>herald serve</c>: one command starts the node on its data directory.</summary>
internal static partial class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:8025";

    public static Command Create(CliConsole console)
    {
        var urls = new Option<string>("--urls") { Description = $"Where the HTTP API listens (default {DefaultUrls}; several separated by ';').", DefaultValueFactory = _ => DefaultUrls };
        var command = new Command("serve", "Run Herald: HTTP API and, as they arrive, the console, relay listener and delivery workers.") { urls };
        command.SetAction((parse, ct) => RunAsync(HeraldNode.ResolveDataDirectory(parse.GetValue(HeraldCli.DataDirectory), console), parse.GetValue(urls)!, console, ct));
        return command;
    }

    private static async Task<int> RunAsync(string dataDirectory, string urls, CliConsole console, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        builder.Services.AddHeraldNode(dataDirectory, console);
        await using var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Herald");

        var database = app.Services.GetRequiredService<HeraldDatabase>();
        var applied = await database.MigrateAsync(cancellationToken);
        LogDatabase(log, dataDirectory, database.Description, applied);

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

        app.MapHealthApi(async token =>
        {
            await using var connection = await database.OpenAsync(token);
            return await connection.ExecuteScalarAsync<long>("SELECT 1") == 1;
        });

        await app.StartAsync(cancellationToken);
        LogListening(log, app.Urls);
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Data directory {DataDirectory}; database {Database} ({Applied} migration(s) applied now)")]
    private static partial void LogDatabase(ILogger logger, string dataDirectory, string database, int applied);

    [LoggerMessage(Level = LogLevel.Information, Message = "Credential key from {Origin} matches the database")]
    private static partial void LogCredentialKey(ILogger logger, string origin);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No credential key is set: SMTP passwords and client certificates cannot be stored until one is (HERALD_CREDENTIAL_KEY or 'herald key set')")]
    private static partial void LogNoCredentialKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Herald is listening on {Urls} (health: /healthz)")]
    private static partial void LogListening(ILogger logger, ICollection<string> urls);
}
