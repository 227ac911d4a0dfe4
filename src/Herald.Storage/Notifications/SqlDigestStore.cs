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
            ON CONFLICT (subscription_id, recipient, window_end) DO UPDATE SET state = 'sent', node = excluded.node, created_at = excluded.created_at
            WHERE digest_runs.state <> 'sent'
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

    public async Task<IReadOnlyList<DigestRetry>> RetriesDueAsync(string subscriptionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string Recipient, long? WindowStart, long WindowEnd, long Failures, long? NextAttemptAt)>(
            """
            SELECT recipient, window_start, window_end, failures, next_attempt_at FROM digest_runs
            WHERE subscription_id = @subscriptionId AND state = 'retrying' AND next_attempt_at <= @now
            ORDER BY window_end
            """,
            new { subscriptionId, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        return rows.Select(r => new DigestRetry(
            r.Recipient,
            DateTimeOffset.FromUnixTimeMilliseconds(r.WindowStart ?? r.WindowEnd),
            DateTimeOffset.FromUnixTimeMilliseconds(r.WindowEnd),
            (int)r.Failures,
            DateTimeOffset.FromUnixTimeMilliseconds(r.NextAttemptAt ?? 0))).ToArray();
    }

    public async Task RecordFailureAsync(DigestFailure failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            """
            INSERT INTO digest_runs (subscription_id, recipient, window_end, message_id, node, created_at, state, failures, last_error, next_attempt_at, window_start)
            VALUES (@subscription, @recipient, @windowEnd, NULL, @node, @at, @state, @failures, @error, @next, @windowStart)
            ON CONFLICT (subscription_id, recipient, window_end) DO UPDATE SET
                state = excluded.state, failures = excluded.failures, last_error = excluded.last_error,
                next_attempt_at = excluded.next_attempt_at, window_start = excluded.window_start, node = excluded.node, created_at = excluded.created_at
            WHERE digest_runs.state <> 'sent'
            """,
            new
            {
                subscription = failure.SubscriptionId,
                recipient = failure.Recipient,
                windowEnd = failure.WindowEnd.ToUnixTimeMilliseconds(),
                windowStart = failure.WindowStart.ToUnixTimeMilliseconds(),
                node = failure.Node,
                at = failure.At.ToUnixTimeMilliseconds(),
                state = failure.Failure.Quarantined ? "failed" : "retrying",
                failures = failure.Failure.Failures,
                error = failure.Failure.Reason,
                next = failure.Failure.RetryAt?.ToUnixTimeMilliseconds(),
            }).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<FailedDigest>> ListFailedAsync(ScopePath scope, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<FailedRow>(
            $"{SelectFailed} AND (s.scope_path = @scope OR substr(s.scope_path, 1, @prefixLength) = @prefix) ORDER BY r.window_end DESC LIMIT {Math.Clamp(limit, 1, 1000)}",
            ScopeParameters(scope)).ConfigureAwait(false);
        return rows.Select(r => r.ToFailed()).ToArray();
    }

    public async Task<long> CountFailedAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(
            """
            SELECT COUNT(*) FROM digest_runs r JOIN subscriptions s ON s.id = r.subscription_id
            WHERE r.state = 'failed' AND (s.scope_path = @scope OR substr(s.scope_path, 1, @prefixLength) = @prefix)
            """,
            ScopeParameters(scope)).ConfigureAwait(false);
    }

    public async Task<FailedDigest?> FindFailedAsync(string subscriptionId, string recipient, DateTimeOffset windowEnd, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<FailedRow>(
            $"{SelectFailed} AND r.subscription_id = @subscriptionId AND r.recipient = @recipient AND r.window_end = @windowEnd",
            new { subscriptionId, recipient, windowEnd = windowEnd.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        return row?.ToFailed();
    }

    public async Task<bool> RetryAsync(string subscriptionId, string recipient, DateTimeOffset windowEnd, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            """
            UPDATE digest_runs SET state = 'retrying', failures = 0, last_error = NULL, next_attempt_at = 0
            WHERE subscription_id = @subscriptionId AND recipient = @recipient AND window_end = @windowEnd AND state = 'failed'
            """,
            new { subscriptionId, recipient, windowEnd = windowEnd.ToUnixTimeMilliseconds() }).ConfigureAwait(false) > 0;
    }

    private const string SelectFailed = """
        SELECT r.subscription_id, s.name, s.scope_path, r.recipient, r.window_start, r.window_end, r.failures, r.last_error
        FROM digest_runs r JOIN subscriptions s ON s.id = r.subscription_id
        WHERE r.state = 'failed'
        """;

    private static object ScopeParameters(ScopePath scope)
    {
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        return new { scope = scope.Value, prefix, prefixLength = prefix.Length };
    }

    private sealed class FailedRow
    {
        public string SubscriptionId { get; set; } = "";
        public string Name { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string Recipient { get; set; } = "";
        public long? WindowStart { get; set; }
        public long WindowEnd { get; set; }
        public long Failures { get; set; }
        public string? LastError { get; set; }

        public FailedDigest ToFailed() => new(
            SubscriptionId, Name, Scopes.ScopePath.Parse(ScopePath), Recipient,
            DateTimeOffset.FromUnixTimeMilliseconds(WindowStart ?? WindowEnd), DateTimeOffset.FromUnixTimeMilliseconds(WindowEnd), (int)Failures, LastError);
    }
}
