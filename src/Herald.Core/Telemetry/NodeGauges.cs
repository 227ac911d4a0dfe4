using System.Diagnostics.Metrics;
using Herald.Access;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Work;

namespace Herald.Telemetry;

/// <summary>
/// The gauges that read state rather than count work: recipients in the outbox by state
/// (<c>herald_outbox_recipients{state}</c>), quarantined work by kind
/// (<c>herald_failed_items{kind}</c>), and SMTP connections failing or down as this node sees them
/// (<c>herald_connection_failing{connection}</c>, <c>herald_connection_down{connection}</c>).
/// A collection reads the database once for all of them: the outbox and quarantine counts are one
/// snapshot, refreshed by <see cref="RefreshAsync"/> before each scrape of <c>/metrics</c> and
/// otherwise (a periodic OTLP export) when older than <see cref="SnapshotLifetime"/>.
/// </summary>
public sealed class NodeGauges
{
    /// <summary>How long a snapshot serves collections that did not refresh it themselves.</summary>
    public static readonly TimeSpan SnapshotLifetime = TimeSpan.FromSeconds(5);

    private readonly IOutboxStore _outbox;
    private readonly FailedWorkService _failed;
    private readonly TimeProvider _time;
    private Snapshot? _snapshot;

    public NodeGauges(IMeterFactory meters, IOutboxStore outbox, FailedWorkService failed, ConnectionHealth health, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(health);
        (_outbox, _failed, _time) = (outbox, failed, time);
        var meter = meters.Create(HeraldTelemetry.Name);
        meter.CreateObservableGauge("herald.outbox.recipients", () =>
            Enum.GetValues<RecipientState>().Select(state => new Measurement<long>(
                Current().Recipients.GetValueOrDefault(state), new KeyValuePair<string, object?>("state", RecipientStateNames.Values.NameOf(state)))),
            description: "Recipients in the outbox by delivery state.");
        meter.CreateObservableGauge<long>("herald.failed.items", () => Current().Failed is { } failed
                ? [Kind(failed.Messages, "message"), Kind(failed.Events, "event"), Kind(failed.Digests, "digest")]
                : [],
            description: "Work quarantined after failing for a reason of its own, waiting for an administrator, by kind.");
        meter.CreateObservableGauge("herald.connection.failing", () =>
            health.Failing.Keys.Select(connection => Connection(connection)),
            description: "SMTP connections failing as seen by this node: down, or refusing for a configuration reason (authentication, TLS).");
        meter.CreateObservableGauge("herald.connection.down", () =>
            health.Down.Select(connection => Connection(connection)),
            description: "SMTP connections down as seen by this node: their messages wait, untried, while a probe tests the connection at growing intervals.");
    }

    /// <summary>Reads the database's counts for the collection about to run (a scrape).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken) =>
        _snapshot = await LoadAsync(cancellationToken).ConfigureAwait(false);

    private Snapshot Current()
    {
        if (_snapshot is { } snapshot && _time.GetUtcNow() - snapshot.At < SnapshotLifetime)
        {
            return snapshot;
        }

        // A collection nobody refreshed (OTLP's periodic export): instruments are read
        // synchronously, so this one read waits; the next instruments of the collection reuse it.
        return _snapshot = LoadAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    private async Task<Snapshot> LoadAsync(CancellationToken cancellationToken)
    {
        var recipients = await _outbox.CountByStateAsync(cancellationToken).ConfigureAwait(false);
        // The node counts every scope's quarantine, as the local operator would.
        var failed = (await _failed.CountAsync(Caller.Operator, ScopePath.Root, cancellationToken).ConfigureAwait(false)).Value;
        return new Snapshot(_time.GetUtcNow(), recipients, failed);
    }

    private static Measurement<long> Kind(long count, string kind) => new(count, new KeyValuePair<string, object?>("kind", kind));

    private static Measurement<int> Connection(string connection) => new(1, new KeyValuePair<string, object?>("connection", connection));

    private sealed record Snapshot(DateTimeOffset At, IReadOnlyDictionary<RecipientState, long> Recipients, FailedCounts? Failed);
}
