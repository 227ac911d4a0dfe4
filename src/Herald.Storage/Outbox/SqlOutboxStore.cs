using System.Data.Common;
using Dapper;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Storage.Database;
using Herald.Storage.Webhooks;
using Herald.Webhooks;

namespace Herald.Storage.Outbox;

/// <summary>The outbox on SQLite or PostgreSQL. Only the claim differs: PostgreSQL locks the due
/// rows with FOR UPDATE SKIP LOCKED so that nodes never wait on each other; SQLite has one writer.
/// A large message's MIME is streamed in and out (incremental blob I/O on SQLite, a streamed
/// parameter and sequential reads on PostgreSQL) and is read only when it is sent, through a
/// file of <paramref name="spool"/>: neither storing nor claiming it holds it whole in memory.</summary>
public sealed class SqlOutboxStore(HeraldDatabase database, MessageSpool spool) : IOutboxStore, IOutboxStatistics
{
    private const string Pending = "pending";
    private const string Done = "done";
    private const string Queued = "queued";
    private const string Suppressed = "suppressed";

    /// <summary>Up to this size a claim reads the MIME with the row, as small messages are sent
    /// at once; a larger one stays in the database until its attempt begins.</summary>
    private const int ClaimedWithRow = 1024 * 1024;

    public async Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;

        // A message whose Idempotency-Key is already used in its scope (stored earlier, or earlier
        // in this batch) is not stored again: the caller gets the original.
        var originals = await StoredKeysAsync(connection, transaction, messages).ConfigureAwait(false);
        var results = new EnqueueResult[messages.Count];
        var fresh = new List<NewMessage>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            if (message.IdempotencyKey is { } key && originals.TryGetValue((message.Scope.Value, key), out var original))
            {
                results[i] = new EnqueueResult(original, Duplicate: true);
                continue;
            }

            if (message.IdempotencyKey is { } newKey)
            {
                originals[(message.Scope.Value, newKey)] = message.Id;
            }

            results[i] = new EnqueueResult(message.Id, Duplicate: false);
            fresh.Add(message);
        }

        // One prepared statement per table for the whole batch (Dapper runs a list through one
        // command). ON CONFLICT: another node may have stored the same key since the check.
        var inserted = await database.ExecuteEachAsync(connection, transaction, InsertMessage, fresh.Select(MessageRow)).ConfigureAwait(false);
        if (inserted < fresh.Count)
        {
            fresh = await ResolveRacesAsync(connection, transaction, fresh, results, messages).ConfigureAwait(false);
        }

        // MIME not held in memory (a spooled relay transfer) is streamed into the row just inserted.
        foreach (var message in fresh.Where(m => m.Mime.Bytes is null))
        {
            await using var content = await message.Mime.OpenReadAsync(cancellationToken).ConfigureAwait(false);
            await database.WriteBlobAsync(connection, transaction, "messages", "mime", message.Id, content, message.Mime.Length, cancellationToken).ConfigureAwait(false);
        }

        // A suppressed recipient is stored finished, with the entry that suppressed it as its reply.
        await database.ExecuteEachAsync(
            connection,
            transaction,
            "INSERT INTO recipients (message_id, ordinal, address, state, attempts, last_reply, updated_at) VALUES (@Id, @Ordinal, @Address, @State, 0, @Reply, @Created)",
            fresh.SelectMany(m => m.Recipients.Select((address, ordinal) => (object)new
            {
                m.Id,
                Ordinal = ordinal,
                Address = address,
                State = m.Suppressed.Any(s => s.Ordinal == ordinal) ? Suppressed : Queued,
                Reply = m.Suppressed.FirstOrDefault(s => s.Ordinal == ordinal)?.Reply,
                Created = m.CreatedAt.ToUnixTimeMilliseconds(),
            }))).ConfigureAwait(false);

        // Webhooks hear of each suppressed recipient in this same transaction.
        await WebhookJournal.AppendAsync(database, connection, transaction, fresh
            .SelectMany(m => m.Suppressed.Select(s => WebhookPayloads.RecipientChanged(
                m.Id, m.Scope, m.Recipients[s.Ordinal], Suppressed, 0, null, s.Reply, m.CreatedAt)))
            .OfType<WebhookEvent>()
            .ToArray()).ConfigureAwait(false);

        // Checkpoint: with synchronous=FULL (SQLite) or a synchronous commit (PostgreSQL) the
        // messages and their webhook deliveries are on disk when this returns.
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return results;
    }

    private string InsertMessage => $"""
        INSERT INTO messages (id, scope_path, source, envelope_sender, connection_name, message_id_header, mime, size_bytes, subject,
            idempotency_key, state, attempts, next_attempt_at, lease_owner, lease_until, created_at, expires_at, updated_at, trace_parent)
        VALUES (@Id, @Scope, @Source, @EnvelopeSender, @ConnectionName, @MessageIdHeader, COALESCE(@Mime, {database.BlobToWrite("@Size")}), @Size, @Subject,
            @IdempotencyKey, @State, 0, @Created, @LeaseOwner, @LeaseUntil, @Created, @Expires, @Created, @TraceParent)
        ON CONFLICT DO NOTHING
        """;

    private static object MessageRow(NewMessage message) => new
    {
        message.Id,
        Scope = message.Scope.Value,
        Source = MessageSourceNames.Values.NameOf(message.Source),
        message.EnvelopeSender,
        message.ConnectionName,
        message.MessageIdHeader,
        Mime = message.Mime.Bytes,
        Size = message.Mime.Length,
        message.Subject,
        message.IdempotencyKey,
        // Every recipient suppressed: finished as it is stored, never claimed.
        State = message.NothingToDeliver ? Done : Pending,
        LeaseOwner = message.Lease?.Node,
        LeaseUntil = message.Lease?.Until.ToUnixTimeMilliseconds(),
        Created = message.CreatedAt.ToUnixTimeMilliseconds(),
        Expires = message.ExpiresAt.ToUnixTimeMilliseconds(),
        message.TraceParent,
    };

    /// <summary>The ids already stored under the batch's idempotency keys, by scope and key.</summary>
    private async Task<Dictionary<(string Scope, string Key), string>> StoredKeysAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<NewMessage> messages)
    {
        var keys = messages.Where(m => m.IdempotencyKey is not null).Select(m => m.IdempotencyKey!).Distinct(StringComparer.Ordinal).ToArray();
        if (keys.Length == 0)
        {
            return [];
        }

        // The scopes too, so that the lookup walks the (scope_path, idempotency_key) index instead
        // of every stored message: a fan-out checks 500 keys per batch against a growing table.
        var scopes = messages.Where(m => m.IdempotencyKey is not null).Select(m => m.Scope.Value).Distinct(StringComparer.Ordinal).ToArray();
        var stored = await connection.QueryAsync<(string ScopePath, string IdempotencyKey, string Id)>(
            $"SELECT scope_path, idempotency_key, id FROM messages WHERE {database.IsAnyOf("scope_path", "scopes")} AND {database.IsAnyOf("idempotency_key", "keys")}",
            new { scopes, keys }, transaction).ConfigureAwait(false);
        return stored.ToDictionary(r => (r.ScopePath, r.IdempotencyKey), r => r.Id);
    }

    /// <summary>After a node stored one of this batch's idempotency keys between the check and
    /// the insert (PostgreSQL): those messages answer with the other node's original.</summary>
    private async Task<List<NewMessage>> ResolveRacesAsync(
        DbConnection connection, DbTransaction transaction, List<NewMessage> fresh, EnqueueResult[] results, IReadOnlyList<NewMessage> messages)
    {
        var stored = (await connection.QueryAsync<string>(
            $"SELECT id FROM messages WHERE {database.IsAnyOf("id", "ids")}", new { ids = fresh.Select(m => m.Id).ToArray() }, transaction).ConfigureAwait(false))
            .ToHashSet(StringComparer.Ordinal);
        var originals = await StoredKeysAsync(connection, transaction, fresh.Where(m => !stored.Contains(m.Id)).ToArray()).ConfigureAwait(false);
        for (var i = 0; i < messages.Count; i++)
        {
            if (!results[i].Duplicate && !stored.Contains(results[i].Id))
            {
                var message = messages[i];
                results[i] = new EnqueueResult(
                    originals.GetValueOrDefault((message.Scope.Value, message.IdempotencyKey ?? ""))
                        ?? throw new InvalidOperationException($"Message {message.Id} was not stored and is no duplicate of another."),
                    Duplicate: true);
            }
        }

        return fresh.Where(m => stored.Contains(m.Id)).ToList();
    }

    public async Task<IReadOnlyList<ClaimedMessage>> ClaimAsync(
        string node, IReadOnlyCollection<string>? connections, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        var due = DueQuery(connections);
        // at-least-once: a lease that expires (its node died) makes the message claimable again.
        var sql = database.Engine == "postgres"
            ? $"""
               UPDATE messages AS m SET lease_owner = @node, lease_until = @until, updated_at = @now
               FROM ({due}) AS due WHERE m.id = due.id
               RETURNING m.id, m.scope_path, m.envelope_sender, m.connection_name, CASE WHEN m.size_bytes <= @inline THEN m.mime END AS mime, m.size_bytes, m.attempts, m.failures, m.created_at, m.expires_at, m.trace_parent
               """
            : $"""
               UPDATE messages SET lease_owner = @node, lease_until = @until, updated_at = @now
               WHERE id IN ({due})
               RETURNING id, scope_path, envelope_sender, connection_name, CASE WHEN size_bytes <= @inline THEN mime END AS mime, size_bytes, attempts, failures, created_at, expires_at, trace_parent
               """;
        var parameters = new DynamicParameters(new { node, until = (now + lease).ToUnixTimeMilliseconds(), now = nowMs, max, inline = ClaimedWithRow });
        foreach (var (name, i) in (connections ?? []).Select((name, i) => (name, i)))
        {
            parameters.Add(ConnectionParameter(i), name);
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var rows = (await connection.QueryAsync<ClaimRow>(
            sql, parameters, transaction).ConfigureAwait(false)).ToArray();
        if (rows.Length == 0)
        {
            return [];
        }

        // Every recipient of the claimed messages, the ones still to deliver picked here: with a
        // state condition in the query, SQLite (which keeps no statistics) reads recipients_state
        // for a claim of more than a few messages, i.e. every queued recipient of the backlog on
        // every claim; a million-message backlog drained at a tenth of the fresh rate.
        var recipients = (await connection.QueryAsync<(string MessageId, long Ordinal, string Address, long Attempts, string State)>(
                $"SELECT message_id, ordinal, address, attempts, state FROM recipients WHERE {database.IsAnyOf("message_id", "ids")} ORDER BY message_id, ordinal",
                new { ids = rows.Select(r => r.Id).ToArray() }, transaction).ConfigureAwait(false))
            .Where(r => r.State is "queued" or "deferred")
            .ToLookup(r => r.MessageId);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);

        return rows.Select(r => new ClaimedMessage(
                r.Id,
                ScopePath.Parse(r.ScopePath),
                r.EnvelopeSender,
                r.ConnectionName,
                r.Mime is { } bytes ? MimeData.FromBytes(bytes) : MimeData.InOutbox(r.SizeBytes, (destination, ct) => database.CopyBlobAsync("messages", "mime", r.Id, destination, ct), spool),
                (int)r.Attempts,
                DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt),
                DateTimeOffset.FromUnixTimeMilliseconds(r.ExpiresAt),
                recipients[r.Id].Select(p => new PendingRecipient((int)p.Ordinal, p.Address, (int)p.Attempts)).ToArray())
            {
                Failures = (int)r.Failures,
                TraceParent = r.TraceParent,
            })
            .ToArray();
    }

    /// <summary>
    /// The ids of up to @max due messages, oldest due first, that are not leased: of every
    /// connection when <paramref name="connections"/> is null, otherwise of those connections and
    /// of messages stored for none (the node-tag filter, and connections that are down, whose
    /// backlog is left alone). On PostgreSQL the rows are locked, skipping those another node holds.
    /// </summary>
    /// <remarks>
    /// Each form reads an index in the order it returns rows and stops after @max, however many
    /// messages are queued: without a filter the due index (<c>messages_due</c>); with one, a range
    /// of <c>messages_due_by_connection</c> per connection, merged. A filter over the due index
    /// instead would walk past every due message of the connections it leaves out — a whole
    /// backlog, on every claim, while its connection is down.
    /// </remarks>
    internal string DueQuery(IReadOnlyCollection<string>? connections)
    {
        var lockRows = database.Engine == "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
        const string Available = "state = 'pending' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until < @now)";
        if (connections is null)
        {
            return $"SELECT id FROM messages WHERE {Available} ORDER BY next_attempt_at LIMIT @max{lockRows}";
        }

        if (connections.Count > MaxConnectionsMerged)
        {
            // Correct, but sorts every due message of those connections: for farms with hundreds of them.
            return $"""
                SELECT id FROM messages WHERE {Available} AND (connection_name IS NULL OR connection_name IN ({string.Join(", ", connections.Select((_, i) => "@" + ConnectionParameter(i)))}))
                ORDER BY next_attempt_at LIMIT @max{lockRows}
                """;
        }

        var ranges = connections.Select((_, i) => $"connection_name = @{ConnectionParameter(i)}").Prepend("connection_name IS NULL")
            .Select((condition, i) => $"SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at FROM messages WHERE {Available} AND {condition} ORDER BY next_attempt_at LIMIT @max{lockRows}) AS r{i}");
        return $"SELECT id FROM ({string.Join(" UNION ALL ", ranges)}) AS merged ORDER BY next_attempt_at LIMIT @max";
    }

    // SQLite allows 500 terms in one compound SELECT; far fewer keeps each claim small.
    private const int MaxConnectionsMerged = 100;

    private static string ConnectionParameter(int index) => "c" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async Task<int> RecordAsync(IReadOnlyList<AttemptOutcome> outcomes, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;

        // WithNextCommit: an outcome lost with the machine means the message is sent again after
        // its lease, as after a crash mid-attempt (at-least-once).
        // Fencing: only the node that holds the lease may record; a node whose lease expired
        // while it worked leaves the message to the node that took it over. The rows stay locked
        // (PostgreSQL) until the outcomes are written. An outcome recorded releases the lease,
        // so a second outcome for the same message in one batch is stale too.
        var owners = (await connection.QueryAsync<(string Id, string? LeaseOwner, string ScopePath)>(
                $"SELECT id, lease_owner, scope_path FROM messages WHERE {database.IsAnyOf("id", "ids")}{database.LockRows}",
                new { ids = outcomes.Select(o => o.MessageId).Distinct(StringComparer.Ordinal).ToArray() }, transaction).ConfigureAwait(false))
            .ToDictionary(r => r.Id, StringComparer.Ordinal);
        var current = outcomes
            .Where(o => owners.TryGetValue(o.MessageId, out var owner) && owner.LeaseOwner == o.Node)
            .DistinctBy(o => o.MessageId, StringComparer.Ordinal)
            .ToArray();
        if (current.Length == 0)
        {
            return 0;
        }

        var attempted = current.Where(o => o.Recipients.Count > 0).ToArray();
        await RecordAttemptsAsync(connection, transaction, attempted).ConfigureAwait(false);
        await RecordFailuresAsync(connection, transaction, current.Where(o => o.Failure is not null).ToArray()).ConfigureAwait(false);
        // Webhooks hear of each recipient's new state in this same transaction.
        await WebhookJournal.AppendAsync(
            database, connection, transaction,
            () => RecipientChangesAsync(connection, transaction, attempted, current.Where(o => o.Failure is { Quarantined: true }).ToArray(), id => ScopePath.Parse(owners[id].ScopePath)))
            .ConfigureAwait(false);
        // Postponed (the attempt never began: the database or the disk failed): the lease goes,
        // nothing is counted.
        await database.ExecuteEachAsync(
            connection,
            transaction,
            "UPDATE messages SET next_attempt_at = @next, lease_owner = NULL, lease_until = NULL, updated_at = @at WHERE id = @id",
            current.Where(o => o.Recipients.Count == 0 && o.Failure is null)
                .Select(o => (object)new { id = o.MessageId, next = o.NextAttemptAt.ToUnixTimeMilliseconds(), at = o.At.ToUnixTimeMilliseconds() })).ConfigureAwait(false);

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return current.Length;
    }

    private async Task RecordAttemptsAsync(DbConnection connection, DbTransaction transaction, AttemptOutcome[] attempted)
    {
        if (attempted.Length == 0)
        {
            return;
        }

        // Each statement prepared once for the batch (Dapper runs a list through one command).
        await database.ExecuteEachAsync(
            connection,
            transaction,
            """
            UPDATE messages SET attempts = attempts + 1, next_attempt_at = @next, lease_owner = NULL, lease_until = NULL, updated_at = @at
            WHERE id = @id
            """,
            attempted.Select(o => (object)new { id = o.MessageId, next = o.NextAttemptAt.ToUnixTimeMilliseconds(), at = o.At.ToUnixTimeMilliseconds() })).ConfigureAwait(false);

        var rows = attempted.SelectMany(o => o.Recipients.Select(r => (object)new
        {
            id = o.MessageId,
            r.Ordinal,
            State = RecipientStateNames.Values.NameOf(r.State),
            r.Code,
            r.Reply,
            at = o.At.ToUnixTimeMilliseconds(),
            o.Node,
        })).ToArray();
        // An administrator's cancel made while the attempt was under way stands: the attempt's
        // outcome goes into the history, but a cancelled recipient only changes state when the
        // upstream accepted the message, since then it was sent whatever the cancel said.
        await database.ExecuteEachAsync(
            connection,
            transaction,
            """
            UPDATE recipients SET state = CASE WHEN state = 'cancelled' AND @State <> 'sent' THEN state ELSE @State END,
                attempts = attempts + 1, last_code = @Code, last_reply = @Reply, updated_at = @at
            WHERE message_id = @id AND ordinal = @Ordinal
            """,
            rows).ConfigureAwait(false);
        await database.ExecuteEachAsync(
            connection,
            transaction,
            """
            INSERT INTO delivery_attempts (message_id, ordinal, attempt, at, node, outcome, code, reply)
            SELECT @id, @Ordinal, attempts, @at, @Node, @State, @Code, @Reply FROM recipients WHERE message_id = @id AND ordinal = @Ordinal
            """,
            rows).ConfigureAwait(false);
        // Pending while any recipient is still to be delivered, from this attempt or retried by
        // an administrator meanwhile; read back from the rows, not from the outcome, so that a
        // cancelled recipient never makes the message claimable again.
        await connection.ExecuteAsync(
            $"""
            UPDATE messages SET state = CASE WHEN EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = messages.id AND r.state IN ('queued', 'deferred'))
                THEN @pending ELSE @done END
            WHERE {database.IsAnyOf("id", "ids")}
            """,
            new { ids = attempted.Select(o => o.MessageId).ToArray(), pending = Pending, done = Done },
            transaction).ConfigureAwait(false);
    }

    /// <summary>The recipient states these outcomes set, read back from the rows: an attempt's
    /// state that an administrator's cancel overrode is no change; a quarantined message's
    /// recipients are those it just made <c>failed</c>.</summary>
    private async Task<IReadOnlyCollection<WebhookEvent>> RecipientChangesAsync(
        DbConnection connection, DbTransaction transaction, AttemptOutcome[] attempted, AttemptOutcome[] quarantined, Func<string, ScopePath> scopeOf)
    {
        var ids = attempted.Concat(quarantined).Select(o => o.MessageId).Distinct(StringComparer.Ordinal).ToArray();
        if (ids.Length == 0)
        {
            return [];
        }

        var rows = (await connection.QueryAsync<(string MessageId, long Ordinal, string Address, string State, long Attempts, long UpdatedAt)>(
                $"SELECT message_id, ordinal, address, state, attempts, updated_at FROM recipients WHERE {database.IsAnyOf("message_id", "ids")}",
                new { ids }, transaction).ConfigureAwait(false))
            .ToArray();
        var byKey = rows.ToDictionary(r => (r.MessageId, (int)r.Ordinal));
        var changed = attempted.SelectMany(o => o.Recipients
            .Where(r => byKey.TryGetValue((o.MessageId, r.Ordinal), out var row) && row.State == RecipientStateNames.Values.NameOf(r.State))
            .Select(r => (o.MessageId, Row: byKey[(o.MessageId, r.Ordinal)], r.Code, r.Reply, o.At)));
        var failed = quarantined.SelectMany(o => rows
            .Where(r => r.MessageId == o.MessageId && r.State == "failed" && r.UpdatedAt == o.At.ToUnixTimeMilliseconds())
            .Select(r => (o.MessageId, Row: r, Code: (int?)null, Reply: (string?)o.Failure!.Reason, o.At)));
        return changed.Concat(failed)
            .Select(c => WebhookPayloads.RecipientChanged(c.MessageId, scopeOf(c.MessageId), c.Row.Address, c.Row.State, (int)c.Row.Attempts, c.Code, c.Reply, c.At))
            .OfType<WebhookEvent>()
            .ToArray();
    }

    /// <summary>Attempts that failed for the message's own reason: counted with the reason; a
    /// message that has failed as often as allowed is quarantined, its pending recipients with it.</summary>
    private async Task RecordFailuresAsync(DbConnection connection, DbTransaction transaction, AttemptOutcome[] failed)
    {
        if (failed.Length == 0)
        {
            return;
        }

        await database.ExecuteEachAsync(
            connection,
            transaction,
            """
            UPDATE messages SET failures = @failures, last_error = @error, next_attempt_at = @next, lease_owner = NULL, lease_until = NULL, updated_at = @at,
                state = CASE WHEN @quarantined = 1 THEN 'failed' ELSE state END
            WHERE id = @id
            """,
            failed.Select(o => (object)new
            {
                id = o.MessageId,
                failures = o.Failure!.Failures,
                error = o.Failure.Reason,
                next = o.NextAttemptAt.ToUnixTimeMilliseconds(),
                at = o.At.ToUnixTimeMilliseconds(),
                quarantined = o.Failure.Quarantined ? 1 : 0,
            })).ConfigureAwait(false);
        await database.ExecuteEachAsync(
            connection,
            transaction,
            "UPDATE recipients SET state = 'failed', last_reply = @error, updated_at = @at WHERE message_id = @id AND state IN ('queued', 'deferred')",
            failed.Where(o => o.Failure!.Quarantined).Select(o => (object)new { id = o.MessageId, error = o.Failure!.Reason, at = o.At.ToUnixTimeMilliseconds() })).ConfigureAwait(false);
    }

    public async Task<MessageDetails?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // The history first: an outcome recorded between the reads then shows in the states read
        // after it, never as an attempt whose recipient still looks untried.
        var attempts = await connection.QueryAsync<(long Ordinal, long Attempt, long At, string Node, string Outcome, long? Code, string? Reply)>(
            "SELECT ordinal, attempt, at, node, outcome, code, reply FROM delivery_attempts WHERE message_id = @id ORDER BY at, ordinal", new { id }).ConfigureAwait(false);
        var summaries = await SummariesAsync(connection, "WHERE m.id = @id", new { id }, 1).ConfigureAwait(false);
        if (summaries is not [var summary])
        {
            return null;
        }

        var extra = await connection.QuerySingleAsync<(string MessageIdHeader, string? ConnectionName, long SizeBytes)>(
            "SELECT message_id_header, connection_name, size_bytes FROM messages WHERE id = @id", new { id }).ConfigureAwait(false);
        return new MessageDetails(
            summary,
            extra.MessageIdHeader,
            extra.ConnectionName,
            (int)extra.SizeBytes,
            attempts.Select(a => new AttemptRecord((int)a.Ordinal, (int)a.Attempt, DateTimeOffset.FromUnixTimeMilliseconds(a.At), a.Node,
                RecipientStateNames.Values.Parse(a.Outcome), (int?)a.Code, a.Reply)).ToArray());
    }

    public async Task<IReadOnlyList<MessageSummary>> ListAsync(MessageFilter filter, CancellationToken cancellationToken)
    {
        var conditions = new List<string> { "(m.scope_path = @scope OR substr(m.scope_path, 1, @prefixLength) = @prefix)" };
        if (filter.State is not null)
        {
            conditions.Add("EXISTS (SELECT 1 FROM recipients s WHERE s.message_id = m.id AND s.state = @state)");
        }

        if (filter.Recipient is not null)
        {
            conditions.Add("EXISTS (SELECT 1 FROM recipients a WHERE a.message_id = m.id AND a.address = @recipient)");
        }

        if (filter.Since is not null)
        {
            conditions.Add("m.created_at >= @since");
        }

        if (filter.Until is not null)
        {
            conditions.Add("m.created_at < @until");
        }

        var prefix = filter.Scope.IsRoot ? "/" : filter.Scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await SummariesAsync(connection, "WHERE " + string.Join(" AND ", conditions), new
        {
            scope = filter.Scope.Value,
            prefix,
            prefixLength = prefix.Length,
            state = filter.State is { } state ? RecipientStateNames.Values.NameOf(state) : null,
            recipient = filter.Recipient,
            since = filter.Since?.ToUnixTimeMilliseconds(),
            until = filter.Until?.ToUnixTimeMilliseconds(),
        }, Math.Clamp(filter.Limit, 1, 1000)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> RenewAsync(string node, IReadOnlyList<string> ids, DateTimeOffset until, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        // Only while this node still owns the lease: once another node has claimed the message,
        // the row names that node and nothing is extended.
        var renewed = (await connection.QueryAsync<string>(
            $"UPDATE messages SET lease_until = @until WHERE lease_owner = @node AND state = 'pending' AND {database.IsAnyOf("id", "ids")} RETURNING id",
            new { node, until = until.ToUnixTimeMilliseconds(), ids = ids.ToArray() }, write.Transaction).ConfigureAwait(false)).ToArray();
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return renewed;
    }

    public async Task<int> ResumeAsync(string connection, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(db, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        // A range of messages_due_by_connection: the connection's messages not yet due, however
        // many of its messages are due already.
        var resumed = await db.ExecuteAsync(
            "UPDATE messages SET next_attempt_at = @now WHERE state = 'pending' AND connection_name = @connection AND next_attempt_at > @now",
            new { connection, now = now.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return resumed;
    }

    public async Task<int> ResumeScopeAsync(ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        await using var db = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(db, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
        // The scope and the scopes below it, by whole path segments (never LIKE on names).
        var resumed = await db.ExecuteAsync(
            "UPDATE messages SET next_attempt_at = @now WHERE state = 'pending' AND next_attempt_at > @now AND (scope_path = @scope OR substr(scope_path, 1, @prefixLength) = @prefix)",
            new { scope = scope.Value, prefix, prefixLength = prefix.Length, now = now.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return resumed;
    }

    public async Task<IReadOnlyDictionary<string, long>> CountWaitingAsync(IReadOnlyCollection<string> connections, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connections);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        if (connections.Count == 0)
        {
            return counts;
        }

        await using var db = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        foreach (var connection in connections)
        {
            // Counted in messages_due_by_connection, not the table.
            counts[connection] = await db.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM messages WHERE state = 'pending' AND connection_name = @connection", new { connection }).ConfigureAwait(false);
        }

        return counts;
    }

    public async Task<int> RetryAsync(string id, DateTimeOffset now, DateTimeOffset newExpiry, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var nowMs = now.ToUnixTimeMilliseconds();
        var changed = await connection.ExecuteAsync(
            "UPDATE recipients SET state = 'queued', updated_at = @now WHERE message_id = @id AND state IN ('deferred', 'expired', 'queued', 'failed')",
            new { id, now = nowMs }, transaction).ConfigureAwait(false);
        if (changed > 0)
        {
            await connection.ExecuteAsync(
                """
                UPDATE messages SET state = 'pending', next_attempt_at = @now, expires_at = CASE WHEN expires_at < @expiry THEN @expiry ELSE expires_at END,
                    failures = 0, last_error = NULL, updated_at = @now
                WHERE id = @id
                """,
                new { id, now = nowMs, expiry = newExpiry.ToUnixTimeMilliseconds() }, transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    public async Task<int> CancelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var nowMs = now.ToUnixTimeMilliseconds();
        var changed = await connection.ExecuteAsync(
            "UPDATE recipients SET state = 'cancelled', updated_at = @now WHERE message_id = @id AND state IN ('queued', 'deferred', 'failed')",
            new { id, now = nowMs }, transaction).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE messages SET state = 'done', updated_at = @now WHERE id = @id AND NOT EXISTS (SELECT 1 FROM recipients WHERE message_id = @id AND state IN ('queued', 'deferred'))",
            new { id, now = nowMs }, transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    public async Task<long> CountFailedAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM messages WHERE state = 'failed' AND (scope_path = @scope OR substr(scope_path, 1, @prefixLength) = @prefix)",
            new { scope = scope.Value, prefix, prefixLength = prefix.Length }).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<RecipientState, long>> CountByStateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string State, long Count)>("SELECT state, COUNT(*) FROM recipients GROUP BY state").ConfigureAwait(false);
        return rows.ToDictionary(r => RecipientStateNames.Values.Parse(r.State), r => r.Count);
    }

    public async Task<IReadOnlyList<HourlyOutcomeCount>> CountAttemptsByHourAsync(ScopePath scope, DateTimeOffset since, CancellationToken cancellationToken)
    {
        const long HourMs = 3_600_000;
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Integer division on both engines (BIGINT / BIGINT truncates in PostgreSQL too).
        var rows = await connection.QueryAsync<(long Hour, string Outcome, long Count)>(
            """
            SELECT a.at / 3600000 AS hour, a.outcome, COUNT(*) FROM delivery_attempts a JOIN messages m ON m.id = a.message_id
            WHERE a.at >= @since AND (m.scope_path = @scope OR substr(m.scope_path, 1, @prefixLength) = @prefix)
            GROUP BY a.at / 3600000, a.outcome
            """,
            new { since = since.ToUnixTimeMilliseconds(), scope = scope.Value, prefix, prefixLength = prefix.Length }).ConfigureAwait(false);
        return rows.Select(r => new HourlyOutcomeCount(DateTimeOffset.FromUnixTimeMilliseconds(r.Hour * HourMs), RecipientStateNames.Values.Parse(r.Outcome), r.Count)).ToArray();
    }

    public async Task<IReadOnlyDictionary<RecipientState, long>> CountByStateAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string State, long Count)>(
            """
            SELECT r.state, COUNT(*) FROM recipients r JOIN messages m ON m.id = r.message_id
            WHERE m.scope_path = @scope OR substr(m.scope_path, 1, @prefixLength) = @prefix
            GROUP BY r.state
            """,
            new { scope = scope.Value, prefix, prefixLength = prefix.Length }).ConfigureAwait(false);
        return rows.ToDictionary(r => RecipientStateNames.Values.Parse(r.State), r => r.Count);
    }

    private async Task<IReadOnlyList<MessageSummary>> SummariesAsync(DbConnection connection, string where, object parameters, int limit)
    {
        // Never the mime column: a list of 1,000 messages must not read 1,000 bodies of up to 25 MiB.
        var messages = (await connection.QueryAsync<SummaryRow>(
            $"SELECT m.id, m.scope_path, m.source, m.envelope_sender, m.subject, m.created_at, m.expires_at, m.failures, m.last_error FROM messages m {where} ORDER BY m.created_at DESC LIMIT {limit}",
            parameters).ConfigureAwait(false)).ToArray();
        if (messages.Length == 0)
        {
            return [];
        }

        var recipients = (await connection.QueryAsync<(string MessageId, long Ordinal, string Address, string State, long Attempts, long? LastCode, string? LastReply, long UpdatedAt)>(
                $"SELECT message_id, ordinal, address, state, attempts, last_code, last_reply, updated_at FROM recipients WHERE {database.IsAnyOf("message_id", "ids")} ORDER BY ordinal",
                new { ids = messages.Select(m => m.Id).ToArray() }).ConfigureAwait(false))
            .ToLookup(r => r.MessageId);
        return messages.Select(m => new MessageSummary(
                m.Id,
                ScopePath.Parse(m.ScopePath),
                MessageSourceNames.Values.Parse(m.Source),
                m.EnvelopeSender,
                m.Subject,
                DateTimeOffset.FromUnixTimeMilliseconds(m.CreatedAt),
                DateTimeOffset.FromUnixTimeMilliseconds(m.ExpiresAt),
                recipients[m.Id].Select(r => new RecipientStatus((int)r.Ordinal, r.Address, RecipientStateNames.Values.Parse(r.State), (int)r.Attempts,
                    (int?)r.LastCode, r.LastReply, DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedAt))).ToArray())
            {
                Failures = (int)m.Failures,
                LastError = m.LastError,
            })
            .ToArray();
    }

    private sealed class ClaimRow
    {
        public string Id { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string EnvelopeSender { get; set; } = "";
        public string? ConnectionName { get; set; }
        public byte[]? Mime { get; set; }
        public long SizeBytes { get; set; }
        public long Attempts { get; set; }
        public long Failures { get; set; }
        public long CreatedAt { get; set; }
        public long ExpiresAt { get; set; }
        public string? TraceParent { get; set; }
    }

    private sealed class SummaryRow
    {
        public string Id { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string Source { get; set; } = "";
        public string EnvelopeSender { get; set; } = "";
        public string? Subject { get; set; }
        public long CreatedAt { get; set; }
        public long ExpiresAt { get; set; }
        public long Failures { get; set; }
        public string? LastError { get; set; }
    }
}
