using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Herald.Bench.Node;
using Herald.Bench.Processes;
using MailKit.Net.Smtp;
using MimeKit;

namespace Herald.Bench;

internal sealed record ChaosOptions(
    string HeraldDll, string RepositoryRoot, string WorkDirectory, string Engine, int Kills, int ApiProducers, int RelayProducers,
    TimeSpan MinimumUptime, TimeSpan MaximumUptime, int ConnectionLimit, TimeSpan StallTimeout, int Seed);

/// <summary>What the chaos run counted. Lost is what matters: acknowledged (HTTP 202, SMTP 250)
/// and never delivered. Duplicates are the price of at-least-once: a message whose lease ran out
/// with its node, or a relay client that retried after losing the 250 with the node.</summary>
internal sealed record ChaosFigures(
    string Engine, int Kills, TimeSpan Duration, long ApiAcknowledged, long RelayAcknowledged, long Delivered, long Lost,
    long Duplicated, long ApiRetries, long RelayRetries, TimeSpan? Drained, IReadOnlyList<string> LostIds)
{
    public string Format() => string.Join('\n',
        $"engine                 {Engine}",
        $"SIGKILLs               {Kills} over {Duration.TotalSeconds:0} s",
        $"acknowledged           {ApiAcknowledged + RelayAcknowledged:#,0} ({ApiAcknowledged:#,0} API 202, {RelayAcknowledged:#,0} relay 250)",
        $"client retries         {ApiRetries:#,0} API (same Idempotency-Key), {RelayRetries:#,0} relay (message sent again)",
        $"delivered (distinct)   {Delivered:#,0}",
        $"lost                   {Lost:#,0}{(LostIds.Count > 0 ? "  e.g. " + string.Join(", ", LostIds.Take(10)) : "")}",
        $"duplicated             {Duplicated:#,0}",
        Drained is { } drained ? $"queue drained          {drained.TotalSeconds:0.0} s after the last restart" : "queue drained          no: delivery stalled before every acknowledged message arrived");
}

/// <summary>
/// Producers submit through the API (an Idempotency-Key per message, retried with the same key
/// after any failure) and through the relay (a session per producer, the message sent again after
/// any failure) while <c>herald serve</c> is killed with SIGKILL and restarted at random moments.
/// Then the last node runs until the queue drains, and every message smtp-sink dumped is matched
/// to what was acknowledged by its X-Chaos-Id header.
/// </summary>
internal sealed class ChaosBenchmark(ChaosOptions options, ChildProcesses children, HttpClient http, TextWriter progress)
{
    private readonly ConcurrentDictionary<string, byte> _acknowledged = new(StringComparer.Ordinal);
    private long _next;
    private long _apiAcknowledged;
    private long _relayAcknowledged;
    private long _apiRetries;
    private long _relayRetries;

    public async Task<ChaosFigures> RunAsync(CancellationToken cancellationToken)
    {
        var directory = Path.Combine(options.WorkDirectory, "chaos-" + options.Engine);
        Directory.CreateDirectory(directory);
        await using var postgres = options.Engine == "postgres"
            ? await PostgresCluster.StartAsync(PostgresCluster.Script(options.RepositoryRoot), Path.Combine(directory, "postgres"), Ports.Free(), cancellationToken)
            : null;
        var databaseUrl = postgres is null ? null : await postgres.CreateDatabaseAsync("herald_chaos", cancellationToken);
        using var sink = await SinkDump.StartAsync(children, Ports.Free(), Path.Combine(directory, "sink"), Path.Combine(directory, "smtp-sink.log"), cancellationToken);
        using var node = new HeraldNode(options.HeraldDll, Path.Combine(directory, "data"), databaseUrl, Path.Combine(directory, "serve.log"), children,
            new Dictionary<string, string?> { ["HERALD_Delivery__RetryDelays__0"] = "00:00:01", ["HERALD_Delivery__Lease"] = "00:00:10" });
        await node.ConfigureSmtpAsync(sink.Port, options.ConnectionLimit, cancellationToken);
        var relayPort = Ports.Free();
        await node.ConfigureRelayAsync(relayPort, cancellationToken);
        var key = await node.CreateApiKeyAsync("sender", cancellationToken);
        var httpPort = Ports.Free();
        await node.StartAsync(httpPort, http, cancellationToken);

        using var producing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stopping = new CancellationTokenSource();
        var producers = Enumerable.Range(0, options.ApiProducers).Select(_ => Task.Run(() => ApiProducerAsync(node.BaseAddress!, key, stopping.Token, producing.Token), CancellationToken.None))
            .Concat(Enumerable.Range(0, options.RelayProducers).Select(_ => Task.Run(() => RelayProducerAsync(relayPort, stopping.Token, producing.Token), CancellationToken.None)))
            .ToArray();

        var random = new Random(options.Seed);
        var started = Stopwatch.GetTimestamp();
        for (var kill = 1; kill <= options.Kills; kill++)
        {
            var uptime = options.MinimumUptime + (options.MaximumUptime - options.MinimumUptime) * random.NextDouble();
            await Task.Delay(uptime, cancellationToken);
            node.Kill();
            await node.StartAsync(httpPort, http, cancellationToken);
            if (kill % 10 == 0)
            {
                progress.WriteLine($"chaos ({options.Engine}): {kill} kills, {Interlocked.Read(ref _apiAcknowledged) + Interlocked.Read(ref _relayAcknowledged):#,0} acknowledged");
            }
        }

        var duration = Stopwatch.GetElapsedTime(started);
        // Producers finish the message in hand (acknowledged by the node that now stays up), then stop.
        await stopping.CancelAsync();
        await Task.WhenAll(producers);

        progress.WriteLine($"chaos ({options.Engine}): waiting for the queue to drain");
        var lastRestart = Stopwatch.GetTimestamp();
        var (delivered, duplicated) = (new HashSet<string>(StringComparer.Ordinal), 0L);
        TimeSpan? drained = null;
        var lastProgress = Stopwatch.GetTimestamp();
        var lastCount = -1;
        while (true)
        {
            (delivered, duplicated) = sink.Read();
            if (_acknowledged.Keys.All(delivered.Contains))
            {
                drained = Stopwatch.GetElapsedTime(lastRestart);
                break;
            }

            if (delivered.Count != lastCount)
            {
                lastCount = delivered.Count;
                lastProgress = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) > options.StallTimeout)
            {
                break;
            }

            await Task.Delay(500, cancellationToken);
        }

        var lost = _acknowledged.Keys.Where(id => !delivered.Contains(id)).Order(StringComparer.Ordinal).ToArray();
        return new ChaosFigures(options.Engine, options.Kills, duration, _apiAcknowledged, _relayAcknowledged, delivered.Count, lost.Length, duplicated,
            _apiRetries, _relayRetries, drained, lost);
    }

    private async Task ApiProducerAsync(Uri baseAddress, string key, CancellationToken stopping, CancellationToken cancellationToken)
    {
        while (!stopping.IsCancellationRequested)
        {
            var id = $"api-{Interlocked.Increment(ref _next)}";
            // The same key until acknowledged: the outbox stores it once however many times it is sent.
            for (var attempt = 0; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (attempt > 0)
                {
                    Interlocked.Increment(ref _apiRetries);
                    await Task.Delay(100, cancellationToken);
                }

                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "api/v1/messages"))
                    {
                        Content = JsonContent.Create(new
                        {
                            scope = "/",
                            to = new[] { $"{id}@example.org" },
                            subject = $"chaos {id}",
                            text = "A message that must arrive once a node has said 202.",
                            headers = new Dictionary<string, string> { ["X-Chaos-Id"] = id },
                        }),
                    };
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                    request.Headers.Add("Idempotency-Key", id);
                    using var response = await http.SendAsync(request, cancellationToken);
                    if (response.StatusCode == System.Net.HttpStatusCode.Accepted)
                    {
                        _acknowledged[id] = 0;
                        Interlocked.Increment(ref _apiAcknowledged);
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // The node is down or died mid-request: nothing was promised, send again.
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Timed out with the node: the same.
                }
            }
        }
    }

    private async Task RelayProducerAsync(int port, CancellationToken stopping, CancellationToken cancellationToken)
    {
        using var client = new SmtpClient { Timeout = 10_000 };
        while (!stopping.IsCancellationRequested)
        {
            var id = $"relay-{Interlocked.Increment(ref _next)}";
            using var message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse("legacy-app@example.org"));
            message.To.Add(MailboxAddress.Parse($"{id}@example.org"));
            message.Subject = $"chaos {id}";
            message.Headers.Add("X-Chaos-Id", id);
            message.Body = new TextPart("plain") { Text = "A message an old application hands to the relay." };
            for (var attempt = 0; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (attempt > 0)
                {
                    Interlocked.Increment(ref _relayRetries);
                    await Task.Delay(100, cancellationToken);
                }

                try
                {
                    if (!client.IsConnected)
                    {
                        await client.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None, cancellationToken);
                    }

                    await client.SendAsync(message, cancellationToken);
                    _acknowledged[id] = 0;
                    Interlocked.Increment(ref _relayAcknowledged);
                    break;
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or SmtpCommandException or SmtpProtocolException or MailKit.ServiceNotConnectedException or TimeoutException)
                {
                    // No 250 seen: the message may or may not be stored; a relay client sends it again.
                    await DisconnectQuietlyAsync(client);
                }
            }
        }

        await DisconnectQuietlyAsync(client);
    }

    private static async Task DisconnectQuietlyAsync(SmtpClient client)
    {
        try
        {
            await client.DisconnectAsync(quit: false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or SmtpProtocolException or OperationCanceledException)
        {
            // Already gone.
        }
    }
}

/// <summary>smtp-sink with <c>-d</c>: every transaction dumped to its own file (smtp-sink removes a
/// file whose transaction did not end with the final dot), read back for X-Chaos-Id.</summary>
internal sealed class SinkDump : IDisposable
{
    private readonly ChildProcesses _children;
    private readonly System.Diagnostics.Process _process;
    private readonly string _directory;

    private SinkDump(ChildProcesses children, System.Diagnostics.Process process, string directory, int port)
    {
        _children = children;
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public static async Task<SinkDump> StartAsync(ChildProcesses children, int port, string directory, string logFile, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        // smtp-sink drops to nobody, which creates the hourly folders here (the parents are 0755).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_111_111);
        }

        var start = new ProcessStartInfo(File.Exists("/usr/sbin/smtp-sink") ? "/usr/sbin/smtp-sink" : "smtp-sink");
        foreach (var argument in new[] { "-u", "nobody", "-d", Path.Combine(directory, "%H") + "/", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "1024" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = children.Start(start, logFile);
        await Ports.WaitUntilListeningAsync(port, process, "smtp-sink -d", logFile, cancellationToken);
        return new SinkDump(children, process, directory, port);
    }

    /// <summary>Every distinct X-Chaos-Id delivered, and how many deliveries were second copies.</summary>
    public (HashSet<string> Delivered, long Duplicated) Read()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long duplicated = 0;
        foreach (var file in Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories))
        {
            string? id = null;
            try
            {
                foreach (var line in File.ReadLines(file))
                {
                    if (line.StartsWith("X-Chaos-Id:", StringComparison.OrdinalIgnoreCase))
                    {
                        id = line["X-Chaos-Id:".Length..].Trim();
                        break;
                    }

                    if (line.Length == 0)
                    {
                        break;
                    }
                }
            }
            catch (IOException)
            {
                // Removed by smtp-sink meanwhile (an aborted transaction).
            }

            if (id is not null && !seen.Add(id))
            {
                duplicated++;
            }
        }

        return (seen, duplicated);
    }

    /// <summary>The dump files written so far (one per transaction that ended with its final dot).</summary>
    public IReadOnlyList<string> Files() => Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories).ToArray();

    public void Dispose() => _children.Stop(_process);
}
