using System.CommandLine;
using Herald.Access;
using Herald.Notifications;
using Herald.Outbox;
using Herald.Settings;
using Herald.Storage.Database;
using Herald.Web.Console;

namespace Herald.Cli;

/// <summary><c>herald serve</c>: one command starts the node on its data directory.</summary>
internal static partial class ServeCommand
{
    public const string DefaultUrls = "http://127.0.0.1:8025";
    public const string UrlsVariable = "HERALD_URLS";
    public const string LogFormatVariable = "HERALD_LOG_FORMAT";

    public static Command Create(CliConsole console)
    {
        var urls = new Option<string?>("--urls") { Description = $"Where the HTTP API listens, several separated by ';' (default: ${UrlsVariable}, else {DefaultUrls})." };
        var nodeName = new Option<string?>("--node-name") { Description = "This node's name in leases and delivery history (default: HERALD_NODE_NAME, else the host name)." };
        var nodeTags = new Option<string?>("--node-tags") { Description = "Comma-separated tags: SMTP connections with node tags are used only by nodes carrying one (default: HERALD_NODE_TAGS)." };
        var logFormat = new Option<string?>("--log-format") { Description = $"How the log is written to standard output: 'simple' (one readable line per event) or 'json' (one JSON object per line, for journald, Loki or Elasticsearch) (default: ${LogFormatVariable}, else simple)." };
        var command = new Command("serve", "Run Herald: HTTP API, relay listeners, outbox and delivery workers.") { urls, nodeName, nodeTags, logFormat };
        command.SetAction(async (parse, ct) =>
        {
            var (dataDirectory, database, unusable) = HeraldCli.ResolveNode(parse, console);
            if (database is null)
            {
                return console.Fail(unusable!);
            }

            var format = parse.GetValue(logFormat) ?? console.Environment(LogFormatVariable) ?? "simple";
            if (format is not ("simple" or "json"))
            {
                return console.Fail($"The log format '{format}' is not known: use 'simple' or 'json' (--log-format, or {LogFormatVariable}).");
            }

            var node = new NodeIdentity(
                parse.GetValue(nodeName) ?? console.Environment(HeraldNode.NodeNameVariable) ?? Environment.MachineName,
                HeraldNode.NodeTags(parse.GetValue(nodeTags), console));
            return await RunAsync(dataDirectory, database, node, parse.GetValue(urls) ?? console.Environment(UrlsVariable) ?? DefaultUrls, format == "json", console, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(string dataDirectory, HeraldDatabase database, NodeIdentity node, string urls, bool jsonLogs, CliConsole console, CancellationToken cancellationToken)
    {
        if (database.NeverBlocksCaller)
        {
            UseInlineSocketCompletions();
        }

        var (started, problem) = await HeraldHost.StartAsync(new HeraldHostOptions(dataDirectory, database, node, urls, console)
        {
            // ASP.NET Core's own JSON console formatter: one object per line, timestamps in UTC.
            // (Logging:Console:FormatterName=json in configuration does the same.)
            Configure = jsonLogs ? builder => builder.Logging.AddJsonConsole(json => { json.UseUtcTimestamp = true; json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; }) : null,
        }, cancellationToken);
        if (started is null)
        {
            return console.Fail(problem!);
        }

        await using var app = started;
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Herald");
        LogListening(log, app.Urls);
        if ((await app.Services.GetRequiredService<PublicUrlService>().ShowAsync(cancellationToken)).Warning is { } publicUrlWarning)
        {
            LogPublicUrl(log, publicUrlWarning);
        }

        await OfferConsoleSetupAsync(app, log, cancellationToken);
        await app.WaitForShutdownAsync(cancellationToken);
        // A loop that ended on a fatal runtime error stopped the host: say so with the exit code,
        // so that a supervisor sees a failure and restarts the node.
        if (app.Services.GetServices<IHostedService>().OfType<BackgroundService>().FirstOrDefault(s => s.ExecuteTask is { IsFaulted: true }) is { } died)
        {
            return console.Fail($"{died.GetType().Name} stopped on a fatal error ({died.ExecuteTask!.Exception!.InnerException?.Message}); herald serve stopped with it.");
        }

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
        if (await app.Services.GetRequiredService<AdministratorService>().AnyAsync(cancellationToken))
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogPublicUrl(ILogger logger, string warning);

    [LoggerMessage(Level = LogLevel.Information, Message = "Herald is listening on {Urls} (console: /, health: /healthz and /readyz, API: /api/v1, OpenAPI: /openapi/v1.json)")]
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
