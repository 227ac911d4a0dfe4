using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Herald.Bench;
using Herald.Bench.Processes;
using Herald.Bench.Report;

// Herald's end-to-end benchmark: messages posted through the HTTP API, delivered by a real
// `herald serve` to smtp-sink, for each storage engine. bench/run.sh builds and runs it.

var herald = new Option<string>("--herald") { Description = "Path to herald.dll (a Release build).", Required = true };
var repositoryRoot = new Option<string?>("--repository-root") { Description = "The Herald checkout (for tests/fixtures/postgres); default: found above this program." };
var workDirectory = new Option<string?>("--work-dir") { Description = "Where data directories, databases and logs go (default: a new directory under /tmp)." };
var keep = new Option<bool>("--keep") { Description = "Keep the work directory (it is always kept when something failed)." };
var engines = new Option<string>("--engines") { Description = "Storage engines to run, comma-separated.", DefaultValueFactory = _ => "sqlite,postgres" };
var messages = new Option<int>("--messages") { Description = "Run A: messages posted as fast as possible.", DefaultValueFactory = _ => 20_000 };
var concurrency = new Option<int>("--concurrency") { Description = "Run A: requests in flight.", DefaultValueFactory = _ => 64 };
var batch = new Option<int>("--batch") { Description = "Run A: messages per request (more than 1 uses POST /api/v1/messages/batch).", DefaultValueFactory = _ => 1 };
var size = new Option<int>("--size") { Description = "Bytes of text in each message body.", DefaultValueFactory = _ => 1024 };
var rate = new Option<int>("--rate") { Description = "Run B: messages per second offered.", DefaultValueFactory = _ => 500 };
var duration = new Option<int>("--duration") { Description = "Run B: seconds.", DefaultValueFactory = _ => 20 };
var warmup = new Option<int>("--warmup") { Description = "Messages sent (and delivered) before run A, not measured: enough for the JIT to reach steady state.", DefaultValueFactory = _ => 20_000 };
var connectionLimit = new Option<int>("--connection-limit") { Description = "herald smtp set --connection-limit: SMTP sessions to smtp-sink at once.", DefaultValueFactory = _ => 32 };
var stallTimeout = new Option<int>("--stall-timeout") { Description = "Seconds without a delivery after which a run stops waiting for the rest.", DefaultValueFactory = _ => 60 };
var timeLimit = new Option<int>("--time-limit") { Description = "Seconds the whole benchmark may take.", DefaultValueFactory = _ => 1800 };

var root = new RootCommand("Herald end-to-end benchmark: API → outbox → smtp-sink, for SQLite and PostgreSQL.")
{
    herald, repositoryRoot, workDirectory, keep, engines, messages, concurrency, batch, size, rate, duration, warmup, connectionLimit, stallTimeout, timeLimit,
};

using var children = new ChildProcesses();
using var stop = new CancellationTokenSource();
var signals = 0;
void OnSignal(PosixSignalContext context)
{
    if (Interlocked.Increment(ref signals) == 1)
    {
        // First Ctrl-C or SIGTERM: unwind, stopping every process on the way out.
        context.Cancel = true;
        Console.Error.WriteLine("Stopping: ending Herald, smtp-sink and PostgreSQL…");
        stop.Cancel();
    }
    else
    {
        children.KillAll();
    }
}

using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
AppDomain.CurrentDomain.ProcessExit += (_, _) => children.KillAll();

root.SetAction(async (parse, _) =>
{
    var heraldDll = Path.GetFullPath(parse.GetValue(herald)!);
    if (!File.Exists(heraldDll))
    {
        Console.Error.WriteLine($"{heraldDll} does not exist; build src/Herald first (bench/run.sh does).");
        return 2;
    }

    var selected = parse.GetValue(engines)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    if (selected.Length == 0 || selected.Any(e => e is not ("sqlite" or "postgres")))
    {
        Console.Error.WriteLine("--engines takes sqlite, postgres or both.");
        return 2;
    }

    var options = new BenchOptions(
        heraldDll,
        Path.GetFullPath(parse.GetValue(repositoryRoot) ?? FindRepositoryRoot()),
        Path.GetFullPath(parse.GetValue(workDirectory) ?? Path.Combine(Path.GetTempPath(), $"herald-bench-{Environment.ProcessId}")),
        selected,
        Math.Max(1, parse.GetValue(messages)),
        Math.Max(1, parse.GetValue(concurrency)),
        Math.Max(1, parse.GetValue(batch)),
        Math.Max(64, parse.GetValue(size)),
        Math.Max(1, parse.GetValue(rate)),
        TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(duration))),
        Math.Max(0, parse.GetValue(warmup)),
        Math.Max(1, parse.GetValue(connectionLimit)),
        TimeSpan.FromSeconds(Math.Max(5, parse.GetValue(stallTimeout))));
    Directory.CreateDirectory(options.WorkDirectory);

    using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
    limit.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(timeLimit)));
    using var http = new HttpClient(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 4096,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
    })
    { Timeout = TimeSpan.FromSeconds(60) };

    var figures = new List<RunFigures>();
    var problems = new List<string>();
    var benchmark = new EngineBenchmark(options, children, http, Console.Error);
    foreach (var engine in options.Engines)
    {
        try
        {
            figures.AddRange(await benchmark.RunAsync(engine, limit.Token));
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            problems.Add(stop.IsCancellationRequested ? $"{engine}: interrupted." : $"{engine}: stopped at the time limit ({parse.GetValue(timeLimit)} s).");
            break;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or IOException or DbException or FormatException)
        {
            problems.Add($"{engine}: {e.Message}");
        }
    }

    Console.WriteLine();
    Console.WriteLine(Header(options));
    Console.WriteLine();
    Console.Write(ResultTable.Format(figures));
    foreach (var problem in problems)
    {
        Console.WriteLine("not measured: " + problem);
    }

    if (problems.Count > 0 || parse.GetValue(keep))
    {
        Console.WriteLine($"Logs and data: {options.WorkDirectory}");
    }
    else
    {
        TryDelete(options.WorkDirectory);
    }

    return stop.IsCancellationRequested ? 130 : problems.Count > 0 ? 1 : 0;
});

return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

static string Header(BenchOptions options) => string.Join('\n',
    $"Herald end-to-end benchmark: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}",
    $"Each message: {options.BodyBytes} bytes of text, one recipient; upstream smtp-sink on 127.0.0.1; herald smtp set --connection-limit {options.ConnectionLimit}.",
    $"A: {options.Messages.ToString("#,0", CultureInfo.InvariantCulture)} messages posted with {options.Concurrency} requests in flight" +
        (options.Batch > 1 ? $" ({options.Batch} per request)" : "") + "; msgs/s from the first POST until smtp-sink counted the last.",
    $"B: {options.Rate} messages/s offered (open loop) for {options.Duration.TotalSeconds:0} s.",
    "ack: HTTP round trip of a POST (202 once durable); delivery: herald_delivery_latency_seconds, acceptance to the upstream's 250.");

static string FindRepositoryRoot()
{
    foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Herald.slnx")))
            {
                return directory.FullName;
            }
        }
    }

    return Environment.CurrentDirectory;
}

static void TryDelete(string directory)
{
    try
    {
        Directory.Delete(directory, recursive: true);
    }
    catch (IOException)
    {
        Console.Error.WriteLine($"Could not delete {directory}.");
    }
    catch (UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"Could not delete {directory}.");
    }
}
