using System.Diagnostics;
using System.Globalization;
using Herald.Bench.Load;
using Herald.Bench.Node;
using Herald.Bench.Processes;
using Herald.Bench.Upstream;

namespace Herald.Bench;

/// <summary>What the relay benchmark is asked to do.</summary>
/// <param name="Relays">"herald", "postfix" or both, run one after the other in this order.</param>
/// <param name="GreetingDelay">HERALD_Relay__GreetingDelay for <c>herald serve</c>; null: Herald's default.</param>
internal sealed record RelayBenchOptions(
    string HeraldDll,
    string RepositoryRoot,
    string WorkDirectory,
    IReadOnlyList<string> Relays,
    int Messages,
    int Sessions,
    int PayloadBytes,
    int Warmup,
    int ConnectionLimit,
    TimeSpan? GreetingDelay,
    TimeSpan StallTimeout);

/// <summary>The figures of one relay.</summary>
/// <param name="Accepting">From starting smtp-source until it exited (every message answered).</param>
/// <param name="Delivered">Messages smtp-sink counted during the measured run.</param>
/// <param name="EndToEnd">From starting smtp-source until the sink had counted all
/// <paramref name="Offered"/>; null when that never happened.</param>
internal sealed record RelayFigures(string Relay, string CommandLine, int Offered, SourceResult Source, long Delivered, TimeSpan? EndToEnd)
{
    public double? AcceptedPerSecond => Source.AllAccepted && Source.Elapsed > TimeSpan.Zero ? Offered / Source.Elapsed.TotalSeconds : null;

    public double? MessagesPerSecond => EndToEnd is { } elapsed && elapsed > TimeSpan.Zero ? Offered / elapsed.TotalSeconds : null;
}

/// <summary>
/// smtp-source → relay → smtp-sink, for Herald's relay listener and for a private Postfix, each
/// with a sink of its own and a fresh queue, the same smtp-source command against both.
/// </summary>
internal sealed class RelayBenchmark(RelayBenchOptions options, ChildProcesses children, HttpClient http, TextWriter progress)
{
    public async Task<RelayFigures> RunAsync(string relay, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(options.WorkDirectory, "relay-" + relay);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);
        using var sink = await SinkCounter.StartAsync(children, Ports.Free(), Path.Combine(directory, "smtp-sink.log"), cancellationToken);
        await using var started = relay == "herald" ? await StartHeraldAsync(directory, sink.Port, cancellationToken) : await StartPostfixAsync(directory, sink.Port, cancellationToken);

        if (options.Warmup > 0)
        {
            progress.WriteLine($"{relay}: warm-up, {options.Warmup} messages");
            var warmup = await SendAsync(sink, started.Port, options.Warmup, cancellationToken);
            if (warmup.EndToEnd is null)
            {
                throw new InvalidOperationException($"the warm-up did not get through: {Describe(warmup)}; see {directory}.");
            }
        }

        progress.WriteLine($"{relay}: {options.Messages} messages over {options.Sessions} sessions");
        return await SendAsync(sink, started.Port, options.Messages, cancellationToken) with { Relay = started.Name };
    }

    private async Task<RelayFigures> SendAsync(SinkCounter sink, int port, int messages, CancellationToken cancellationToken)
    {
        var arguments = SmtpSource.Arguments(options.Sessions, messages, options.PayloadBytes, port);
        var sinkBefore = sink.Latest.Messages;

        // Waiting starts before smtp-source does, so that the moment the sink reaches the total is
        // seen however early it comes; it is called off if smtp-source fails.
        using var sourceFailed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var arrived = sink.WaitForMessagesAsync(sinkBefore + messages, options.StallTimeout, sourceFailed.Token);
        var source = await SmtpSource.RunAsync(arguments, options.StallTimeout * 10, cancellationToken);
        long? reachedAt = null;
        if (source.AllAccepted)
        {
            reachedAt = await arrived;
        }
        else
        {
            await sourceFailed.CancelAsync();
            await arrived.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            cancellationToken.ThrowIfCancellationRequested();
        }

        TimeSpan? endToEnd = reachedAt is { } at ? Stopwatch.GetElapsedTime(source.Started, at) : null;
        return new RelayFigures("", source.CommandLine, messages, source, sink.Latest.Messages - sinkBefore, endToEnd);
    }

    private async Task<RelayUnderTest> StartHeraldAsync(string directory, int sinkPort, CancellationToken cancellationToken)
    {
        var environment = options.GreetingDelay is { } delay
            ? new Dictionary<string, string?> { ["HERALD_Relay__GreetingDelay"] = delay.ToString("c", CultureInfo.InvariantCulture) }
            : null;
        var node = new HeraldNode(options.HeraldDll, Path.Combine(directory, "data"), null, Path.Combine(directory, "serve.log"), children, environment);
        try
        {
            progress.WriteLine($"herald: configuring the node (smtp set, relay set) in {directory}");
            await node.ConfigureSmtpAsync(sinkPort, options.ConnectionLimit, cancellationToken);
            var port = Ports.Free();
            await node.ConfigureRelayAsync(port, cancellationToken);
            await node.StartAsync(Ports.Free(), http, cancellationToken);
            await node.WaitForRelayAsync(port, cancellationToken);
            var name = "Herald relay (SQLite)" + (options.GreetingDelay is { } d ? $", greeting delay {d.TotalMilliseconds:0} ms" : "");
            return new RelayUnderTest(name, port, () => { node.Dispose(); return ValueTask.CompletedTask; });
        }
        catch
        {
            node.Dispose();
            throw;
        }
    }

    private async Task<RelayUnderTest> StartPostfixAsync(string directory, int sinkPort, CancellationToken cancellationToken)
    {
        progress.WriteLine($"postfix: starting a private instance in {directory}");
        var postfix = await PostfixRelay.StartAsync(PostfixRelay.Script(options.RepositoryRoot), Path.Combine(directory, "postfix"), sinkPort, cancellationToken);
        return new RelayUnderTest($"Postfix {PostfixVersion()}", postfix.Port, postfix.DisposeAsync);
    }

    private static string PostfixVersion()
    {
        try
        {
            using var postconf = Process.Start(new ProcessStartInfo(File.Exists("/usr/sbin/postconf") ? "/usr/sbin/postconf" : "postconf", "-dh mail_version")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            });
            var version = postconf?.StandardOutput.ReadToEnd().Trim();
            postconf?.WaitForExit();
            return string.IsNullOrEmpty(version) ? "" : version;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }

    public static string Describe(RelayFigures figures) =>
        figures.Source.AllAccepted
            ? $"the sink counted {figures.Delivered} of {figures.Offered}"
            : $"smtp-source exited with {figures.Source.ExitCode}: {figures.Source.Error}";

    /// <summary>A started relay: where smtp-source sends to, and how to stop it.</summary>
    private sealed class RelayUnderTest(string name, int port, Func<ValueTask> stop) : IAsyncDisposable
    {
        public string Name => name;

        public int Port => port;

        public ValueTask DisposeAsync() => stop();
    }
}
