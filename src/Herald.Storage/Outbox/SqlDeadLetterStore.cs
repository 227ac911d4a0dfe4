using Dapper;
using Herald.Outbox;
using Herald.Outbox.DeadLetters;
using Herald.Scopes;
using Herald.Storage.Database;

namespace Herald.Storage.Outbox;

/// <summary>Dead letters on SQLite or PostgreSQL: recipients in a dead-letter state, read through
/// <c>recipients_state_updated</c> (state, then time) joined to their messages for the scope and
/// subject, and the outbox's per-recipient retry.</summary>
public sealed class SqlDeadLetterStore(HeraldDatabase database) : IDeadLetterStore
{
    private const string Columns = "r.message_id, r.ordinal, r.address, r.state, r.last_code, r.last_reply, r.updated_at, m.scope_path, m.subject";

    public async Task<DeadLetterPage> ListAsync(DeadLetterFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        // The scope and the scopes below it, by whole path segments (never LIKE on names).
        var conditions = new List<string>
        {
            database.IsAnyOf("r.state", "states"),
            "(m.scope_path = @scope OR substr(m.scope_path, 1, @prefixLength) = @prefix)",
        };
        if (filter.Since is not null)
        {
            conditions.Add("r.updated_at >= @since");
        }

        if (filter.Until is not null)
        {
            conditions.Add("r.updated_at < @until");
        }

        if (filter.Domain is not null)
        {
            // Exactly the domain, not a subdomain: the address ends with '@' and the domain; lower()
            // folds ASCII alike on both engines, and the domain is lower-case ASCII.
            conditions.Add("length(r.address) > @suffixLength AND lower(substr(r.address, length(r.address) - @suffixLength + 1)) = @suffix");
        }

        if (filter.After is not null)
        {
            conditions.Add("(r.updated_at < @afterAt OR (r.updated_at = @afterAt AND (r.message_id < @afterId OR (r.message_id = @afterId AND r.ordinal < @afterOrdinal))))");
        }

        var prefix = filter.Scope.IsRoot ? "/" : filter.Scope.Value + "/";
        var suffix = "@" + filter.Domain;
        var limit = Math.Clamp(filter.Limit, 1, DeadLetterService.MaxSelection);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await connection.QueryAsync<Row>(
            $"""
            SELECT {Columns} FROM recipients r JOIN messages m ON m.id = r.message_id
            WHERE {string.Join(" AND ", conditions)}
            ORDER BY r.updated_at DESC, r.message_id DESC, r.ordinal DESC LIMIT {limit + 1}
            """,
            new
            {
                states = DeadLetterStates.Names(filter.States),
                scope = filter.Scope.Value,
                prefix,
                prefixLength = prefix.Length,
                since = filter.Since?.ToUnixTimeMilliseconds(),
                until = filter.Until?.ToUnixTimeMilliseconds(),
                suffix,
                suffixLength = suffix.Length,
                afterAt = filter.After?.AtMilliseconds,
                afterId = filter.After?.MessageId,
                afterOrdinal = filter.After?.Ordinal,
            }).ConfigureAwait(false)).Select(ToDeadLetter).ToArray();
        return rows.Length > limit
            ? new DeadLetterPage(rows[..limit], rows[limit - 1].Cursor.ToString())
            : new DeadLetterPage(rows, null);
    }

    public async Task<IReadOnlyList<DeadLetter>> RecipientsOfAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        if (messageIds.Count == 0)
        {
            return [];
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var found = new List<DeadLetter>();
        // In chunks: SQLite binds each id of an IN list as its own parameter.
        foreach (var chunk in messageIds.Chunk(500))
        {
            found.AddRange((await connection.QueryAsync<Row>(
                $"SELECT {Columns} FROM recipients r JOIN messages m ON m.id = r.message_id WHERE {database.IsAnyOf("r.message_id", "ids")}",
                new { ids = chunk }).ConfigureAwait(false)).Select(ToDeadLetter));
        }

        return found;
    }

    public async Task<IReadOnlyList<DeadLetterKey>> RetryAsync(
        IReadOnlyList<DeadLetterKey> recipients, IReadOnlyList<RecipientState> states, DateTimeOffset now, DateTimeOffset newExpiry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipients);
        var nowMs = now.ToUnixTimeMilliseconds();
        var stateNames = DeadLetterStates.Names(states);
        var retried = new List<DeadLetterKey>();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        foreach (var message in recipients.GroupBy(r => r.MessageId, StringComparer.Ordinal))
        {
            // Exactly-once per retry: the state is checked by the statement that changes it (on
            // PostgreSQL a second retry at the same time waits for the row and then finds it queued).
            var ordinals = await connection.QueryAsync<int>(
                $"""
                UPDATE recipients SET state = 'queued', updated_at = @now
                WHERE message_id = @id AND {database.IsAnyOf("ordinal", "ordinals")} AND {database.IsAnyOf("state", "states")}
                RETURNING ordinal
                """,
                new { id = message.Key, ordinals = message.Select(r => r.Ordinal).Distinct().ToArray(), states = stateNames, now = nowMs }, transaction).ConfigureAwait(false);
            retried.AddRange(ordinals.Select(ordinal => new DeadLetterKey(message.Key, ordinal)));
        }

        // The messages are pending again (a quarantined one with its failures forgotten, so it gets
        // every try again); their other recipients keep their states, and a claim takes only the
        // queued and deferred ones.
        await database.ExecuteEachAsync(
            connection,
            transaction,
            """
            UPDATE messages SET state = 'pending', next_attempt_at = @now, expires_at = CASE WHEN expires_at < @expiry THEN @expiry ELSE expires_at END,
                failures = 0, last_error = NULL, updated_at = @now
            WHERE id = @id
            """,
            retried.Select(r => r.MessageId).Distinct(StringComparer.Ordinal)
                .Select(id => (object)new { id, now = nowMs, expiry = newExpiry.ToUnixTimeMilliseconds() })).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return retried;
    }

    private static DeadLetter ToDeadLetter(Row r) => new(
        r.MessageId,
        (int)r.Ordinal,
        r.Address,
        RecipientStateNames.Values.Parse(r.State),
        (int?)r.LastCode,
        r.LastReply,
        DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedAt),
        ScopePath.Parse(r.ScopePath),
        r.Subject);

    private sealed class Row
    {
        public string MessageId { get; set; } = "";
        public long Ordinal { get; set; }
        public string Address { get; set; } = "";
        public string State { get; set; } = "";
        public long? LastCode { get; set; }
        public string? LastReply { get; set; }
        public long UpdatedAt { get; set; }
        public string ScopePath { get; set; } = "";
        public string? Subject { get; set; }
    }
}
