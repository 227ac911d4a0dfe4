using Microsoft.Extensions.Options;

namespace Herald.Outbox;

/// <summary>
/// How each SMTP connection is doing as seen by this node, and its circuit breaker. A connection
/// that fails to connect, to start TLS or to authenticate <see cref="DeliveryOptions.FailuresBeforeDown"/>
/// times in a row is <b>down</b>: its messages are left in the outbox (not claimed, not tried one
/// by one, no attempt counted) while one probe at a time, at the growing intervals of
/// <see cref="DeliveryOptions.ProbeIntervals"/>, tests the connection; the first success brings it
/// back, and its backlog is claimed at full speed again. A failure for a configuration reason
/// (authentication refused, TLS) is shown at once, before the connection is down.
/// </summary>
public sealed class ConnectionHealth(IOptions<DeliveryOptions> options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ConnectionStatus> _status = new(StringComparer.Ordinal);

    // Copies for readers that run on every claim, every attempt and every page: replaced under the lock.
    private volatile Dictionary<string, ConnectionStatus> _all = new Dictionary<string, ConnectionStatus>(StringComparer.Ordinal);
    private volatile Dictionary<string, ConnectionStatus> _failing = new Dictionary<string, ConnectionStatus>(StringComparer.Ordinal);
    private volatile IReadOnlyCollection<string> _down = [];

    /// <summary>The connections to show as failing (the console's banner, <c>herald_connection_failing</c>):
    /// those that are down and those failing for a configuration reason.</summary>
    public IReadOnlyDictionary<string, ConnectionStatus> Failing => _failing;

    /// <summary>The connections that are down: their messages wait in the outbox for a probe.</summary>
    public IReadOnlyCollection<string> Down => _down;

    public bool IsDown(string connection) => _failing.TryGetValue(connection, out var status) && status.Down;

    /// <summary>An attempt through <paramref name="connection"/> could not connect, start TLS or
    /// authenticate; <paramref name="configuration"/> when the reason is the configuration's
    /// (refused credentials, TLS that cannot be established) rather than the network's.</summary>
    public void ReportFailure(string connection, string problem, bool configuration)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var status = _status.TryGetValue(connection, out var known)
                ? known with { Problem = problem, Failures = known.Failures + 1, Configuration = known.Configuration || configuration }
                : new ConnectionStatus(problem, now) { Failures = 1, Configuration = configuration };
            if (!status.Down && status.Failures >= options.Value.FailuresBeforeDown)
            {
                status = status with { Down = true, DownSince = now, NextProbeAt = now + ProbeInterval(0) };
            }

            Set(connection, status);
        }
    }

    /// <summary>A transaction (or a probe) through <paramref name="connection"/> got past
    /// authentication: it works, and whatever waited for it may be claimed again.</summary>
    public void ReportSuccess(string connection)
    {
        // Most attempts succeed through a connection nothing was wrong with: no lock for those.
        if (!_all.ContainsKey(connection))
        {
            return;
        }

        lock (_lock)
        {
            if (_status.Remove(connection))
            {
                Publish();
            }
        }
    }

    /// <summary>The down connections due for a probe now, each marked as being probed so that
    /// only one probe at a time tests it; each is answered with <see cref="ReportSuccess"/> or
    /// <see cref="ProbeFailed"/>.</summary>
    public IReadOnlyList<string> BeginDueProbes()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var due = _status.Where(s => s.Value is { Down: true, Probing: false } && s.Value.NextProbeAt <= now).Select(s => s.Key).ToArray();
            foreach (var connection in due)
            {
                _status[connection] = _status[connection] with { Probing = true };
            }

            return due;
        }
    }

    /// <summary>A probe of a down connection failed: the next one waits longer.</summary>
    public void ProbeFailed(string connection, string problem)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_status.TryGetValue(connection, out var status) && status.Down)
            {
                var probes = status.FailedProbes + 1;
                Set(connection, status with { Problem = problem, FailedProbes = probes, Probing = false, NextProbeAt = now + ProbeInterval(probes) });
            }
        }
    }

    /// <summary>A probe could not be made at all (the connection was removed meanwhile, or this
    /// node may no longer use it): the connection is forgotten, and its messages are claimed
    /// again and go wherever their scope sends now.</summary>
    public void Forget(string connection) => ReportSuccess(connection);

    /// <summary>How long until the next probe is due; null when nothing is down.</summary>
    public TimeSpan? UntilNextProbe()
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var next = _status.Values.Where(s => s is { Down: true, Probing: false }).Select(s => s.NextProbeAt).Min();
            return next is { } at ? (at > now ? at - now : TimeSpan.Zero) : null;
        }
    }

    private TimeSpan ProbeInterval(int failedProbes)
    {
        IReadOnlyList<TimeSpan> intervals = options.Value.ProbeIntervals.Length > 0 ? options.Value.ProbeIntervals : DeliveryOptions.DefaultProbeIntervals;
        return intervals[Math.Min(failedProbes, intervals.Count - 1)];
    }

    private void Set(string connection, ConnectionStatus status)
    {
        _status[connection] = status;
        Publish();
    }

    private void Publish()
    {
        _all = _status.ToDictionary(StringComparer.Ordinal);
        _failing = _status.Where(s => s.Value.Down || s.Value.Configuration).ToDictionary(StringComparer.Ordinal);
        _down = _status.Where(s => s.Value.Down).Select(s => s.Key).ToArray();
    }
}

/// <summary>Why a connection is failing, since when, and where its circuit breaker stands.</summary>
/// <param name="Problem">The last failure's sentence.</param>
/// <param name="Since">The first of the failures in a row.</param>
public sealed record ConnectionStatus(string Problem, DateTimeOffset Since)
{
    /// <summary>Failures to connect, start TLS or authenticate in a row.</summary>
    public int Failures { get; init; }

    /// <summary>At least one of them was the configuration's fault (authentication, TLS).</summary>
    public bool Configuration { get; init; }

    /// <summary>The breaker is open: the connection's messages wait for a probe.</summary>
    public bool Down { get; init; }

    public DateTimeOffset? DownSince { get; init; }

    /// <summary>When the next probe tests the connection (while it is down).</summary>
    public DateTimeOffset? NextProbeAt { get; init; }

    /// <summary>Probes that failed since the connection went down.</summary>
    public int FailedProbes { get; init; }

    internal bool Probing { get; init; }
}
