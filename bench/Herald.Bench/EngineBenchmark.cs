using System.Diagnostics;
using Herald.Bench.Load;
using Herald.Bench.Metrics;
using Herald.Bench.Node;
using Herald.Bench.Processes;
using Herald.Bench.Upstream;

namespace Herald.Bench;

/// <summary>What the benchmark is asked to do.</summary>
internal sealed record BenchOptions(
    string HeraldDll,
    string RepositoryRoot,
    string WorkDirectory,
    IReadOnlyList<string> Engines,
    int Messages,
    int Concurrency,
    int Batch,
    int BodyBytes,
    int Rate,
    TimeSpan Duration,
    int Warmup,
    int ConnectionLimit,
    TimeSpan StallTimeout);

/// <summary>The figures of one run.</summary>
/// <param name="Offered">Messages the run tried to post.</param>
/// <param name="Delivered">Messages smtp-sink counted during the run (duplicates included).</param>
/// <param name="EndToEnd">From the first POST to the moment the sink had counted every accepted
/// message; null when it never did (see <paramref name="Delivered"/>).</param>
/// <param name="Delivery">The node's delivery-latency histogram over the run; null with
/// <paramref name="MetricsProblem"/> when /metrics could not be read.</param>
/// <param name="RecipientStates">Change of <c>herald_recipients_total</c> per state over the run.</param>
internal sealed record RunFigures(
    string Engine,
    string Run,
    int Offered,
    LoadResult Load,
    long Delivered,
    TimeSpan? EndToEnd,
    Histogram? Delivery,
    string? MetricsProblem,
    IReadOnlyDictionary<string, double> RecipientStates)
{
    public double? MessagesPerSecond => EndToEnd is { } elapsed && elapsed > TimeSpan.Zero ? Load.MessagesAccepted / elapsed.TotalSeconds : null;

    public bool AllDelivered => EndToEnd is not null && Load.MessagesFailed == 0;
}

/// <summary>
/// Both runs for one storage engine, on a node of their own: a fresh data directory (and for
/// PostgreSQL a private cluster with a fresh database), a fresh smtp-sink, and <c>herald serve</c>.
/// </summary>
internal sealed class EngineBenchmark(BenchOptions options, ChildProcesses children, HttpClient http, TextWriter progress)
{
    public async Task<IReadOnlyList<RunFigures>> RunAsync(string engine, CancellationToken cancellationToken)
    {
        // A fresh node every run: a data directory left by an earlier run (--work-dir reused)
        // would still hold its queue.
        var directory = Path.Combine(options.WorkDirectory, engine);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);

        using var sink = await SinkCounter.StartAsync(children, Ports.Free(), Path.Combine(directory, "smtp-sink.log"), cancellationToken);
        await using var postgres = engine == "postgres" ? await StartPostgresAsync(directory, cancellationToken) : null;
        var database = postgres is null ? null : await postgres.CreateDatabaseAsync($"herald_bench_{DateTime.UtcNow:yyyyMMddHHmmss}", cancellationToken);

        using var node = new HeraldNode(options.HeraldDll, Path.Combine(directory, "data"), database, Path.Combine(directory, "serve.log"), children);
        progress.WriteLine($"{engine}: configuring the node (smtp set, apikey create) in {directory}");
        await node.ConfigureSmtpAsync(sink.Port, options.ConnectionLimit, cancellationToken);
        var senderKey = await node.CreateApiKeyAsync("sender", cancellationToken);
        var adminKey = await node.CreateApiKeyAsync("admin", cancellationToken);
        await node.StartAsync(Ports.Free(), http, cancellationToken);
        var baseAddress = node.BaseAddress!;
        var metrics = new MetricsClient(http, baseAddress, adminKey);
        var single = new LoadGenerator(http, new Uri(baseAddress, "api/v1/messages"), senderKey);
        var throughputEndpoint = options.Batch > 1 ? new LoadGenerator(http, new Uri(baseAddress, "api/v1/messages/batch"), senderKey) : single;

        if (options.Warmup > 0)
        {
            progress.WriteLine($"{engine}: warm-up, {options.Warmup} messages");
            var sinkBefore = sink.Latest.Messages;
            var warmup = await single.RunClosedLoopAsync(new Messages("warmup", options.BodyBytes).Requests(0, options.Warmup, 1), 8, cancellationToken);
            if (warmup.MessagesAccepted == 0)
            {
                throw new InvalidOperationException($"Herald accepted none of the warm-up messages: {string.Join("; ", warmup.Failures.Keys)}");
            }

            if (await sink.WaitForMessagesAsync(sinkBefore + warmup.MessagesAccepted, options.StallTimeout, cancellationToken) is null)
            {
                throw new InvalidOperationException(
                    $"Only {sink.Latest.Messages - sinkBefore} of the {warmup.MessagesAccepted} warm-up messages reached smtp-sink; see {Path.Combine(directory, "serve.log")}.");
            }
        }

        progress.WriteLine($"{engine}: run A, {options.Messages} messages, {options.Concurrency} requests in flight");
        var throughputRequests = new Messages("a", options.BodyBytes).Requests(0, options.Messages, options.Batch);
        var throughput = await MeasureAsync(engine, $"A: {options.Concurrency} in flight" + (options.Batch > 1 ? $", batches of {options.Batch}" : ""), options.Messages, sink, metrics,
            () => throughputEndpoint.RunClosedLoopAsync(throughputRequests, options.Concurrency, cancellationToken), cancellationToken);

        var count = (int)(options.Rate * options.Duration.TotalSeconds);
        progress.WriteLine($"{engine}: run B, {options.Rate} messages/s offered for {options.Duration.TotalSeconds:0} s");
        var rateRequests = new Messages("b", options.BodyBytes).Requests(0, count, 1);
        var latency = await MeasureAsync(engine, $"B: {options.Rate}/s for {options.Duration.TotalSeconds:0} s", count, sink, metrics,
            () => single.RunOpenLoopAsync(rateRequests, options.Rate, cancellationToken), cancellationToken);

        return [throughput, latency];
    }

    private async Task<PostgresCluster> StartPostgresAsync(string directory, CancellationToken cancellationToken)
    {
        progress.WriteLine("postgres: starting a private cluster");
        return await PostgresCluster.StartAsync(PostgresCluster.Script(options.RepositoryRoot), Path.Combine(directory, "postgres"), Ports.Free(), cancellationToken);
    }

    private async Task<RunFigures> MeasureAsync(
        string engine, string run, int offered, SinkCounter sink, MetricsClient metrics, Func<Task<LoadResult>> load, CancellationToken cancellationToken)
    {
        var (before, _) = await metrics.ReadAsync(cancellationToken);
        var sinkBefore = sink.Latest.Messages;

        var result = await load();
        var reachedAt = await sink.WaitForMessagesAsync(sinkBefore + result.MessagesAccepted, options.StallTimeout, cancellationToken);
        TimeSpan? endToEnd = reachedAt is { } at ? Stopwatch.GetElapsedTime(result.Started, at) : null;

        // The sink counts a message at its final dot; the node observes its latency once the 250
        // is back. Give the last observations a moment to land.
        var (after, problem) = await metrics.ReadAsync(cancellationToken);
        var settle = Stopwatch.GetTimestamp();
        while (after is not null && before is not null && Stopwatch.GetElapsedTime(settle) < TimeSpan.FromSeconds(5)
               && after.Histogram(MetricsSnapshot.DeliveryLatency).Count - before.Histogram(MetricsSnapshot.DeliveryLatency).Count < result.MessagesAccepted)
        {
            await Task.Delay(100, cancellationToken);
            (after, problem) = await metrics.ReadAsync(cancellationToken);
        }

        Histogram? delivery = null;
        var states = new Dictionary<string, double>(StringComparer.Ordinal);
        if (after is not null && before is not null)
        {
            delivery = after.Histogram(MetricsSnapshot.DeliveryLatency).Since(before.Histogram(MetricsSnapshot.DeliveryLatency));
            var earlier = before.CounterBy(MetricsSnapshot.Recipients, "state");
            foreach (var (state, total) in after.CounterBy(MetricsSnapshot.Recipients, "state"))
            {
                states[state] = total - earlier.GetValueOrDefault(state);
            }

            if (delivery.Buckets.Count == 0)
            {
                (delivery, problem) = (null, $"/metrics has no {MetricsSnapshot.DeliveryLatency} histogram");
            }
        }

        return new RunFigures(engine, run, offered, result, sink.Latest.Messages - sinkBefore, endToEnd, delivery, problem, states);
    }
}
