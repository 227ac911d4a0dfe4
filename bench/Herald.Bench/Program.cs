using System.CommandLine;
using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Herald.Bench;
using Herald.Bench.Load;
using Herald.Bench.Processes;
using Herald.Bench.Report;

// Herald's end-to-end benchmarks, built and run by bench/run.sh. Without a subcommand: messages
// posted through the HTTP API, delivered by a real `herald serve` to smtp-sink, for each storage
// engine. `relay`: smtp-source → Herald's relay listener → smtp-sink, and the same through a
// private Postfix. Options marked "(all)" apply to both.

var herald = new Option<string>("--herald") { Description = "(all) Path to herald.dll (a Release build).", Required = true, Recursive = true };
var repositoryRoot = new Option<string?>("--repository-root") { Description = "(all) The Herald checkout (for tests/fixtures); default: found above this program.", Recursive = true };
var workDirectory = new Option<string?>("--work-dir") { Description = "(all) Where data directories, databases and logs go (default: a new directory under /tmp).", Recursive = true };
var keep = new Option<bool>("--keep") { Description = "(all) Keep the work directory (it is always kept when something failed).", Recursive = true };
var engines = new Option<string>("--engines") { Description = "Storage engines to run, comma-separated.", DefaultValueFactory = _ => "sqlite,postgres" };
var messages = new Option<int>("--messages") { Description = "(all) Run A: messages posted as fast as possible; relay: messages smtp-source sends.", DefaultValueFactory = _ => 20_000, Recursive = true };
var concurrency = new Option<int>("--concurrency") { Description = "Run A: requests in flight.", DefaultValueFactory = _ => 64 };
var batch = new Option<int>("--batch") { Description = "Run A: messages per request (more than 1 uses POST /api/v1/messages/batch).", DefaultValueFactory = _ => 1 };
var size = new Option<int>("--size") { Description = "(all) Bytes of text in each message body (relay: smtp-source -l, after its few header lines).", DefaultValueFactory = _ => 1024, Recursive = true };
var rate = new Option<int>("--rate") { Description = "Run B: messages per second offered.", DefaultValueFactory = _ => 500 };
var duration = new Option<int>("--duration") { Description = "Run B: seconds.", DefaultValueFactory = _ => 20 };
var warmup = new Option<int>("--warmup") { Description = "Messages sent (and delivered) before run A, not measured: enough for the JIT to reach steady state.", DefaultValueFactory = _ => 20_000 };
var connectionLimit = new Option<int>("--connection-limit") { Description = "(all) herald smtp set --connection-limit: SMTP sessions to smtp-sink at once.", DefaultValueFactory = _ => 32, Recursive = true };
var stallTimeout = new Option<int>("--stall-timeout") { Description = "(all) Seconds without a delivery after which a run stops waiting for the rest.", DefaultValueFactory = _ => 60, Recursive = true };
var timeLimit = new Option<int>("--time-limit") { Description = "(all) Seconds the whole benchmark may take.", DefaultValueFactory = _ => 1800, Recursive = true };

var relays = new Option<string>("--relays") { Description = "Relays to run, in this order, comma-separated.", DefaultValueFactory = _ => "herald,postfix" };
var sessions = new Option<int>("--sessions") { Description = "smtp-source -s: sessions in parallel, each sending message after message (-d).", DefaultValueFactory = _ => 20 };
var relayWarmup = new Option<int>("--warmup") { Description = "Messages sent through each relay (and delivered) before the measured run, not measured.", DefaultValueFactory = _ => 2_000 };
var greetingDelay = new Option<int?>("--greeting-delay-ms") { Description = "HERALD_Relay__GreetingDelay for herald serve, in milliseconds (default: Herald's own, 250)." };
var relay = new System.CommandLine.Command("relay", "smtp-source → relay → smtp-sink, for Herald's relay listener and a private Postfix (needs root), in the same run.")
{
    relays, sessions, relayWarmup, greetingDelay,
};

var members = new Option<int>("--members") { Description = "Users in the group the event goes to.", DefaultValueFactory = _ => 100_000 };
var explain = new Option<string>("--explain") { Description = "Explain records: on, off, or both (one run each, to compare time and database growth).", DefaultValueFactory = _ => "both" };
var fanout = new System.CommandLine.Command("fanout", "One event to a group subscription of --members users (SQLite), until smtp-sink counted one mail per member.")
{
    members, explain,
};

var outageEngine = new Option<string>("--engine") { Description = "Storage engine: sqlite or postgres.", DefaultValueFactory = _ => "sqlite" };
var outageConcurrency = new Option<int>("--concurrency") { Description = "Requests in flight, in the fresh run and while the upstream is down.", DefaultValueFactory = _ => 64 };
var outageWarmup = new Option<int>("--warmup") { Description = "Messages sent (and delivered) before the fresh run, not measured.", DefaultValueFactory = _ => 20_000 };
var fresh = new Option<int>("--fresh") { Description = "Messages of the fresh run (upstream up) whose rate the drain is compared with; 0 skips it.", DefaultValueFactory = _ => 20_000 };
var rest = new Option<int>("--rest") { Description = "Seconds the node rests with the backlog, upstream down, before it comes back.", DefaultValueFactory = _ => 60 };
var firstDelivery = new Option<int>("--first-delivery-timeout") { Description = "Seconds the drain may take to deliver its first message after the upstream is back.", DefaultValueFactory = _ => 1800 };
var outage = new System.CommandLine.Command("outage", "The upstream down while --messages (default 1,000,000) are posted, then back: acceptance rate, RSS, connection attempts, drain rate.")
{
    outageEngine, outageConcurrency, outageWarmup, fresh, rest, firstDelivery,
};

var kills = new Option<int>("--kills") { Description = "SIGKILLs of herald serve, each followed by a restart.", DefaultValueFactory = _ => 200 };
var chaosEngine = new Option<string>("--engine") { Description = "sqlite or postgres.", DefaultValueFactory = _ => "sqlite" };
var apiProducers = new Option<int>("--api-producers") { Description = "Clients submitting through the API at once.", DefaultValueFactory = _ => 8 };
var relayProducers = new Option<int>("--relay-producers") { Description = "Relay sessions sending at once.", DefaultValueFactory = _ => 2 };
var maximumUptime = new Option<double>("--max-uptime") { Description = "Longest a node runs between kills, in seconds (each uptime is random from a tenth of it).", DefaultValueFactory = _ => 3.0 };
var seed = new Option<int>("--seed") { Description = "Seed of the kill moments (printed, so that a run can be repeated).", DefaultValueFactory = _ => Environment.TickCount };
var chaos = new System.CommandLine.Command("chaos", "API and relay submissions while herald serve is killed (SIGKILL) and restarted at random moments; prints acknowledged, delivered, lost and duplicated.")
{
    kills, chaosEngine, apiProducers, relayProducers, maximumUptime, seed,
};

var memorySessions = new Option<int>("--sessions") { Description = "Relay sessions sending at once, one message each.", DefaultValueFactory = _ => 100 };
var messageBytes = new Option<int>("--message-bytes") { Description = "Size of each message, headers included.", DefaultValueFactory = _ => 25 * 1024 * 1024 };
var relayMemory = new System.CommandLine.Command("relay-memory", "--sessions (100) relay sessions at once, each sending one --message-bytes (25 MiB) message: herald serve's peak RSS, and every message compared byte for byte at smtp-sink -d.")
{
    memorySessions, messageBytes,
};

var root = new RootCommand("Herald end-to-end benchmark: API → outbox → smtp-sink, for SQLite and PostgreSQL; `relay`: SMTP relay against Postfix.")
{
    herald, repositoryRoot, workDirectory, keep, engines, messages, concurrency, batch, size, rate, duration, warmup, connectionLimit, stallTimeout, timeLimit, relay, fanout, outage, chaos, relayMemory,
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
        Console.Error.WriteLine("Stopping: ending Herald, smtp-sink, PostgreSQL and Postfix…");
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

root.SetAction((parse, _) => RunAsync(parse, async (common, limit) =>
{
    var selected = parse.GetValue(engines)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    if (selected.Length == 0 || selected.Any(e => e is not ("sqlite" or "postgres")))
    {
        throw new ArgumentException("--engines takes sqlite, postgres or both.");
    }

    var options = new BenchOptions(
        common.HeraldDll,
        common.RepositoryRoot,
        common.WorkDirectory,
        selected,
        common.Messages,
        Math.Max(1, parse.GetValue(concurrency)),
        Math.Max(1, parse.GetValue(batch)),
        Math.Max(64, common.BodyBytes),
        Math.Max(1, parse.GetValue(rate)),
        TimeSpan.FromSeconds(Math.Max(1, parse.GetValue(duration))),
        Math.Max(0, parse.GetValue(warmup)),
        common.ConnectionLimit,
        common.StallTimeout);

    var figures = new List<RunFigures>();
    var benchmark = new EngineBenchmark(options, children, common.Http, Console.Error);
    var problems = await EachAsync(options.Engines, async engine => figures.AddRange(await benchmark.RunAsync(engine, limit.Token)), limit, parse.GetValue(timeLimit));
    return (Header(options) + "\n\n" + ResultTable.Format(figures), problems);
}));

relay.SetAction((parse, _) => RunAsync(parse, async (common, limit) =>
{
    var selected = parse.GetValue(relays)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    if (selected.Length == 0 || selected.Any(r => r is not ("herald" or "postfix")))
    {
        throw new ArgumentException("--relays takes herald, postfix or both.");
    }

    var options = new RelayBenchOptions(
        common.HeraldDll,
        common.RepositoryRoot,
        common.WorkDirectory,
        selected,
        common.Messages,
        Math.Max(1, parse.GetValue(sessions)),
        Math.Max(0, common.BodyBytes),
        Math.Max(0, parse.GetValue(relayWarmup)),
        common.ConnectionLimit,
        parse.GetValue(greetingDelay) is { } delay ? TimeSpan.FromMilliseconds(Math.Max(0, delay)) : null,
        common.StallTimeout);

    var loadBefore = LoadAverage();
    var figures = new List<RelayFigures>();
    var benchmark = new RelayBenchmark(options, children, common.Http, Console.Error);
    var problems = await EachAsync(options.Relays, async r => figures.Add(await benchmark.RunAsync(r, limit.Token)), limit, parse.GetValue(timeLimit));
    var command = SmtpSource.CommandLine(SmtpSource.Arguments(options.Sessions, options.Messages, options.PayloadBytes, 0)).Replace(":0", ":PORT", StringComparison.Ordinal);
    return (RelayHeader(options, command, loadBefore, LoadAverage()) + "\n\n" + RelayTable.Format(figures), problems);
}));

fanout.SetAction((parse, _) => RunAsync(parse, async (common, limit) =>
{
    bool[] runs = parse.GetValue(explain) switch { "on" => [true], "off" => [false], _ => [true, false] };
    var options = new FanOutOptions(common.HeraldDll, common.WorkDirectory, Math.Max(1, parse.GetValue(members)), common.ConnectionLimit, common.StallTimeout);
    var header = $"Herald fan-out benchmark: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {LoadAverage()}\n"
        + $"One item.changed event, one immediate subscription of a group of {options.Members:#,0} users (View on /), SQLite, smtp-sink -c on 127.0.0.1, herald smtp set --connection-limit {options.ConnectionLimit}.";
    var report = header;
    var problems = new List<string>();
    foreach (var record in runs)
    {
        var figures = await new FanOutBenchmark(options with { RecordExplanations = record }, children, common.Http, Console.Error).RunAsync(limit.Token);
        report += "\n\n" + figures.Format();
        if (figures.Delivered is null)
        {
            problems.Add("the sink never counted every member's mail");
        }
    }

    return (report + "\n", problems);
}));

outage.SetAction((parse, _) => RunAsync(parse, async (common, limit) =>
{
    var selected = parse.GetValue(outageEngine)!;
    if (selected is not ("sqlite" or "postgres"))
    {
        throw new ArgumentException("--engine takes sqlite or postgres.");
    }

    // A million messages is the figure the outage is judged by; the shared default (20,000) is
    // the other benchmarks'.
    var options = new OutageOptions(
        common.HeraldDll,
        common.RepositoryRoot,
        common.WorkDirectory,
        selected,
        parse.GetResult(messages) is { Implicit: false } ? common.Messages : 1_000_000,
        Math.Max(1, parse.GetValue(outageConcurrency)),
        Math.Max(64, common.BodyBytes),
        Math.Max(0, parse.GetValue(outageWarmup)),
        Math.Max(0, parse.GetValue(fresh)),
        TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(rest))),
        TimeSpan.FromSeconds(Math.Max(5, parse.GetValue(firstDelivery))),
        common.ConnectionLimit,
        common.StallTimeout);
    var loadBefore = LoadAverage();
    OutageFigures? figures = null;
    var problems = await EachAsync([selected], async _ => figures = await new OutageBenchmark(options, children, common.Http, Console.Error).RunAsync(limit.Token), limit, TimeLimit(parse));
    var header = $"Herald outage benchmark: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {loadBefore} before, {LoadAverage()} after\n"
        + $"{options.Messages:#,0} messages of {options.BodyBytes} bytes, one recipient each, posted with {options.Concurrency} requests in flight while the upstream is down "
        + $"(a listener on its port that counts each connection and closes it); rest {options.Rest.TotalSeconds:0} s; then smtp-sink -c on the same port. "
        + $"{selected}, herald smtp set --connection-limit {options.ConnectionLimit}.";
    return figures is null
        ? (header + "\n", problems)
        : (header + "\n\n" + figures.Format(), figures.Drained is null ? [.. problems, "the backlog did not drain completely"] : problems);
}));

chaos.SetAction((parse, _) => RunAsync(parse, async (common, limit) =>
{
    var engine = parse.GetValue(chaosEngine)!;
    if (engine is not ("sqlite" or "postgres"))
    {
        throw new ArgumentException("--engine takes sqlite or postgres.");
    }

    var longest = TimeSpan.FromSeconds(Math.Max(0.2, parse.GetValue(maximumUptime)));
    var options = new ChaosOptions(common.HeraldDll, common.RepositoryRoot, common.WorkDirectory, engine, Math.Max(0, parse.GetValue(kills)),
        Math.Max(0, parse.GetValue(apiProducers)), Math.Max(0, parse.GetValue(relayProducers)), longest / 10, longest, common.ConnectionLimit, common.StallTimeout, parse.GetValue(seed));
    var figures = await new ChaosBenchmark(options, children, common.Http, Console.Error).RunAsync(limit.Token);
    var header = $"Herald chaos benchmark: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {LoadAverage()}\n"
        + $"{options.ApiProducers} API producers (Idempotency-Key per message, retried with it until 202) and {options.RelayProducers} relay sessions (message sent again until 250);"
        + $" herald serve killed with SIGKILL after a random {options.MinimumUptime.TotalSeconds:0.0}–{options.MaximumUptime.TotalSeconds:0.0} s up, {options.Kills} times (seed {options.Seed}); smtp-sink -d, matched by X-Chaos-Id.";
    return (header + "\n\n" + figures.Format() + "\n", figures.Lost > 0 ? [$"{figures.Lost} acknowledged message(s) were never delivered"] : []);
}));

relayMemory.SetAction((parse, _) => RunAsync(parse, async (common, limit) =>
{
    var options = new RelayMemoryOptions(
        common.HeraldDll, common.WorkDirectory, Math.Max(1, parse.GetValue(memorySessions)), Math.Max(64 * 1024, parse.GetValue(messageBytes)), common.ConnectionLimit, common.StallTimeout);
    var figures = await new RelayMemoryBenchmark(options, children, common.Http, Console.Error).RunAsync(limit.Token);
    var header = $"Herald relay memory benchmark: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {LoadAverage()}\n"
        + $"{options.Sessions} sessions from 127.0.0.1 at once into a fresh SQLite node's relay listener (anonymous, 127.0.0.0/8), relayed to smtp-sink -d; RSS of herald serve read from /proc every second.";
    var problems = figures.Problems.ToList();
    if (figures.Identical < options.Sessions)
    {
        problems.Insert(0, $"{options.Sessions - figures.Identical} message(s) did not arrive byte for byte");
    }

    return (header + "\n\n" + figures.Format() + "\n", problems);
}));

return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

// Options every benchmark takes, the shared HTTP client, the time limit, the report and the work
// directory's fate; the benchmark itself returns its report and what it could not measure.
async Task<int> RunAsync(ParseResult parse, Func<CommonOptions, CancellationTokenSource, Task<(string Report, IReadOnlyList<string> Problems)>> benchmark)
{
    var heraldDll = Path.GetFullPath(parse.GetValue(herald)!);
    if (!File.Exists(heraldDll))
    {
        Console.Error.WriteLine($"{heraldDll} does not exist; build src/Herald first (bench/run.sh does).");
        return 2;
    }

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
    var common = new CommonOptions(
        heraldDll,
        Path.GetFullPath(parse.GetValue(repositoryRoot) ?? FindRepositoryRoot()),
        Path.GetFullPath(parse.GetValue(workDirectory) ?? Path.Combine(Path.GetTempPath(), $"herald-bench-{Environment.ProcessId}")),
        Math.Max(1, parse.GetValue(messages)),
        parse.GetValue(size),
        Math.Max(1, parse.GetValue(connectionLimit)),
        TimeSpan.FromSeconds(Math.Max(5, parse.GetValue(stallTimeout))),
        http);

    using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
    limit.CancelAfter(TimeSpan.FromSeconds(TimeLimit(parse)));
    string report;
    IReadOnlyList<string> problems;
    try
    {
        Directory.CreateDirectory(common.WorkDirectory);
        (report, problems) = await benchmark(common, limit);
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }

    Console.WriteLine();
    Console.Write(report);
    foreach (var problem in problems)
    {
        Console.WriteLine("not measured: " + problem);
    }

    if (problems.Count > 0 || parse.GetValue(keep))
    {
        Console.WriteLine($"Logs and data: {common.WorkDirectory}");
    }
    else
    {
        TryDelete(common.WorkDirectory);
    }

    return stop.IsCancellationRequested ? 130 : problems.Count > 0 ? 1 : 0;
}

// The outage benchmark's million messages take longer than the others' default allows.
int TimeLimit(ParseResult parse) =>
    parse.GetResult(timeLimit) is { Implicit: false } || parse.CommandResult.Command != outage ? parse.GetValue(timeLimit) : 4 * 3600;

// Runs one benchmark per item (engine, relay) in turn; a failure is noted and the next one runs,
// the time limit or Ctrl-C ends them all.
async Task<IReadOnlyList<string>> EachAsync(IEnumerable<string> items, Func<string, Task> run, CancellationTokenSource limit, int seconds)
{
    var problems = new List<string>();
    foreach (var item in items)
    {
        try
        {
            await run(item);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            problems.Add(stop.IsCancellationRequested ? $"{item}: interrupted." : $"{item}: stopped at the time limit ({seconds} s).");
            break;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or IOException or DbException or FormatException)
        {
            problems.Add($"{item}: {e.Message}");
        }
    }

    return problems;
}

static string Header(BenchOptions options) => string.Join('\n',
    $"Herald end-to-end benchmark: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}",
    $"Each message: {options.BodyBytes} bytes of text, one recipient; upstream smtp-sink on 127.0.0.1; herald smtp set --connection-limit {options.ConnectionLimit}.",
    $"A: {options.Messages.ToString("#,0", CultureInfo.InvariantCulture)} messages posted with {options.Concurrency} requests in flight" +
        (options.Batch > 1 ? $" ({options.Batch} per request)" : "") + "; msgs/s from the first POST until smtp-sink counted the last.",
    $"B: {options.Rate} messages/s offered (open loop) for {options.Duration.TotalSeconds:0} s.",
    "ack: HTTP round trip of a POST (202 once durable); delivery: herald_delivery_latency_seconds, acceptance to the upstream's 250.");

static string RelayHeader(RelayBenchOptions options, string command, string loadBefore, string loadAfter) => string.Join('\n',
    $"Herald relay benchmark: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {loadBefore} before, {loadAfter} after",
    $"Client, the same against each relay: {command}",
    $"Each relay: a fresh queue, an smtp-sink -c of its own on 127.0.0.1, {options.Warmup.ToString("#,0", CultureInfo.InvariantCulture)} messages of warm-up (not measured), run one after the other.",
    $"Herald: herald relay set --listen 127.0.0.1:PORT --scope / --access only-list --allow 127.0.0.0/8 --auth none; smtp set --connection-limit {options.ConnectionLimit};"
        + $" SQLite (250 after the commit, synchronous=FULL); greeting delay {(options.GreetingDelay is { } d ? $"{d.TotalMilliseconds:0} ms (HERALD_Relay__GreetingDelay)" : "Herald's default")}.",
    "Postfix: tests/fixtures/postfix/postfix-fixture.sh --relayhost (own queue, relayhost [127.0.0.1]:SINK, connection cache on, default concurrency).",
    "accepting: smtp-source start to exit (every 250 back); end to end: smtp-source start until the sink counted the last message.");

static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

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

/// <summary>The options every benchmark takes, resolved.</summary>
internal sealed record CommonOptions(
    string HeraldDll, string RepositoryRoot, string WorkDirectory, int Messages, int BodyBytes, int ConnectionLimit, TimeSpan StallTimeout, HttpClient Http);
