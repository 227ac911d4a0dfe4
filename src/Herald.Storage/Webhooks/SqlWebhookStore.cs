using Dapper;
using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Database;
using Herald.Webhooks;

namespace Herald.Storage.Webhooks;

/// <summary>Webhook endpoints, their deliveries and their log on SQLite or PostgreSQL. Deliveries
/// are claimed as messages are (leases; FOR UPDATE SKIP LOCKED on PostgreSQL), and a delivery is
/// claimable only when its endpoint holds no earlier undelivered one of the same message.</summary>
public sealed class SqlWebhookStore(HeraldDatabase database) : IWebhookStore
{
    private const string EndpointColumns = "id, scope_path, url, description, event_types, enabled, failing_since, disabled_reason, created_at, created_by";
    private const string DeliveryColumns = "seq, id, endpoint_id, type, subject, state, attempts, created_at, next_attempt_at, last_status, last_reply, delivered_at";

    /// <summary>The scope and the scopes below it, by whole path segments (never LIKE on names).</summary>
    private const string InSubtree = "(scope_path = @scope OR substr(scope_path, 1, @prefixLength) = @prefix)";

    public async Task<IReadOnlyList<WebhookEndpoint>> ListAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<EndpointRow>(
            $"SELECT {EndpointColumns} FROM webhook_endpoints WHERE {InSubtree} ORDER BY scope_path, id", Subtree(scope)).ConfigureAwait(false);
        return rows.Select(r => r.ToEndpoint()).ToArray();
    }

    public async Task<IReadOnlyList<WebhookEndpoint>> ListDisabledAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<EndpointRow>(
            $"SELECT {EndpointColumns} FROM webhook_endpoints WHERE enabled = 0 AND disabled_reason IS NOT NULL AND {InSubtree} ORDER BY scope_path, id",
            Subtree(scope)).ConfigureAwait(false);
        return rows.Select(r => r.ToEndpoint()).ToArray();
    }

    public async Task<WebhookEndpoint?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<EndpointRow>($"SELECT {EndpointColumns} FROM webhook_endpoints WHERE id = @id", new { id }).ConfigureAwait(false);
        return row?.ToEndpoint();
    }

    public async Task AddAsync(WebhookEndpoint endpoint, EncryptedSecret secret, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(secret);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var at = endpoint.CreatedAt.ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(
            """
            INSERT INTO webhook_endpoints (id, scope_path, url, description, event_types, enabled, failing_since, disabled_reason, created_at, created_by, updated_at)
            VALUES (@Id, @Scope, @Url, @Description, @Types, 1, NULL, NULL, @At, @CreatedBy, @At)
            """,
            new { endpoint.Id, Scope = endpoint.Scope.Value, Url = endpoint.Url.AbsoluteUri, endpoint.Description, Types = string.Join(' ', endpoint.EventTypes), At = at, endpoint.CreatedBy },
            write.Transaction).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO secrets (name, ciphertext, updated_at) VALUES (@name, @ciphertext, @at)",
            new { name = SecretNames.WebhookSecret(endpoint.Id), ciphertext = secret.Ciphertext, at }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> UpdateAsync(WebhookEndpoint endpoint, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var changed = await connection.ExecuteAsync(
            """
            UPDATE webhook_endpoints SET url = @Url, description = @Description, event_types = @Types, enabled = @Enabled,
                failing_since = @FailingSince, disabled_reason = @DisabledReason, updated_at = @now
            WHERE id = @Id
            """,
            new
            {
                endpoint.Id,
                Url = endpoint.Url.AbsoluteUri,
                endpoint.Description,
                Types = string.Join(' ', endpoint.EventTypes),
                Enabled = endpoint.Enabled ? 1 : 0,
                FailingSince = endpoint.FailingSince?.ToUnixTimeMilliseconds(),
                endpoint.DisabledReason,
                now = now.ToUnixTimeMilliseconds(),
            },
            write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed > 0;
    }

    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        // Spelled out rather than left to ON DELETE CASCADE: SQLite enforces foreign keys only when asked to.
        await connection.ExecuteAsync("DELETE FROM webhook_attempts WHERE endpoint_id = @id", new { id }, write.Transaction).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM webhook_deliveries WHERE endpoint_id = @id", new { id }, write.Transaction).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM secrets WHERE name = @name", new { name = SecretNames.WebhookSecret(id) }, write.Transaction).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync("DELETE FROM webhook_endpoints WHERE id = @id", new { id }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task<EncryptedSecret?> GetSecretAsync(string endpointId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var ciphertext = await connection.QuerySingleOrDefaultAsync<byte[]>(
            "SELECT ciphertext FROM secrets WHERE name = @name", new { name = SecretNames.WebhookSecret(endpointId) }).ConfigureAwait(false);
        return ciphertext is null ? null : new EncryptedSecret(ciphertext);
    }

    public async Task<(IReadOnlyList<WebhookAttempt> Attempts, IReadOnlyList<WebhookDelivery> Waiting)> LogAsync(
        string endpointId, int attempts, int waiting, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var tries = await connection.QueryAsync<AttemptRow>(
            "SELECT delivery_seq, delivery_id, type, at, status, succeeded, reply FROM webhook_attempts WHERE endpoint_id = @endpointId ORDER BY id DESC LIMIT @attempts",
            new { endpointId, attempts }).ConfigureAwait(false);
        var pending = await connection.QueryAsync<DeliveryRow>(
            $"SELECT {DeliveryColumns} FROM webhook_deliveries WHERE endpoint_id = @endpointId AND state <> 'delivered' ORDER BY seq LIMIT @waiting",
            new { endpointId, waiting }).ConfigureAwait(false);
        return (tries.Select(t => t.ToAttempt()).ToArray(), pending.Select(d => d.ToDelivery()).ToArray());
    }

    public async Task<WebhookDelivery?> FindDeliveryAsync(string endpointId, string deliveryId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<DeliveryRow>(
            $"SELECT {DeliveryColumns} FROM webhook_deliveries WHERE endpoint_id = @endpointId AND id = @deliveryId", new { endpointId, deliveryId }).ConfigureAwait(false);
        return row?.ToDelivery();
    }

    public async Task<bool> RetryAsync(string endpointId, string deliveryId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var changed = await connection.ExecuteAsync(
            """
            UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = @now, failures = 0, delivered_at = NULL, updated_at = @now
            WHERE endpoint_id = @endpointId AND id = @deliveryId
            """,
            new { endpointId, deliveryId, now = now.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed > 0;
    }

    public async Task<IReadOnlyList<ClaimedWebhookDelivery>> ClaimAsync(string node, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        // In order per message: a delivery waits while its endpoint has an earlier one of the same
        // message not yet delivered (being tried, backing off, or quarantined).
        // at-least-once: a lease that expires (its node died) makes the delivery claimable again.
        var due = $"""
            SELECT d.seq FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
            WHERE d.state = 'pending' AND d.next_attempt_at <= @now AND (d.lease_until IS NULL OR d.lease_until < @now) AND e.enabled = 1
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                              WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key AND p.seq < d.seq AND p.state <> 'delivered')
            ORDER BY d.next_attempt_at, d.seq LIMIT @max{(database.Engine == "postgres" ? " FOR UPDATE OF d SKIP LOCKED" : "")}
            """;
        var sql = database.Engine == "postgres"
            ? $"""
               UPDATE webhook_deliveries AS w SET lease_owner = @node, lease_until = @until, updated_at = @now
               FROM ({due}) AS due WHERE w.seq = due.seq
               RETURNING w.seq, w.id, w.endpoint_id, w.payload, w.attempts, w.failures
               """
            : $"""
               UPDATE webhook_deliveries SET lease_owner = @node, lease_until = @until, updated_at = @now
               WHERE seq IN ({due})
               RETURNING seq, id, endpoint_id, payload, attempts, failures
               """;
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        var rows = (await connection.QueryAsync<ClaimRow>(
            sql, new { node, until = (now + lease).ToUnixTimeMilliseconds(), now = now.ToUnixTimeMilliseconds(), max }, write.Transaction).ConfigureAwait(false)).ToArray();
        if (rows.Length == 0)
        {
            return [];
        }

        var endpoints = (await connection.QueryAsync<(string Id, string Url, long? FailingSince)>(
                $"SELECT id, url, failing_since FROM webhook_endpoints WHERE {database.IsAnyOf("id", "ids")}",
                new { ids = rows.Select(r => r.EndpointId).Distinct(StringComparer.Ordinal).ToArray() }, write.Transaction).ConfigureAwait(false))
            .ToDictionary(e => e.Id, StringComparer.Ordinal);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return rows
            .OrderBy(r => r.Seq)
            .Select(r => new ClaimedWebhookDelivery(
                r.Seq, r.Id, r.EndpointId, new Uri(endpoints[r.EndpointId].Url), r.Payload, (int)r.Attempts, (int)r.Failures,
                endpoints[r.EndpointId].FailingSince is { } since ? DateTimeOffset.FromUnixTimeMilliseconds(since) : null))
            .ToArray();
    }

    public async Task<IReadOnlyCollection<long>> RenewAsync(string node, IReadOnlyList<long> sequences, DateTimeOffset until, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        var renewed = (await connection.QueryAsync<long>(
            $"UPDATE webhook_deliveries SET lease_until = @until WHERE lease_owner = @node AND state = 'pending' AND {database.IsAnyOf("seq", "sequences")} RETURNING seq",
            new { node, until = until.ToUnixTimeMilliseconds(), sequences = sequences.ToArray() }, write.Transaction).ConfigureAwait(false)).ToArray();
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return renewed;
    }

    public async Task<int> RecordAsync(IReadOnlyList<WebhookOutcome> outcomes, int logSize, DateTimeOffset disableBefore, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // WithNextCommit: an outcome lost with the machine means the delivery is sent again after
        // its lease (at-least-once; the receiver drops the repeat by its webhook-id).
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;

        // Fencing: only the node that holds the lease records.
        var held = (await connection.QueryAsync<(long Seq, string? LeaseOwner, string Id, string Type)>(
                $"SELECT seq, lease_owner, id, type FROM webhook_deliveries WHERE {database.IsAnyOf("seq", "sequences")}{database.LockRows}",
                new { sequences = outcomes.Select(o => o.Sequence).Distinct().ToArray() }, transaction).ConfigureAwait(false))
            .ToDictionary(r => r.Seq);
        var current = outcomes
            .Where(o => held.TryGetValue(o.Sequence, out var row) && row.LeaseOwner == o.Node)
            .DistinctBy(o => o.Sequence)
            .ToArray();
        if (current.Length == 0)
        {
            return 0;
        }

        var attempted = current.Where(o => !o.Postponed).ToArray();
        await database.ExecuteEachAsync(
            connection,
            transaction,
            """
            UPDATE webhook_deliveries SET
                state = CASE WHEN @Succeeded = 1 THEN 'delivered' WHEN @Quarantined = 1 THEN 'failed' ELSE state END,
                attempts = attempts + @Attempted, failures = @Failures, next_attempt_at = @Next,
                last_status = CASE WHEN @Attempted = 1 THEN @Status ELSE last_status END,
                last_reply = CASE WHEN @Attempted = 1 THEN @Reply ELSE last_reply END,
                delivered_at = CASE WHEN @Succeeded = 1 THEN @At ELSE delivered_at END,
                lease_owner = NULL, lease_until = NULL, updated_at = @At
            WHERE seq = @Sequence
            """,
            current.Select(o => (object)new
            {
                o.Sequence,
                Succeeded = o.Succeeded ? 1 : 0,
                Quarantined = o.Failure is { Quarantined: true } ? 1 : 0,
                Attempted = o.Postponed ? 0 : 1,
                Failures = o.Failure?.Failures ?? 0,
                Next = o.NextAttemptAt.ToUnixTimeMilliseconds(),
                o.Status,
                o.Reply,
                At = o.At.ToUnixTimeMilliseconds(),
            })).ConfigureAwait(false);
        await database.ExecuteEachAsync(
            connection,
            transaction,
            "INSERT INTO webhook_attempts (endpoint_id, delivery_seq, delivery_id, type, at, status, succeeded, reply) VALUES (@EndpointId, @Sequence, @Id, @Type, @At, @Status, @Succeeded, @Reply)",
            attempted.Select(o => (object)new
            {
                o.EndpointId,
                o.Sequence,
                held[o.Sequence].Id,
                held[o.Sequence].Type,
                At = o.At.ToUnixTimeMilliseconds(),
                o.Status,
                Succeeded = o.Succeeded ? 1 : 0,
                o.Reply,
            })).ConfigureAwait(false);

        // Per endpoint, its latest attempt decides: a success ends its failing; a failure starts it
        // (if it was not failing yet), and an endpoint failing since before disableBefore is disabled.
        foreach (var latest in attempted.GroupBy(o => o.EndpointId, StringComparer.Ordinal).Select(g => g.MaxBy(o => o.At)!))
        {
            var at = latest.At.ToUnixTimeMilliseconds();
            if (latest.Succeeded)
            {
                await connection.ExecuteAsync(
                    "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = @id AND failing_since IS NOT NULL", new { id = latest.EndpointId }, transaction).ConfigureAwait(false);
            }
            else
            {
                var first = attempted.Where(o => o.EndpointId == latest.EndpointId).Min(o => o.At).ToUnixTimeMilliseconds();
                await connection.ExecuteAsync(
                    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, @first) WHERE id = @id", new { id = latest.EndpointId, first }, transaction).ConfigureAwait(false);
                var last = latest.Status is { } status ? $"HTTP {status.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {latest.Reply}" : latest.Reply;
                await connection.ExecuteAsync(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = @reason, updated_at = @at WHERE id = @id AND enabled = 1 AND failing_since <= @disableBefore",
                    new
                    {
                        id = latest.EndpointId,
                        at,
                        disableBefore = disableBefore.ToUnixTimeMilliseconds(),
                        reason = $"Disabled by Herald at {latest.At.UtcDateTime:yyyy-MM-dd HH:mm} UTC: no delivery succeeded for {Duration(latest.At - disableBefore)}; the last attempt: {last}",
                    },
                    transaction).ConfigureAwait(false);
            }

            // The log keeps the endpoint's last logSize attempts.
            await connection.ExecuteAsync(
                """
                DELETE FROM webhook_attempts WHERE endpoint_id = @id
                  AND id <= (SELECT id FROM webhook_attempts WHERE endpoint_id = @id ORDER BY id DESC LIMIT 1 OFFSET @logSize)
                """,
                new { id = latest.EndpointId, logSize }, transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return current.Length;
    }

    /// <summary>"3 days", "1.5 days", "6 hours", "1 minute": Webhooks:DisableAfter as it reads best.</summary>
    private static string Duration(TimeSpan span)
    {
        // The attempt was made a moment before disableBefore was taken: whole minutes, so 1 day is not "24 hours".
        span = TimeSpan.FromMinutes(Math.Round(span.TotalMinutes));
        var (amount, unit) = span.TotalDays >= 1 ? (span.TotalDays, "day") : span.TotalHours >= 1 ? (span.TotalHours, "hour") : (span.TotalMinutes, "minute");
        var text = amount.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
        return $"{text} {unit}{(text == "1" ? "" : "s")}";
    }

    public async Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync(
            "DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_at < @before", new { before = before.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }

    internal static string[] ParseTypes(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static object Subtree(ScopePath scope)
    {
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        return new { scope = scope.Value, prefix, prefixLength = prefix.Length };
    }

    private sealed class EndpointRow
    {
        public string Id { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string Url { get; set; } = "";
        public string Description { get; set; } = "";
        public string EventTypes { get; set; } = "";
        public long Enabled { get; set; }
        public long? FailingSince { get; set; }
        public string? DisabledReason { get; set; }
        public long CreatedAt { get; set; }
        public string CreatedBy { get; set; } = "";

        public WebhookEndpoint ToEndpoint() => new(
            Id,
            global::Herald.Scopes.ScopePath.Parse(ScopePath),
            new Uri(Url),
            Description,
            ParseTypes(EventTypes),
            Enabled != 0,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            CreatedBy,
            FailingSince is { } since ? DateTimeOffset.FromUnixTimeMilliseconds(since) : null,
            DisabledReason);
    }

    private sealed class DeliveryRow
    {
        public long Seq { get; set; }
        public string Id { get; set; } = "";
        public string EndpointId { get; set; } = "";
        public string Type { get; set; } = "";
        public string Subject { get; set; } = "";
        public string State { get; set; } = "";
        public long Attempts { get; set; }
        public long CreatedAt { get; set; }
        public long NextAttemptAt { get; set; }
        public long? LastStatus { get; set; }
        public string? LastReply { get; set; }
        public long? DeliveredAt { get; set; }

        public WebhookDelivery ToDelivery() => new(
            Seq,
            Id,
            EndpointId,
            Type,
            Subject,
            State switch { "delivered" => WebhookDeliveryState.Delivered, "failed" => WebhookDeliveryState.Failed, _ => WebhookDeliveryState.Pending },
            (int)Attempts,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            DateTimeOffset.FromUnixTimeMilliseconds(NextAttemptAt),
            (int?)LastStatus,
            LastReply,
            DeliveredAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);
    }

    private sealed class AttemptRow
    {
        public long DeliverySeq { get; set; }
        public string DeliveryId { get; set; } = "";
        public string Type { get; set; } = "";
        public long At { get; set; }
        public long? Status { get; set; }
        public long Succeeded { get; set; }
        public string Reply { get; set; } = "";

        public WebhookAttempt ToAttempt() => new(DeliverySeq, DeliveryId, Type, DateTimeOffset.FromUnixTimeMilliseconds(At), (int?)Status, Succeeded != 0, Reply);
    }

    private sealed class ClaimRow
    {
        public long Seq { get; set; }
        public string Id { get; set; } = "";
        public string EndpointId { get; set; } = "";
        public string Payload { get; set; } = "";
        public long Attempts { get; set; }
        public long Failures { get; set; }
    }
}
