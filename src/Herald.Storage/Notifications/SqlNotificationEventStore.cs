using System.Text.Json;
using Dapper;
using Herald.Notifications;
using Herald.Notifications.Events;
using Herald.Scopes;
using Herald.Storage.Database;
using Herald.Work;

namespace Herald.Storage.Notifications;

/// <summary>The <c>notification_events</c> table: an event's row is named by its scope and id.</summary>
public sealed class SqlNotificationEventStore(HeraldDatabase database) : INotificationEventStore
{
    public async Task<IReadOnlyList<bool>> AddAsync(IReadOnlyList<NotificationEvent> events, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var duplicates = new bool[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            // A repeated id in the same scope (in this batch or stored before) inserts nothing: the
            // first one stands. The same id in another scope is another event.
            var inserted = await connection.ExecuteAsync(
                $"""
                INSERT INTO notification_events ({EventRow.Columns}, state)
                VALUES (@Id, @ScopePath, @Type, @ResourcePath, @Actor, @Title, @Link, @Data, @OccurredAt, @ReceivedAt, @TraceParent, 'pending')
                ON CONFLICT (scope_path, id) DO NOTHING
                """,
                EventRow.From(events[i]), write.Transaction).ConfigureAwait(false);
            duplicates[i] = inserted == 0;
        }

        // Checkpoint: the events are durable before the producer is told 202.
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return duplicates;
    }

    public async Task<IReadOnlyList<NotificationEvent>> ClaimAsync(string node, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        var due = $"""
            SELECT scope_path, id FROM notification_events
            WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < @now)
            ORDER BY received_at LIMIT @max
            """;
        // at-least-once: a lease that runs out (its node died mid-fan-out) makes the event
        // claimable again; the outbox's idempotency keys make the second fan-out send nothing twice.
        var sql = database.Engine == "postgres"
            ? $"""
               UPDATE notification_events AS e SET lease_owner = @node, lease_until = @until
               FROM ({due} FOR UPDATE SKIP LOCKED) AS due WHERE e.scope_path = due.scope_path AND e.id = due.id
               RETURNING e.id, e.scope_path, e.type, e.resource_path, e.actor, e.title, e.link, e.data, e.occurred_at, e.received_at, e.trace_parent, e.failures
               """
            : $"""
               UPDATE notification_events SET lease_owner = @node, lease_until = @until
               WHERE (scope_path, id) IN ({due})
               RETURNING {EventRow.Columns}, failures
               """;
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var rows = (await connection.QueryAsync<EventRow>(
            sql, new { node, until = (now + lease).ToUnixTimeMilliseconds(), now = now.ToUnixTimeMilliseconds(), max }, write.Transaction).ConfigureAwait(false)).ToArray();
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return rows.OrderBy(r => r.ReceivedAt).Select(r => r.ToEvent()).ToArray();
    }

    public async Task<IReadOnlyList<EventKey>> RenewAsync(string node, IReadOnlyList<EventKey> events, DateTimeOffset until, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return [];
        }

        // One statement for the whole batch; a lease is only renewed by the node that holds it.
        var parameters = new DynamicParameters(new { node, until = until.ToUnixTimeMilliseconds() });
        var named = events.Distinct().Select((e, i) =>
        {
            parameters.Add($"s{i}", e.Scope.Value);
            parameters.Add($"i{i}", e.Id);
            return $"(scope_path = @s{i} AND id = @i{i})";
        });
        var sql = $"UPDATE notification_events SET lease_until = @until WHERE lease_owner = @node AND state = 'pending' AND ({string.Join(" OR ", named)}) RETURNING scope_path, id";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var renewed = await connection.QueryAsync<(string ScopePath, string Id)>(sql, parameters).ConfigureAwait(false);
        return renewed.Select(r => new EventKey(ScopePath.Parse(r.ScopePath), r.Id)).ToArray();
    }

    public Task<bool> CompleteAsync(EventKey key, string node, DateTimeOffset now, CancellationToken cancellationToken) =>
        CompleteAsync(key, node, now, null, cancellationToken);

    public async Task<bool> CompleteAsync(EventKey key, string node, DateTimeOffset now, Herald.Webhooks.WebhookEvent? outcome, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var completed = await connection.ExecuteAsync(
            """
            UPDATE notification_events SET state = 'done', processed_at = @now, lease_owner = NULL, lease_until = NULL
            WHERE scope_path = @scope AND id = @id AND lease_owner = @node AND state = 'pending'
            """,
            new { scope = key.Scope.Value, id = key.Id, node, now = now.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false) > 0;
        // The webhooks hear that the event finished in the transaction that says so (only once:
        // a node whose lease ran out records nothing).
        if (completed && outcome is not null)
        {
            await Herald.Storage.Webhooks.WebhookJournal.AppendAsync(database, connection, write.Transaction, [outcome]).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return completed;
    }

    public async Task ReleaseAsync(EventKey key, string node, DateTimeOffset retryAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE notification_events SET lease_owner = NULL, lease_until = @until WHERE scope_path = @scope AND id = @id AND lease_owner = @node AND state = 'pending'",
            new { scope = key.Scope.Value, id = key.Id, node, until = retryAt.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task<NotificationEvent?> FindAsync(EventKey key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<EventRow>(
            $"SELECT {EventRow.Columns} FROM notification_events WHERE scope_path = @scope AND id = @id", new { scope = key.Scope.Value, id = key.Id }).ConfigureAwait(false);
        return row?.ToEvent();
    }

    public async Task<bool> FailAsync(EventKey key, string node, ItemFailure failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Given back like an event whose scope cannot send: claimable again once lease_until has
        // passed; or quarantined, which no claim takes.
        return await connection.ExecuteAsync(
            """
            UPDATE notification_events SET failures = @failures, last_error = @error, lease_owner = NULL, lease_until = @retryAt,
                state = CASE WHEN @quarantined = 1 THEN 'failed' ELSE state END
            WHERE scope_path = @scope AND id = @id AND lease_owner = @node AND state = 'pending'
            """,
            new
            {
                scope = key.Scope.Value,
                id = key.Id,
                node,
                failures = failure.Failures,
                error = failure.Reason,
                retryAt = failure.RetryAt?.ToUnixTimeMilliseconds(),
                quarantined = failure.Quarantined ? 1 : 0,
            }).ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlyList<FailedEvent>> ListFailedAsync(ScopePath scope, int limit, CancellationToken cancellationToken)
    {
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string ScopePath, string Id, string Type, string Title, long ReceivedAt, long Failures, string? LastError)>(
            $"""
            SELECT scope_path, id, type, title, received_at, failures, last_error FROM notification_events
            WHERE state = 'failed' AND (scope_path = @scope OR substr(scope_path, 1, @prefixLength) = @prefix)
            ORDER BY received_at DESC LIMIT {Math.Clamp(limit, 1, 1000)}
            """,
            new { scope = scope.Value, prefix, prefixLength = prefix.Length }).ConfigureAwait(false);
        return rows.Select(r => new FailedEvent(
            new EventKey(ScopePath.Parse(r.ScopePath), r.Id), r.Type, r.Title, DateTimeOffset.FromUnixTimeMilliseconds(r.ReceivedAt), (int)r.Failures, r.LastError)).ToArray();
    }

    public async Task<long> CountFailedAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM notification_events WHERE state = 'failed' AND (scope_path = @scope OR substr(scope_path, 1, @prefixLength) = @prefix)",
            new { scope = scope.Value, prefix, prefixLength = prefix.Length }).ConfigureAwait(false);
    }

    public async Task<bool> RetryAsync(EventKey key, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            """
            UPDATE notification_events SET state = 'pending', failures = 0, last_error = NULL, lease_owner = NULL, lease_until = NULL
            WHERE scope_path = @scope AND id = @id AND state = 'failed'
            """,
            new { scope = key.Scope.Value, id = key.Id }).ConfigureAwait(false) > 0;
    }
}
