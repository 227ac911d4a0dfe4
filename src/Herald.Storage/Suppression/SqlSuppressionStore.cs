using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Scopes;
using Herald.Storage.Database;
using Herald.Suppression;

namespace Herald.Storage.Suppression;

/// <summary>The suppression lists on SQLite or PostgreSQL.</summary>
public sealed class SqlSuppressionStore(HeraldDatabase database) : ISuppressionStore
{
    private const string Columns = "id, scope_path, address, reason, source, created_at, created_by, expires_at";

    public async Task<IReadOnlyList<(SuppressionEntry Entry, bool Added)>> AddAsync(IReadOnlyList<NewSuppression> suppressions, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(suppressions);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var results = new List<(SuppressionEntry, bool)>(suppressions.Count);
        foreach (var suppression in suppressions)
        {
            results.Add(await AddOneAsync(connection, write.Transaction, suppression, now).ConfigureAwait(false));
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return results;
    }

    /// <summary>One entry, in the caller's transaction (also the bounce store's).</summary>
    internal static async Task<(SuppressionEntry Entry, bool Added)> AddOneAsync(DbConnection connection, DbTransaction transaction, NewSuppression suppression, DateTimeOffset now)
    {
        var entry = suppression.Entry;
        var key = suppression.Address.Key;
        // An expired entry no longer applies: the new one takes its place.
        await connection.ExecuteAsync(
            "DELETE FROM suppressions WHERE address_key = @key AND scope_path = @scope AND expires_at IS NOT NULL AND expires_at <= @now",
            new { key, scope = entry.Scope.Value, now = now.ToUnixTimeMilliseconds() }, transaction).ConfigureAwait(false);
        // ON CONFLICT: the scope lists the address already (or another node added it just now).
        var added = await connection.ExecuteAsync(
            """
            INSERT INTO suppressions (id, scope_path, address, address_key, domain, reason, source, created_at, created_by, expires_at)
            VALUES (@Id, @Scope, @Address, @Key, @Domain, @Reason, @Source, @CreatedAt, @CreatedBy, @ExpiresAt)
            ON CONFLICT DO NOTHING
            """,
            new
            {
                entry.Id,
                Scope = entry.Scope.Value,
                entry.Address,
                Key = key,
                suppression.Address.Domain,
                Reason = SuppressionReasonNames.Values.NameOf(entry.Reason),
                entry.Source,
                CreatedAt = entry.CreatedAt.ToUnixTimeMilliseconds(),
                entry.CreatedBy,
                ExpiresAt = entry.ExpiresAt?.ToUnixTimeMilliseconds(),
            },
            transaction).ConfigureAwait(false);
        var standing = await connection.QuerySingleAsync<Row>(
            $"SELECT {Columns} FROM suppressions WHERE address_key = @key AND scope_path = @scope", new { key, scope = entry.Scope.Value }, transaction).ConfigureAwait(false);
        return (standing.ToEntry(), added > 0);
    }

    public async Task<SuppressionEntry?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<Row>($"SELECT {Columns} FROM suppressions WHERE id = @id", new { id }).ConfigureAwait(false);
        return row?.ToEntry();
    }

    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync("DELETE FROM suppressions WHERE id = @id", new { id }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task<SuppressionPage> ListAsync(SuppressionFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        // The scope and the scopes below it, by whole path segments (never LIKE on names).
        var conditions = new List<string> { "(scope_path = @scope OR substr(scope_path, 1, @prefixLength) = @prefix)" };
        if (filter.Address is not null)
        {
            conditions.Add("address_key = @address");
        }

        if (filter.Domain is not null)
        {
            conditions.Add("domain = @domain");
        }

        if (filter.Reason is not null)
        {
            conditions.Add("reason = @reason");
        }

        if (filter.Before is not null)
        {
            conditions.Add("id < @before");
        }

        var prefix = filter.Scope.IsRoot ? "/" : filter.Scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // One more than the page, to know whether another follows. Ids are time-ordered (UUIDv7).
        var rows = (await connection.QueryAsync<Row>(
            $"SELECT {Columns} FROM suppressions WHERE {string.Join(" AND ", conditions)} ORDER BY id DESC LIMIT @limit",
            new
            {
                scope = filter.Scope.Value,
                prefix,
                prefixLength = prefix.Length,
                address = filter.Address,
                domain = filter.Domain,
                reason = filter.Reason is { } reason ? SuppressionReasonNames.Values.NameOf(reason) : null,
                before = filter.Before,
                limit = filter.Limit + 1,
            }).ConfigureAwait(false)).ToArray();
        var page = rows.Take(filter.Limit).Select(r => r.ToEntry()).ToArray();
        return new SuppressionPage(page, rows.Length > filter.Limit ? page[^1].Id : null);
    }

    public async Task<IReadOnlyList<(string Key, SuppressionEntry Entry)>> MatchAsync(
        IReadOnlyCollection<string> keys, IReadOnlyCollection<ScopePath> scopes, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(scopes);
        if (keys.Count == 0 || scopes.Count == 0)
        {
            return [];
        }

        // One statement for the batch, through the (address_key, scope_path) index. SQLite takes
        // the keys as one JSON parameter: a batch may hold more recipients than it has variables.
        var postgres = database.Engine == "postgres";
        var sql = postgres
            ? $"SELECT address_key, {Columns} FROM suppressions WHERE address_key = ANY(@keys) AND scope_path = ANY(@scopes) AND (expires_at IS NULL OR expires_at > @now)"
            : $"SELECT address_key, {Columns} FROM suppressions WHERE address_key IN (SELECT value FROM json_each(@keys)) AND scope_path IN (SELECT value FROM json_each(@scopes)) AND (expires_at IS NULL OR expires_at > @now)";
        var keyList = keys.ToArray();
        var scopeList = scopes.Select(s => s.Value).ToArray();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>(
            sql,
            postgres
                ? new { keys = keyList, scopes = scopeList, now = now.ToUnixTimeMilliseconds() }
                : new { keys = JsonSerializer.Serialize(keyList), scopes = JsonSerializer.Serialize(scopeList), now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        return rows.Select(r => (r.AddressKey, r.ToEntry())).ToArray();
    }

    private sealed class Row
    {
        public string AddressKey { get; set; } = "";
        public string Id { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string Address { get; set; } = "";
        public string Reason { get; set; } = "";
        public string Source { get; set; } = "";
        public long CreatedAt { get; set; }
        public string CreatedBy { get; set; } = "";
        public long? ExpiresAt { get; set; }

        public SuppressionEntry ToEntry() => new(
            Id,
            global::Herald.Scopes.ScopePath.Parse(ScopePath),
            Address,
            SuppressionReasonNames.Values.Parse(Reason),
            Source,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            CreatedBy,
            ExpiresAt is { } expires ? DateTimeOffset.FromUnixTimeMilliseconds(expires) : null);
    }
}
