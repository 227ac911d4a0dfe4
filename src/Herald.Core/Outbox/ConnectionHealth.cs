using System.Collections.Concurrent;

namespace Herald.Outbox;

/// <summary>Which SMTP connections are failing for a configuration reason (authentication, TLS)
/// as seen by this node, for the console's banner and for metrics.</summary>
public sealed class ConnectionHealth
{
    private readonly ConcurrentDictionary<string, ConnectionStatus> _status = new(StringComparer.Ordinal);

    public void ReportFailure(string connection, string problem, DateTimeOffset now) =>
        _status.AddOrUpdate(connection, _ => new ConnectionStatus(problem, now), (_, old) => old with { Problem = problem });

    public void ReportSuccess(string connection) => _status.TryRemove(connection, out _);

    public IReadOnlyDictionary<string, ConnectionStatus> Failing => _status;
}

public sealed record ConnectionStatus(string Problem, DateTimeOffset Since);
