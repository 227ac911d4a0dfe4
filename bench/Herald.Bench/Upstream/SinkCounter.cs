using System.Diagnostics;
using System.Globalization;
using System.Text;
using Herald.Bench.Processes;

namespace Herald.Bench.Upstream;

/// <summary>smtp-sink's running counters at one moment.</summary>
/// <param name="Sessions">Sessions that ended.</param>
/// <param name="Quits">QUIT commands.</param>
/// <param name="Messages">Messages whose final "." was read (before the sink replies to it).</param>
internal readonly record struct SinkCounters(long Sessions, long Quits, long Messages);

/// <summary>
/// Reads <c>smtp-sink -c</c> output: after each ended session, each QUIT and each final "." it
/// prints <c>sess=N quit=N mesg=N</c> followed by a carriage return (no newline), so the records
/// overwrite each other on a terminal and arrive on a pipe as one long CR-separated line.
/// </summary>
internal sealed class SinkCounterParser
{
    private readonly StringBuilder _pending = new();

    /// <summary>Feeds output as it arrives (records may be split anywhere); returns each complete
    /// record in order. Anything else on the line (a warning) is skipped.</summary>
    public IReadOnlyList<SinkCounters> Feed(ReadOnlySpan<char> chunk)
    {
        var records = new List<SinkCounters>();
        foreach (var c in chunk)
        {
            if (c is '\r' or '\n')
            {
                if (TryParse(_pending.ToString(), out var counters))
                {
                    records.Add(counters);
                }

                _pending.Clear();
            }
            else
            {
                _pending.Append(c);
            }
        }

        return records;
    }

    public static bool TryParse(string record, out SinkCounters counters)
    {
        counters = default;
        long? sessions = null, quits = null, messages = null;
        foreach (var field in record.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = field.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0 || !long.TryParse(field.AsSpan(equals + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            switch (field[..equals])
            {
                case "sess": sessions = value; break;
                case "quit": quits = value; break;
                case "mesg": messages = value; break;
                default: return false;
            }
        }

        if (sessions is null || quits is null || messages is null)
        {
            return false;
        }

        counters = new SinkCounters(sessions.Value, quits.Value, messages.Value);
        return true;
    }
}

/// <summary>
/// The benchmark's upstream: plain <c>smtp-sink -c</c> (nothing written to disk), whose message
/// counter is what "delivered" means. Each message has one recipient, so one message counted by
/// the sink is one recipient delivered.
/// </summary>
internal sealed class SinkCounter : IDisposable
{
    private readonly ChildProcesses _children;
    private readonly Process _process;
    private readonly Task _reader;
    private readonly Lock _lock = new();
    private readonly List<(long Target, TaskCompletionSource<long> Reached)> _waiters = [];
    private SinkCounters _latest;

    private SinkCounter(ChildProcesses children, Process process, int port)
    {
        _children = children;
        _process = process;
        Port = port;
        _reader = Task.Run(ReadAsync);
    }

    public int Port { get; }

    public SinkCounters Latest
    {
        get
        {
            lock (_lock)
            {
                return _latest;
            }
        }
    }

    public static async Task<SinkCounter> StartAsync(ChildProcesses children, int port, string logFile, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(File.Exists("/usr/sbin/smtp-sink") ? "/usr/sbin/smtp-sink" : "smtp-sink");
        if (Environment.IsPrivilegedProcess)
        {
            // smtp-sink refuses to run as root without dropping privileges after binding.
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add("nobody");
        }

        foreach (var argument in new[] { "-c", $"127.0.0.1:{port}", "1000" })
        {
            start.ArgumentList.Add(argument);
        }

        var sink = new SinkCounter(children, children.Start(start, logFile, callerReadsOutput: true), port);
        await Ports.WaitUntilListeningAsync(port, sink._process, "smtp-sink", logFile, cancellationToken);
        return sink;
    }

    /// <summary>
    /// Waits until the sink has counted <paramref name="target"/> messages in all, and returns the
    /// <see cref="Stopwatch"/> timestamp at which the counter that reached it was read; returns null
    /// when the count made no progress for <paramref name="stallTimeout"/> (Herald stopped delivering).
    /// </summary>
    public async Task<long?> WaitForMessagesAsync(long target, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var reached = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_latest.Messages >= target)
            {
                return Stopwatch.GetTimestamp();
            }

            _waiters.Add((target, reached));
        }

        try
        {
            var seen = Latest.Messages;
            var lastProgress = Stopwatch.GetTimestamp();
            while (true)
            {
                var finished = await Task.WhenAny(reached.Task, Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken));
                cancellationToken.ThrowIfCancellationRequested();
                if (finished == reached.Task)
                {
                    return await reached.Task;
                }

                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"smtp-sink exited with {_process.ExitCode} while the benchmark was waiting for it.");
                }

                var now = Latest.Messages;
                if (now != seen)
                {
                    (seen, lastProgress) = (now, Stopwatch.GetTimestamp());
                }
                else if (Stopwatch.GetElapsedTime(lastProgress) > stallTimeout)
                {
                    return null;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _waiters.RemoveAll(w => w.Reached == reached);
            }
        }
    }

    public void Dispose()
    {
        _children.Stop(_process);
        _reader.Wait(TimeSpan.FromSeconds(5));
    }

    private async Task ReadAsync()
    {
        var parser = new SinkCounterParser();
        var buffer = new char[4096];
        var output = _process.StandardOutput;
        int read;
        while ((read = await output.ReadAsync(buffer.AsMemory())) > 0)
        {
            var records = parser.Feed(buffer.AsSpan(0, read));
            if (records.Count == 0)
            {
                continue;
            }

            var at = Stopwatch.GetTimestamp();
            lock (_lock)
            {
                _latest = records[^1];
                foreach (var waiter in _waiters.Where(w => w.Target <= _latest.Messages))
                {
                    waiter.Reached.TrySetResult(at);
                }
            }
        }
    }
}
