using System.Diagnostics;

namespace Herald.Bench.Processes;

/// <summary>
/// Every process the benchmark starts, so that all of them end however the benchmark does:
/// normally, on Ctrl-C or SIGTERM, on an exception, or at its time limit.
/// </summary>
internal sealed class ChildProcesses : IDisposable
{
    private readonly Dictionary<Process, LogFile> _running = [];
    private readonly Lock _lock = new();

    /// <summary>Starts a long-running process whose standard error (and standard output, unless the
    /// caller reads it) is appended to <paramref name="logFile"/>.</summary>
    public Process Start(ProcessStartInfo start, string logFile, bool callerReadsOutput = false)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var log = new LogFile(logFile);
        var process = new Process { StartInfo = start };
        process.ErrorDataReceived += (_, e) => log.Append(e.Data);
        if (!callerReadsOutput)
        {
            process.OutputDataReceived += (_, e) => log.Append(e.Data);
        }

        lock (_lock)
        {
            process.Start();
            _running.Add(process, log);
        }

        process.BeginErrorReadLine();
        if (!callerReadsOutput)
        {
            process.BeginOutputReadLine();
        }

        return process;
    }

    /// <summary>Ends one process (and anything it started) and forgets it.</summary>
    public void Stop(Process process)
    {
        LogFile? log;
        lock (_lock)
        {
            _running.Remove(process, out log);
        }

        Kill(process, log);
    }

    /// <summary>Ends every process still running. Safe to call from a signal handler, and twice.</summary>
    public void KillAll()
    {
        KeyValuePair<Process, LogFile>[] running;
        lock (_lock)
        {
            running = [.. _running];
            _running.Clear();
        }

        foreach (var (process, log) in running)
        {
            Kill(process, log);
        }
    }

    public void Dispose() => KillAll();

    private static void Kill(Process process, LogFile? log)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            // Also lets the output handlers finish before the log closes.
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // It had already exited.
        }

        process.Dispose();
        log?.Dispose();
    }

    /// <summary>A log that output handlers may still write to while it closes.</summary>
    private sealed class LogFile(string path) : IDisposable
    {
        private readonly StreamWriter _writer = new(path, append: true) { AutoFlush = true };
        private bool _closed;

        public void Append(string? line)
        {
            lock (_writer)
            {
                if (line is not null && !_closed)
                {
                    _writer.WriteLine(line);
                }
            }
        }

        public void Dispose()
        {
            lock (_writer)
            {
                _closed = true;
                _writer.Dispose();
            }
        }
    }
}

/// <summary>What a command that ran to completion printed and returned.</summary>
internal sealed record CommandResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}

/// <summary>Runs short commands (herald verbs, the PostgreSQL fixture script) to completion.</summary>
internal static class Command
{
    /// <summary>Runs a command; on cancellation or after <paramref name="timeout"/> it is killed
    /// and an <see cref="OperationCanceledException"/> or <see cref="TimeoutException"/> is thrown.</summary>
    public static async Task<CommandResult> RunAsync(
        string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start.");
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"'{fileName} {string.Join(' ', start.ArgumentList)}' did not finish within {timeout.TotalSeconds:0} s:\n{await output}{await error}");
        }

        return new CommandResult(process.ExitCode, await output, await error);
    }
}
