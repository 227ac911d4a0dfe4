using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Database;

/// <summary>What a backup or a restore wrote: the file, its size, the schema version it holds and
/// the messages in it (those still to be delivered counted apart).</summary>
public sealed record DatabaseCopy(string Path, long SizeBytes, int SchemaVersion, long Messages, long MessagesQueued);

/// <summary>
/// <c>herald backup</c> and <c>herald restore</c> for the embedded SQLite database. Only the
/// database is copied: the credential key (the data directory's key file or
/// <c>HERALD_CREDENTIAL_KEY</c>) is never part of it, and the sealed secrets in a backup open only
/// with that key. A PostgreSQL database is backed up with pg_dump (docs/backup-and-upgrade.md).
/// </summary>
public static class DatabaseBackup
{
    /// <summary>What both commands say, every time.</summary>
    public const string KeyNotIncluded = "The credential key is not in the backup; keep it separately — restored secrets open only with it.";

    private const string PostgresWay =
        "this node's database is PostgreSQL: back it up with pg_dump while Herald runs (pg_dump --format=custom --file=herald.dump DATABASE) "
        + "and restore it with pg_restore into an empty database, as docs/backup-and-upgrade.md shows";

    // The first 16 bytes of every SQLite database file.
    private static readonly byte[] SqliteHeader = "SQLite format 3\0"u8.ToArray();

    /// <summary>
    /// Writes a consistent snapshot of <paramref name="database"/> to <paramref name="destination"/>
    /// while other processes (herald serve) keep writing. <c>VACUUM INTO</c> reads the database in
    /// one read transaction: in WAL mode readers never block writers, so serve's commits go on
    /// into the log meanwhile (they are not in the snapshot), and the copy is compacted, without
    /// free pages. The copy is written beside the destination, checked, synced and then renamed
    /// over it, so that the destination is either the old file or the whole new one.
    /// </summary>
    public static async Task<Result<DatabaseCopy>> BackupAsync(HeraldDatabase database, string destination, bool overwrite, CancellationToken cancellationToken)
    {
        if (database is not SqliteDatabase sqlite)
        {
            return Refusal.Invalid("database", $"herald backup copies the embedded SQLite database; {PostgresWay}.");
        }

        var target = Path.GetFullPath(destination);
        if (!File.Exists(sqlite.Path))
        {
            return Refusal.NotFound($"There is no database at {sqlite.Path}: nothing to back up.");
        }

        if (Directory.Exists(target))
        {
            return Refusal.Invalid("to", $"{target} is a directory; name the backup file to write.");
        }

        if (File.Exists(target) && !overwrite)
        {
            return Refusal.Conflict(new FieldError("to", $"{target} already exists; give --force to replace it."));
        }

        if (!Directory.Exists(Path.GetDirectoryName(target)))
        {
            return Refusal.Invalid("to", $"The directory of {target} does not exist.");
        }

        if (string.Equals(target, sqlite.Path, StringComparison.Ordinal))
        {
            return Refusal.Invalid("to", "The backup cannot replace the database it copies.");
        }

        var partial = $"{target}.{Guid.NewGuid():N}.partial";
        try
        {
            await using (var connection = await sqlite.OpenAsync(cancellationToken).ConfigureAwait(false))
            {
                await connection.ExecuteAsync(new CommandDefinition("VACUUM INTO @partial", new { partial }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            }

            var copy = await CheckAsync(partial, target, sqlite.MigrationVersions, cancellationToken).ConfigureAwait(false);
            if (copy.Refused)
            {
                return copy.Refusal!;
            }

            Sync(partial);
            File.Move(partial, target, overwrite);
            return copy.Value! with { Path = target };
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            // Where the backup goes: no room, no permission, or a file that appeared meanwhile.
            return Refusal.Unavailable($"The backup could not be written to {target} ({ex.Message.TrimEnd('.')}); nothing was replaced.");
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>
    /// Places the backup <paramref name="source"/> as the database of an empty (or new) data
    /// directory, after checking that it is a whole SQLite file holding a Herald database whose
    /// schema this build knows. The check runs on a copy inside the data directory, which is then
    /// renamed into place: on any refusal the directory is left as it was.
    /// </summary>
    public static async Task<Result<DatabaseCopy>> RestoreAsync(HeraldDatabase database, string source, string dataDirectory, CancellationToken cancellationToken)
    {
        if (database is not SqliteDatabase)
        {
            return Refusal.Invalid("database", $"herald restore places an embedded SQLite database; {PostgresWay}.");
        }

        var from = Path.GetFullPath(source);
        var directory = Path.GetFullPath(dataDirectory);
        if (!File.Exists(from))
        {
            return Refusal.NotFound($"There is no file {from} to restore from.");
        }

        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            return Refusal.Conflict(new FieldError("data-dir", $"The data directory {directory} is not empty; restore into an empty or new directory, so that nothing in it is replaced."));
        }

        if (!StartsWithSqliteHeader(from))
        {
            return Refusal.Invalid("from", $"{from} is not a SQLite database, so not a Herald backup.");
        }

        var created = !Directory.Exists(directory);
        var partial = Path.Combine(directory, $"{SqliteDatabase.FileName}.{Guid.NewGuid():N}.partial");
        var placed = false;
        try
        {
            Directory.CreateDirectory(directory);
            File.Copy(from, partial);
            var copy = await CheckAsync(partial, from, database.MigrationVersions, cancellationToken).ConfigureAwait(false);
            if (copy.Refused)
            {
                return copy.Refusal!;
            }

            Sync(partial);
            var target = Path.Combine(directory, SqliteDatabase.FileName);
            File.Move(partial, target);
            placed = true;
            return copy.Value! with { Path = target };
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Refusal.Unavailable($"The backup could not be placed in {directory} ({ex.Message.TrimEnd('.')}); nothing was restored.");
        }
        finally
        {
            if (File.Exists(partial))
            {
                File.Delete(partial);
            }

            if (!placed && created && Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
            {
                Directory.Delete(directory);
            }
        }
    }

    /// <summary>Reads a copy on its own unpooled connection: the whole file must pass SQLite's
    /// quick check, hold Herald's schema table and no migration this build does not have. The copy
    /// is left in rollback-journal mode, one self-contained file (serve turns WAL on again).</summary>
    private static async Task<Result<DatabaseCopy>> CheckAsync(string path, string name, IReadOnlyList<int> known, CancellationToken cancellationToken)
    {
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadWrite }.ToString();
        try
        {
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var problems = (await connection.QueryAsync<string>("PRAGMA quick_check").ConfigureAwait(false)).ToList();
            if (problems is not ["ok"])
            {
                return Refusal.Invalid("from", $"{name} is damaged or incomplete (SQLite's check says: {string.Join("; ", problems.Take(3))}).");
            }

            if (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").ConfigureAwait(false) == 0)
            {
                return Refusal.Invalid("from", $"{name} is a SQLite database but not Herald's: it has no schema_migrations table.");
            }

            var applied = (await connection.QueryAsync<int>("SELECT version FROM schema_migrations ORDER BY version").ConfigureAwait(false)).ToList();
            var unknown = applied.Except(known).ToList();
            if (unknown.Count > 0)
            {
                return Refusal.Invalid("from", $"{name} was made by a newer Herald: it has migration(s) {string.Join(", ", unknown.Select(v => v.ToString("D4", CultureInfo.InvariantCulture)))} that this one does not know. Restore it with that version or a later one.");
            }

            var (messages, queued) = await connection.QuerySingleAsync<(long, long)>(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) FROM messages").ConfigureAwait(false);
            await connection.ExecuteAsync("PRAGMA journal_mode = DELETE").ConfigureAwait(false);
            return new DatabaseCopy(path, new FileInfo(path).Length, applied.Count == 0 ? 0 : applied[^1], messages, queued);
        }
        catch (SqliteException ex)
        {
            return Refusal.Invalid("from", $"{name} is not a readable SQLite database ({ex.Message.TrimEnd('.')}).");
        }
    }

    private static bool StartsWithSqliteHeader(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> header = stackalloc byte[16];
        return file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) == header.Length && header.SequenceEqual(SqliteHeader);
    }

    // The file's bytes are on disk before its name says it is the backup or the database.
    private static void Sync(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Flush(flushToDisk: true);
    }
}
