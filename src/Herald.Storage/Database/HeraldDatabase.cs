using System.Data.Common;
using System.Reflection;
using Dapper;

namespace Herald.Storage.Database;

/// <summary>A Herald database: how to open a connection to it and how to bring its schema up to
/// date. The stores' SQL is shared by every engine; only DDL and connection set-up differ.</summary>
public abstract class HeraldDatabase
{
    static HeraldDatabase() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    /// <summary>The engine's name, which is also its migrations folder.</summary>
    public abstract string Engine { get; }

    /// <summary>Where the data lives, for logs (never with a password in it).</summary>
    public abstract string Description { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>True when no call on this database blocks the thread that awaited it: whatever
    /// synchronous work it does moves to the thread pool first. Only then may a host run socket
    /// completions inline (see herald serve).</summary>
    public virtual bool NeverBlocksCaller => false;

    /// <summary>The migration versions this build carries for the engine, in order: a database
    /// that has applied any other was made by a newer (or another branch's) Herald.</summary>
    public IReadOnlyList<int> MigrationVersions => [.. Migrations().Select(m => m.Version)];

    /// <summary>Applies every migration not yet applied, each in its own transaction.</summary>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await MigrateAsync(connection, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The migration run on one connection. An engine that several nodes share
    /// overrides this to hold a lock on <paramref name="connection"/> around the whole run.</summary>
    protected virtual async Task<int> MigrateAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // applied_at is milliseconds since 1970: BIGINT, which SQLite reads as INTEGER.
        await connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)").ConfigureAwait(false);

        var applied = 0;
        foreach (var (version, name, sql) in Migrations())
        {
            await using var write = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            var transaction = write.Transaction;
            var done = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM schema_migrations WHERE version = @version", new { version }, transaction).ConfigureAwait(false);
            if (done > 0)
            {
                continue;
            }

            await connection.ExecuteAsync(sql, transaction: transaction).ConfigureAwait(false);
            await connection.ExecuteAsync(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @now)",
                new { version, name, now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() },
                transaction).ConfigureAwait(false);
            await write.CommitAsync(cancellationToken).ConfigureAwait(false);
            applied++;
        }

        return applied;
    }

    /// <summary>SQL that is true when <paramref name="column"/> equals one of the values in the list
    /// parameter <paramref name="parameter"/> (an array). Dapper expands a list into
    /// <c>IN (@p1, @p2, …)</c> for SQLite but sends it to PostgreSQL as one array parameter, which
    /// only <c>= ANY(…)</c> accepts there. An empty list matches nothing on both.</summary>
    public virtual string IsAnyOf(string column, string parameter) => $"{column} IN @{parameter}";

    /// <summary>Runs one statement once per row (its parameters are the row's properties), all
    /// within the transaction, and returns the rows affected in total. SQLite runs the list
    /// through one prepared command in process; a server engine sends it in one round trip.</summary>
    public virtual Task<int> ExecuteEachAsync(DbConnection connection, DbTransaction transaction, string sql, IEnumerable<object> rows) =>
        connection.ExecuteAsync(sql, rows, transaction);

    /// <summary>Appended to a SELECT in a write transaction to lock the rows it reads until
    /// commit; nothing where the engine has a single writer.</summary>
    public virtual string LockRows => "";

    /// <summary>SQL for the value of a blob column that <see cref="WriteBlobAsync"/> fills in
    /// later in the same transaction: <paramref name="lengthParameter"/> zero bytes where the
    /// engine writes blobs in place (SQLite), empty where it replaces the value (PostgreSQL).</summary>
    public abstract string BlobToWrite(string lengthParameter);

    /// <summary>Streams <paramref name="content"/> (seekable, <paramref name="length"/> bytes) into the blob
    /// column of the row with this id, inserted in this transaction with <see cref="BlobToWrite"/>,
    /// without holding the value whole in memory.</summary>
    public abstract Task WriteBlobAsync(DbConnection connection, DbTransaction transaction, string table, string column, string id, Stream content, long length, CancellationToken cancellationToken);

    /// <summary>Streams the blob column of the row with this id into <paramref name="destination"/>,
    /// without holding the value whole in memory.</summary>
    /// <exception cref="InvalidOperationException">The row does not exist.</exception>
    public abstract Task CopyBlobAsync(string table, string column, string id, Stream destination, CancellationToken cancellationToken);

    /// <summary>A write transaction. It takes the write lock up front (Microsoft.Data.Sqlite
    /// begins IMMEDIATE by default), so that two writers never deadlock upgrading read locks; the
    /// outbox's row-level writes need nothing more, on any engine.</summary>
    public Task<WriteTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        BeginWriteAsync(connection, Durability.OnCommit, cancellationToken);

    /// <summary>A write transaction (see the other overload) whose commit is on disk as
    /// <paramref name="durability"/> says.</summary>
    public virtual async Task<WriteTransaction> BeginWriteAsync(DbConnection connection, Durability durability, CancellationToken cancellationToken) =>
        new(await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false), turn: null);

    /// <summary>A write transaction that no other write transaction of this kind overlaps, on
    /// any node: for read-check-write steps (does the parent scope exist? is the connection still
    /// used? which secrets are there to re-seal?). Engines with one writer already give that.</summary>
    public virtual Task<WriteTransaction> BeginSerializedWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        BeginWriteAsync(connection, cancellationToken);

    private IEnumerable<(int Version, string Name, string Sql)> Migrations()
    {
        var assembly = typeof(HeraldDatabase).Assembly;
        var prefix = $"{assembly.GetName().Name}.Migrations.{Engine}.";
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var name = resource[prefix.Length..^".sql".Length];
            var version = int.Parse(name[..name.IndexOf('_', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
            yield return (version, name, Read(assembly, resource));
        }
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
