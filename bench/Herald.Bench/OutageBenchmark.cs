using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Herald.Bench.Load;
using Herald.Bench.Metrics;
using Herald.Bench.Node;
using Herald.Bench.Processes;
using Herald.Bench.Upstream;
using Herald.Testing;

namespace Herald.Bench;

/// <summary>What the outage benchmark is asked to do.</summary>
/// <param name="Fresh">Messages of the fresh run (run A of the engine benchmark, upstream up),
/// whose rate the drain is compared with; 0 skips it.</param>
/// <param name="Rest">How long the node rests with the backlog, the upstream still down, before
/// it comes back: resting memory and CPU are read at its end.</param>
/// <param name="FirstDeliveryTimeout">How long the drain may take to send its first message
/// once the upstream is back (a node probes a connection that is down at growing intervals).</param>
internal sealed record OutageOptions(
    string HeraldDll,
    string RepositoryRoot,
    string WorkDirectory,
    string Engine,
    int Messages,
    int Concurrency,
    int BodyBytes,
    int Warmup,
    int Fresh,
    TimeSpan Rest,
    TimeSpan FirstDeliveryTimeout,
    int ConnectionLimit,
    TimeSpan StallTimeout);

/// <summary>The figures of one outage run.</summary>
internal sealed record OutageFigures(
    string Engine,
    double? FreshPerSecond,
    LoadResult Submitted,
    TimeSpan Down,
    long Connections,
    long PeakRssSubmitting,
    ProcessReading Resting,
    double RestingCpuPercent,
    IReadOnlyDictionary<string, double> QueueAtRest,
    TimeSpan? FirstDelivery,
    TimeSpan? Drained,
    long Delivered,
    long PeakRssDraining,
    long PeakRss)
{
    public double AcceptedPerSecond => Submitted.MessagesAccepted / Math.Max(0.001, Stopwatch.GetElapsedTime(Submitted.Started, Submitted.LastAnswer).TotalSeconds);

    public double ConnectionsPerMinute => Connections / Math.Max(1.0 / 60, Down.TotalMinutes);

    public double? DrainPerSecond => Drained is { } d && d > TimeSpan.Zero ? Submitted.MessagesAccepted / d.TotalSeconds : null;

    public string Format()
    {
        var text = new StringBuilder();
        void Line(string label, string value) => text.AppendLine(CultureInfo.InvariantCulture, $"{label,-50}{value}");
        Line("engine", Engine);
        Line("fresh run (upstream up, like run A)", FreshPerSecond is { } fresh ? $"{fresh:#,0} msgs/s" : "not run");
        Line("messages submitted while the upstream was down", $"{Count(Submitted.MessagesAccepted)} accepted, {Count(Submitted.MessagesFailed)} refused");
        Line("acceptance rate during the outage", $"{AcceptedPerSecond:#,0} msgs/s ({Stopwatch.GetElapsedTime(Submitted.Started, Submitted.LastAnswer).TotalSeconds:0} s)");
        Line("peak RSS while submitting", Megabytes(PeakRssSubmitting));
        Line("resting RSS with the backlog", $"{Megabytes(Resting.RssBytes)} ({Megabytes(Resting.AnonymousBytes)} anonymous, {Megabytes(Resting.FileBytes)} mapped files)");
        Line("CPU at rest with the backlog", $"{RestingCpuPercent:0}% of one core");
        Line("queue at rest (herald_outbox_recipients)", QueueAtRest.Count == 0 ? "-" : MetricsClient.Describe(QueueAtRest));
        Line("connections to the dead upstream", $"{Count(Connections)} in {Down.TotalMinutes:0.0} min: {ConnectionsPerMinute:0.0} per minute (target < 100)");
        Line("upstream back → first delivery", FirstDelivery is { } first ? $"{first.TotalSeconds:0.0} s" : "never");
        Line("drain (upstream back → last message)", Drained is { } drained
            ? $"{drained.TotalSeconds:0.0} s, {DrainPerSecond:#,0} msgs/s" + (FreshPerSecond is { } f && f > 0 ? $" = {DrainPerSecond / f:0%} of the fresh rate (target ≥ 80%)" : "")
            : $"not finished: the sink counted {Count(Delivered)} of {Count(Submitted.MessagesAccepted)}");
        Line("peak RSS while draining", Megabytes(PeakRssDraining));
        Line("peak RSS of the whole run (VmHWM)", $"{Megabytes(PeakRss)} (target < 400 MB)");
        if (Delivered > Submitted.MessagesAccepted)
        {
            Line("duplicates", $"the sink counted {Count(Delivered - Submitted.MessagesAccepted)} more than were accepted");
        }

        foreach (var (failure, count) in Submitted.Failures)
        {
            Line("refused submissions", $"{Count(count)}: {failure}");
        }

        return text.ToString();
    }

    private static string Count(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1_000_000.0:#,0} MB");
}

/// <summary>
/// An upstream outage end to end, on one node: a fresh run with the upstream up (the rate to
/// compare the drain with); then the upstream goes down (a <see cref="DeadUpstream"/> on its port
/// counts every connection) while <see cref="OutageOptions.Messages"/> messages are posted through
/// the API; the node rests with the backlog; then smtp-sink comes back on the same port and the
/// benchmark waits until it has counted every accepted message. The node's memory and CPU are read
/// from /proc throughout.
/// </summary>
internal sealed class OutageBenchmark(OutageOptions options, ChildProcesses children, HttpClient http, TextWriter progress)
{
    public async Task<OutageFigures> RunAsync(CancellationToken cancellationToken)
    {
        var engine = options.Engine;
        var directory = Path.Combine(options.WorkDirectory, "outage-" + engine);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);
        var port = Ports.Free();
        var sinkLog = Path.Combine(directory, "smtp-sink.log");
        await using var postgres = engine == "postgres"
            ? await PostgresCluster.StartAsync(PostgresCluster.Script(options.RepositoryRoot), Path.Combine(directory, "postgres"), Ports.Free(), cancellationToken)
            : null;
        var database = postgres is null ? null : await postgres.CreateDatabaseAsync($"herald_outage_{DateTime.UtcNow:yyyyMMddHHmmss}", cancellationToken);
        using var node = new HeraldNode(options.HeraldDll, Path.Combine(directory, "data"), database, Path.Combine(directory, "serve.log"), children);
        progress.WriteLine($"{engine}: configuring the node in {directory}");
        await node.ConfigureSmtpAsync(port, options.ConnectionLimit, cancellationToken);
        var senderKey = await node.CreateApiKeyAsync("sender", cancellationToken);
        var adminKey = await node.CreateApiKeyAsync("admin", cancellationToken);

        var fresh = await FreshRunAsync(node, port, sinkLog, senderKey, cancellationToken);
        using var watch = new ProcessWatch(node.ProcessId);
        var metrics = new MetricsClient(http, node.BaseAddress!, adminKey);
        var load = new LoadGenerator(http, new Uri(node.BaseAddress!, "api/v1/messages"), senderKey);

        // (1) The upstream goes down; the backlog is submitted.
        var dead = await StartDeadUpstreamAsync(port, cancellationToken);
        var downSince = Stopwatch.GetTimestamp();
        watch.Enter("submitting");
        progress.WriteLine($"{engine}: upstream down; posting {options.Messages:#,0} messages, {options.Concurrency} in flight");
        var submitted = await load.RunClosedLoopAsync(new Messages("outage", options.BodyBytes).RequestsOnDemand(0, options.Messages), options.Concurrency, cancellationToken);
        if (submitted.MessagesAccepted == 0)
        {
            throw new InvalidOperationException($"Herald accepted none of the messages: {string.Join("; ", submitted.Failures.Keys)}");
        }

        // (2) At rest with the backlog, the upstream still down.
        watch.Enter("resting");
        progress.WriteLine($"{engine}: {submitted.MessagesAccepted:#,0} accepted; resting {options.Rest.TotalSeconds:0} s with the backlog");
        var restFrom = watch.Read();
        var restStarted = Stopwatch.GetTimestamp();
        await Task.Delay(options.Rest, cancellationToken);
        var resting = watch.Read();
        var cpu = (resting.Cpu - restFrom.Cpu) / Stopwatch.GetElapsedTime(restStarted) * 100;
        var (snapshot, _) = await metrics.ReadAsync(cancellationToken);
        var queue = snapshot?.CounterBy("herald_outbox_recipients", "state") ?? new Dictionary<string, double>();

        // (3) The upstream comes back on the same port; the backlog drains.
        var down = Stopwatch.GetElapsedTime(downSince);
        var connections = dead.Connections;
        dead.Dispose();
        using var sink = await SinkCounter.StartAsync(children, port, sinkLog, cancellationToken);
        var back = Stopwatch.GetTimestamp();
        watch.Enter("draining");
        progress.WriteLine($"{engine}: upstream back after {down.TotalSeconds:0} s ({connections:#,0} connections meanwhile); draining");
        var first = await sink.WaitForMessagesAsync(1, options.FirstDeliveryTimeout, cancellationToken);
        var last = first is null ? null : await sink.WaitForMessagesAsync(submitted.MessagesAccepted, options.StallTimeout, cancellationToken);
        var peak = watch.Read().PeakRssBytes;
        return new OutageFigures(
            engine,
            fresh,
            submitted,
            down,
            connections,
            watch.PeakDuring("submitting"),
            resting,
            cpu,
            queue,
            first is { } f ? Stopwatch.GetElapsedTime(back, f) : null,
            last is { } l ? Stopwatch.GetElapsedTime(back, l) : null,
            sink.Latest.Messages,
            watch.PeakDuring("draining"),
            peak);
    }

    /// <summary>Starts the node with smtp-sink up and, after a warm-up, measures the fresh rate
    /// as run A of the engine benchmark does; the sink is stopped again afterwards.</summary>
    private async Task<double?> FreshRunAsync(HeraldNode node, int port, string sinkLog, string senderKey, CancellationToken cancellationToken)
    {
        using var sink = await SinkCounter.StartAsync(children, port, sinkLog, cancellationToken);
        await node.StartAsync(Ports.Free(), http, cancellationToken);
        var load = new LoadGenerator(http, new Uri(node.BaseAddress!, "api/v1/messages"), senderKey);
        if (options.Warmup > 0)
        {
            progress.WriteLine($"{options.Engine}: warm-up, {options.Warmup:#,0} messages (upstream up)");
            var warmup = await load.RunClosedLoopAsync(new Messages("warmup", options.BodyBytes).Requests(0, options.Warmup, 1), 8, cancellationToken);
            if (await sink.WaitForMessagesAsync(warmup.MessagesAccepted, options.StallTimeout, cancellationToken) is null || warmup.MessagesAccepted == 0)
            {
                throw new InvalidOperationException($"The warm-up did not get through ({warmup.MessagesAccepted} accepted, {sink.Latest.Messages} at the sink).");
            }
        }

        if (options.Fresh <= 0)
        {
            return null;
        }

        progress.WriteLine($"{options.Engine}: fresh run, {options.Fresh:#,0} messages, {options.Concurrency} in flight (upstream up)");
        var before = sink.Latest.Messages;
        var run = await load.RunClosedLoopAsync(new Messages("fresh", options.BodyBytes).Requests(0, options.Fresh, 1), options.Concurrency, cancellationToken);
        var reached = await sink.WaitForMessagesAsync(before + run.MessagesAccepted, options.StallTimeout, cancellationToken);
        return reached is { } at ? run.MessagesAccepted / Stopwatch.GetElapsedTime(run.Started, at).TotalSeconds : null;
    }

    /// <summary>The dead upstream on the port smtp-sink has just left (binding may take a moment
    /// while the sink's process ends).</summary>
    private static async Task<DeadUpstream> StartDeadUpstreamAsync(int port, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return DeadUpstream.Start(port);
            }
            catch (SocketException) when (attempt < 50)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }
}
