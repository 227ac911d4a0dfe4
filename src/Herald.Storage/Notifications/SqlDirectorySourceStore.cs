using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Herald.Credentials;
using Herald.Notifications.Sync;
using Herald.Settings;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

/// <summary>Directory sources on either engine: a row of <c>directory_sources</c> each (settings as
/// JSON), the bind password a sealed row of <c>secrets</c> named for the source (so that a key
/// rotation re-seals it with every other secret).</summary>
public sealed class SqlDirectorySourceStore(HeraldDatabase database) : IDirectorySourceStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) } };

    public async Task<IReadOnlyList<DirectorySource>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<SourceRow>("SELECT * FROM directory_sources ORDER BY name").ConfigureAwait(false);
        var result = new List<DirectorySource>();
        foreach (var row in rows)
        {
            result.Add(await WithPasswordAsync(connection, row).ConfigureAwait(false));
        }

        return result;
    }

    public async Task<DirectorySource?> FindAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<SourceRow>("SELECT * FROM directory_sources WHERE name = @name", new { name }).ConfigureAwait(false);
        return row is null ? null : await WithPasswordAsync(connection, row).ConfigureAwait(false);
    }

    public async Task<bool> SaveAsync(DirectorySource source, bool keepPassword, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var at = now.ToUnixTimeMilliseconds();
        var created = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM directory_sources WHERE name = @Name", new { source.Name }, write.Transaction).ConfigureAwait(false) == 0;
        await connection.ExecuteAsync(
            """
            INSERT INTO directory_sources (name, settings, updated_at) VALUES (@name, @settings, @at)
            ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
            """,
            new { name = source.Name, settings = JsonSerializer.Serialize(source.Settings, Json), at }, write.Transaction).ConfigureAwait(false);
        if (!keepPassword)
        {
            var secret = SecretNames.DirectorySourceBindPassword(source.Name);
            await connection.ExecuteAsync("DELETE FROM secrets WHERE name = @secret", new { secret }, write.Transaction).ConfigureAwait(false);
            if (source.BindPassword is { } password)
            {
                await connection.ExecuteAsync(
                    "INSERT INTO secrets (name, ciphertext, updated_at) VALUES (@secret, @ciphertext, @at)",
                    new { secret, ciphertext = password.Ciphertext, at }, write.Transaction).ConfigureAwait(false);
            }
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return created;
    }

    public async Task<bool> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Serialized with the directory's writes: its users and groups become local in one step.
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync("DELETE FROM directory_sources WHERE name = @name", new { name }, write.Transaction).ConfigureAwait(false);
        if (removed > 0)
        {
            await connection.ExecuteAsync("DELETE FROM secrets WHERE name = @secret", new { secret = SecretNames.DirectorySourceBindPassword(name) }, write.Transaction).ConfigureAwait(false);
            await connection.ExecuteAsync(
                """
                UPDATE directory_users SET source = NULL, source_dn = NULL WHERE source = @name;
                UPDATE directory_groups SET source = NULL, source_dn = NULL WHERE source = @name;
                UPDATE directory_revision SET revision = revision + 1 WHERE id = 1;
                """,
                new { name }, write.Transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task RecordAsync(string name, string outcome, string? mark, bool full, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            """
            UPDATE directory_sources SET last_outcome = @outcome, last_sync_at = @at,
                delta_mark = COALESCE(@mark, delta_mark), last_full_at = CASE WHEN @full THEN @at ELSE last_full_at END
            WHERE name = @name
            """,
            new { name, outcome, mark, full, at = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task<bool> TryLeaseAsync(string name, string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // One statement: of two nodes asking at once, one row update wins.
        return await connection.ExecuteAsync(
            """
            UPDATE directory_sources SET lease_holder = @holder, lease_until = @until
            WHERE name = @name AND (lease_until IS NULL OR lease_until < @now OR lease_holder = @holder)
            """,
            new { name, holder, now = now.ToUnixTimeMilliseconds(), until = until.ToUnixTimeMilliseconds() }).ConfigureAwait(false) == 1;
    }

    public async Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE directory_sources SET lease_holder = NULL, lease_until = NULL WHERE name = @name AND lease_holder = @holder", new { name, holder }).ConfigureAwait(false);
    }

    private static async Task<DirectorySource> WithPasswordAsync(System.Data.Common.DbConnection connection, SourceRow row)
    {
        var ciphertext = await connection.QuerySingleOrDefaultAsync<byte[]>(
            "SELECT ciphertext FROM secrets WHERE name = @secret", new { secret = SecretNames.DirectorySourceBindPassword(row.Name) }).ConfigureAwait(false);
        return new DirectorySource(row.Name, JsonSerializer.Deserialize<DirectorySourceSettings>(row.Settings, Json)!)
        {
            BindPassword = ciphertext is null ? null : new EncryptedSecret(ciphertext),
            DeltaMark = row.DeltaMark,
            LastSyncAt = At(row.LastSyncAt),
            LastFullSyncAt = At(row.LastFullAt),
            LastOutcome = row.LastOutcome,
        };
    }

    private static DateTimeOffset? At(long? milliseconds) => milliseconds is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null;

    private sealed class SourceRow
    {
        public string Name { get; set; } = "";
        public string Settings { get; set; } = "";
        public string? DeltaMark { get; set; }
        public long? LastSyncAt { get; set; }
        public long? LastFullAt { get; set; }
        public string? LastOutcome { get; set; }
        public string? LeaseHolder { get; set; }
        public long? LeaseUntil { get; set; }
        public long UpdatedAt { get; set; }
    }
}
