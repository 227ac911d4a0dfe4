using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Notifications;
using Herald.Notifications.Explain;
using Herald.Outbox;
using Herald.Storage.Database;
using Npgsql;
using NpgsqlTypes;

namespace Herald.Storage.Notifications;

/// <summary>Events' explanations: one row per event, one compact row per candidate, written in
/// bulk (PostgreSQL's binary COPY; one prepared statement in SQLite) so that a 100,000-member
/// fan-out stays fast.</summary>
public sealed class SqlExplainStore(HeraldDatabase database) : IExplainStore
{
    /// <summary>Candidates written per transaction: a huge fan-out does not hold SQLite's single
    /// writer (the outbox's too) for all of its rows at once.</summary>
    private const int RowsPerTransaction = 10_000;

    private static readonly string[] SqliteParameters = ["$e", "$o", "$a", "$u", "$k", "$s", "$x", "$d", "$m"];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task RecordAsync(ExplanationRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        long id;
        // A diagnostic record: it may be lost with the last moment before a crash (then the event's
        // next fan-out, if any, writes it again), so it does not wait for its own flush.
        await using (var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false))
        {
            // Fanned out again (a retry after a crash or a quarantine): the newest run is what happened.
            await connection.ExecuteAsync(
                """
                DELETE FROM event_candidates WHERE explanation_id IN (SELECT id FROM event_explanations WHERE event_scope = @scope AND event_id = @id);
                DELETE FROM event_explanations WHERE event_scope = @scope AND event_id = @id;
                """,
                new { scope = record.Event.Scope.Value, id = record.Event.Id },
                write.Transaction).ConfigureAwait(false);
            id = await connection.ExecuteScalarAsync<long>(
                """
                INSERT INTO event_explanations (event_scope, event_id, recorded_at, sources, disabled)
                VALUES (@scope, @id, @at, @sources, @disabled) RETURNING id
                """,
                new
                {
                    scope = record.Event.Scope.Value,
                    id = record.Event.Id,
                    at = record.RecordedAt.ToUnixTimeMilliseconds(),
                    sources = JsonSerializer.Serialize(record.Sources.Select(SourceRow.From), Json),
                    disabled = record.Disabled,
                },
                write.Transaction).ConfigureAwait(false);
            await InsertAsync(connection, write.Transaction, id, record.Candidates, 0, cancellationToken).ConfigureAwait(false);
            await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        for (var offset = RowsPerTransaction; offset < record.Candidates.Count; offset += RowsPerTransaction)
        {
            await using var write = await database.BeginWriteAsync(connection, Durability.WithNextCommit, cancellationToken).ConfigureAwait(false);
            await InsertAsync(connection, write.Transaction, id, record.Candidates, offset, cancellationToken).ConfigureAwait(false);
            await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<StoredExplanation?> FindAsync(EventKey key, string? recipient, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var header = await connection.QuerySingleOrDefaultAsync<(long Id, long RecordedAt, string Sources, string? Disabled)>(
            new CommandDefinition(
                "SELECT id, recorded_at, sources, disabled FROM event_explanations WHERE event_scope = @scope AND event_id = @id",
                new { scope = key.Scope.Value, id = key.Id },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (header.Id == 0)
        {
            return null;
        }

        var counts = await connection.QueryAsync<(long Outcome, long Count)>(
            new CommandDefinition(
                "SELECT CAST(outcome AS BIGINT), COUNT(*) FROM event_candidates WHERE explanation_id = @id GROUP BY outcome",
                new { id = header.Id },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        // A user id is compared exactly; an address as the fan-out compared them (case aside).
        var rows = await connection.QueryAsync<CandidateRow>(
            new CommandDefinition(
                $"""
                SELECT c.address AS Address, c.user_id AS UserId, CAST(c.outcome AS BIGINT) AS Outcome, CAST(c.source AS BIGINT) AS Source,
                       CAST(c.other AS BIGINT) AS Other, c.detail AS Detail, c.message_id AS MessageId,
                       r.state AS State, CAST(r.attempts AS BIGINT) AS Attempts, r.last_reply AS LastReply, r.updated_at AS UpdatedAt
                FROM event_candidates c LEFT JOIN recipients r ON r.message_id = c.message_id AND r.ordinal = 0
                WHERE c.explanation_id = @id {(recipient is null ? "" : "AND (c.user_id = @recipient OR LOWER(c.address) = LOWER(@recipient))")}
                ORDER BY c.ordinal
                LIMIT @limit
                """,
                new { id = header.Id, recipient, limit },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        var sources = JsonSerializer.Deserialize<SourceRow[]>(header.Sources, Json) ?? [];
        return new StoredExplanation(
            DateTimeOffset.FromUnixTimeMilliseconds(header.RecordedAt),
            [.. sources.Select(s => s.ToSource())],
            counts.ToDictionary(c => (CandidateOutcome)c.Outcome, c => (int)c.Count),
            header.Disabled,
            [.. rows.Select(r => r.ToCandidate())]);
    }

    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var at = new { before = before.ToUnixTimeMilliseconds() };
        await connection.ExecuteAsync(
            "DELETE FROM event_candidates WHERE explanation_id IN (SELECT id FROM event_explanations WHERE recorded_at < @before)", at, write.Transaction).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync("DELETE FROM event_explanations WHERE recorded_at < @before", at, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }

    private static async Task InsertAsync(
        DbConnection connection, DbTransaction transaction, long id, IReadOnlyList<CandidateRecord> candidates, int offset, CancellationToken cancellationToken)
    {
        var end = Math.Min(candidates.Count, offset + RowsPerTransaction);
        if (connection is NpgsqlConnection postgres)
        {
            await using var import = await postgres.BeginBinaryImportAsync(
                "COPY event_candidates (explanation_id, ordinal, address, user_id, outcome, source, other, detail, message_id) FROM STDIN (FORMAT BINARY)",
                cancellationToken).ConfigureAwait(false);
            for (var i = offset; i < end; i++)
            {
                var c = candidates[i];
                await import.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await import.WriteAsync(id, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await import.WriteAsync(i, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await import.WriteAsync(c.Address, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await WriteNullableAsync(import, c.UserId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await import.WriteAsync((short)c.Outcome, NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
                await import.WriteAsync(c.Source, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await WriteNullableAsync(import, c.Other, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await WriteNullableAsync(import, c.Detail, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await WriteNullableAsync(import, c.MessageId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            }

            await import.CompleteAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        // SQLite: one prepared statement run per row, in process, is its fastest bulk insert.
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText =
            "INSERT INTO event_candidates (explanation_id, ordinal, address, user_id, outcome, source, other, detail, message_id) VALUES ($e, $o, $a, $u, $k, $s, $x, $d, $m)";
        var parameters = SqliteParameters.Select(name =>
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            command.Parameters.Add(parameter);
            return parameter;
        }).ToArray();
        parameters[0].Value = id;
        await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
        for (var i = offset; i < end; i++)
        {
            var c = candidates[i];
            parameters[1].Value = i;
            parameters[2].Value = c.Address;
            parameters[3].Value = (object?)c.UserId ?? DBNull.Value;
            parameters[4].Value = (int)c.Outcome;
            parameters[5].Value = c.Source;
            parameters[6].Value = (object?)c.Other ?? DBNull.Value;
            parameters[7].Value = (object?)c.Detail ?? DBNull.Value;
            parameters[8].Value = (object?)c.MessageId ?? DBNull.Value;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task WriteNullableAsync<T>(NpgsqlBinaryImporter import, T? value, NpgsqlDbType type, CancellationToken cancellationToken)
    {
        if (value is null)
        {
            await import.WriteNullAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await import.WriteAsync(value, type, cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed record SourceRow(int Number, string Kind, string Id, string Name, string Frequency)
    {
        public static SourceRow From(MatchedSource s) => new(s.Number, s.Kind.ToString(), s.Id, s.Name, s.Frequency);

        public MatchedSource ToSource() =>
            new(Number, Enum.TryParse<NotificationSourceKind>(Kind, out var kind) ? kind : NotificationSourceKind.Subscription, Id, Name, Frequency);
    }

    /// <summary>A candidate's row as read: a class with setters, because a column that is NULL in
    /// every row has no type SQLite can name (a record's constructor would not match).</summary>
    private sealed class CandidateRow
    {
        public string Address { get; set; } = "";

        public string? UserId { get; set; }

        public long Outcome { get; set; }

        public long Source { get; set; }

        public long? Other { get; set; }

        public string? Detail { get; set; }

        public string? MessageId { get; set; }

        public string? State { get; set; }

        public long? Attempts { get; set; }

        public string? LastReply { get; set; }

        public long? UpdatedAt { get; set; }

        public ExplainedCandidate ToCandidate() => new(
            new CandidateRecord(Address, UserId, (CandidateOutcome)Outcome, (int)Source, Other is { } o ? (int)o : null, Detail, MessageId),
            MessageId is { } message && State is { } state && RecipientStateNames.Values.TryParse(state, out var parsed)
                ? new CandidateDelivery(message, parsed, (int)(Attempts ?? 0), LastReply, DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt ?? 0))
                : null);
    }
}
