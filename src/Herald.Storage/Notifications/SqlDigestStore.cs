using System.Text.Json;
using Dapper;
using Herald.Notifications;
using Herald.Notifications.Digests;
using Herald.Scopes;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

public sealed class SqlDigestStore(HeraldDatabase database) : IDigestStore
{
    public async Task AddAsync(IReadOnlyList<DigestEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        // An event matched again (a fan-out run a second time after a crash) is already there.
        await database.ExecuteEachAsync(
            connection,
            write.Transaction,
            """
            INSERT INTO digest_events (subscription_id, event_scope, event_id, received_at) VALUES (@SubscriptionId, @EventScope, @EventId, @ReceivedAt)
            ON CONFLICT (subscription_id, event_scope, event_id) DO NOTHING
            """,
            entries.Select(e => (object)new { e.SubscriptionId, EventScope = e.Event.Scope.Value, EventId = e.Event.Id, ReceivedAt = e.ReceivedAt.ToUnixTimeMilliseconds() })).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<string, DateTimeOffset>> LastRunsAsync(string subscriptionId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string Recipient, long WindowEnd)>(
            "SELECT recipient, MAX(window_end) FROM digest_runs WHERE subscription_id = @subscriptionId GROUP BY recipient",
            new { subscriptionId }).ConfigureAwait(false);
        return rows.ToDictionary(r => r.Recipient, r => DateTimeOffset.FromUnixTimeMilliseconds(r.WindowEnd), StringComparer.Ordinal);
    }

    public async Task<IReadOnlyList<NotificationEvent>> EventsAsync(
        string subscriptionId, DateTimeOffset windowStart, DateTimeOffset windowEnd, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<EventRow>(
            """
            SELECT e.id, e.type, e.scope_path, e.resource_path, e.actor, e.title, e.link, e.data, e.occurred_at, e.received_at
            FROM digest_events d JOIN notification_events e ON e.scope_path = d.event_scope AND e.id = d.event_id
            WHERE d.subscription_id = @subscriptionId AND d.received_at >= @start AND d.received_at < @end
            ORDER BY d.received_at, e.scope_path, e.id
            LIMIT @limit
            """,
            new { subscriptionId, start = windowStart.ToUnixTimeMilliseconds(), end = windowEnd.ToUnixTimeMilliseconds(), limit }).ConfigureAwait(false);
        return rows.Select(r => r.ToEvent()).ToArray();
    }

    public async Task RecordRunsAsync(IReadOnlyList<DigestRun> runs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await database.ExecuteEachAsync(
            connection,
            write.Transaction,
            """
            INSERT INTO digest_runs (subscription_id, recipient, window_end, message_id, node, created_at)
            VALUES (@SubscriptionId, @Recipient, @WindowEnd, NULL, @Node, @CreatedAt)
            ON CONFLICT (subscription_id, recipient, window_end) DO NOTHING
            """,
            runs.Select(r => (object)new { r.SubscriptionId, r.Recipient, WindowEnd = r.WindowEnd.ToUnixTimeMilliseconds(), r.Node, CreatedAt = r.CreatedAt.ToUnixTimeMilliseconds() })).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> PurgeAsync(DateTimeOffset itemsBefore, DateTimeOffset runsBefore, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var items = await connection.ExecuteAsync(
            "DELETE FROM digest_events WHERE received_at < @before", new { before = itemsBefore.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        var runs = await connection.ExecuteAsync(
            "DELETE FROM digest_runs WHERE window_end < @before", new { before = runsBefore.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        return items + runs;
    }
}
