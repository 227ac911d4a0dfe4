using System.Globalization;

namespace Herald.Bench.Node;

/// <summary>One reading of a process from /proc: its resident memory (VmRSS, of which RssAnon is
/// the heap and stacks and RssFile mapped files such as the SQLite database), its peak (VmHWM),
/// and the CPU time it has used.</summary>
internal readonly record struct ProcessReading(long RssBytes, long PeakRssBytes, long AnonymousBytes, long FileBytes, TimeSpan Cpu)
{
    /// <summary>Parses /proc/PID/status and the utime and stime fields of /proc/PID/stat.</summary>
    public static ProcessReading Parse(string status, string stat, long ticksPerSecond)
    {
        long Kilobytes(string field)
        {
            foreach (var line in status.Split('\n'))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    var value = line[(field.Length + 1)..].Trim();
                    var unit = value.IndexOf(' ', StringComparison.Ordinal);
                    return long.Parse(unit < 0 ? value : value[..unit], NumberStyles.None, CultureInfo.InvariantCulture) * 1024;
                }
            }

            return 0;
        }

        // The command name (field 2) is in parentheses and may hold spaces: count from after it.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return new ProcessReading(Kilobytes("VmRSS"), Kilobytes("VmHWM"), Kilobytes("RssAnon"), Kilobytes("RssFile"),
            TimeSpan.FromSeconds((double)ticks / ticksPerSecond));
    }
}

/// <summary>
/// Reads a process's memory and CPU time once a second while a benchmark runs, and keeps the
/// largest RSS seen in each phase the benchmark names (VmHWM is kept by the kernel too, over the
/// whole life of the process).
/// </summary>
internal sealed class ProcessWatch : IDisposable
{
    // USER_HZ: what /proc/PID/stat counts CPU time in; 100 on every Linux the benchmark runs on.
    private const long TicksPerSecond = 100;

    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _peakByPhase = new(StringComparer.Ordinal);
    private string _phase = "start";

    public ProcessWatch(int pid)
    {
        _pid = pid;
        _sampling = Task.Run(SampleAsync);
    }

    /// <summary>Readings from now on count towards <paramref name="phase"/>.</summary>
    public void Enter(string phase)
    {
        Read();
        lock (_lock)
        {
            _phase = phase;
        }
    }

    /// <summary>The largest RSS read while <paramref name="phase"/> lasted; 0 when never read.</summary>
    public long PeakDuring(string phase)
    {
        lock (_lock)
        {
            return _peakByPhase.GetValueOrDefault(phase);
        }
    }

    /// <summary>Reads the process now; also recorded against the current phase.</summary>
    public ProcessReading Read()
    {
        var reading = ProcessReading.Parse(File.ReadAllText($"/proc/{_pid}/status"), File.ReadAllText($"/proc/{_pid}/stat"), TicksPerSecond);
        lock (_lock)
        {
            _peakByPhase[_phase] = Math.Max(_peakByPhase.GetValueOrDefault(_phase), reading.RssBytes);
        }

        return reading;
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _sampling.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The process ended meanwhile.
        }

        _stop.Dispose();
    }

    private async Task SampleAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                Read();
                await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (IOException)
            {
                // The process has ended.
                return;
            }
        }
    }
}
