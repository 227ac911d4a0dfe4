using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;
using Dapper;
using Npgsql;

namespace Herald.Storage.Database;

/// <summary>A PostgreSQL database that several Herald nodes share. Its commits are durable when
/// the server's are (fsync and synchronous_commit are the server's to keep on).</summary>
public sealed class PostgresDatabase : HeraldDatabase, IAsyncDisposable, IDisposable
{
    // Advisory lock keys, one per purpose; "Herald" in ASCII in the high bytes keeps them clear
    // of other applications' locks in the same database.
    private const long MigrationLockKey = 0x4865_7261_6C64_0001;
    private const long WriteLockKey = 0x4865_7261_6C64_0002;

    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> Properties = new();

    // A null keeps its property's type, as Dapper does: PostgreSQL would otherwise take an
    // untyped null in a SELECT list for text.
    private static readonly Dictionary<Type, System.Data.DbType> NullTypes = new()
    {
        [typeof(int)] = System.Data.DbType.Int32,
        [typeof(long)] = System.Data.DbType.Int64,
        [typeof(string)] = System.Data.DbType.String,
        [typeof(byte[])] = System.Data.DbType.Binary,
        [typeof(bool)] = System.Data.DbType.Boolean,
    };

    private readonly NpgsqlDataSource _dataSource;

    /// <param name="connectionString">An Npgsql connection string (<c>Host=…;Database=…</c>);
    /// <see cref="HeraldDatabases.Open"/> also accepts <c>postgres://</c> URLs.</param>
    public PostgresDatabase(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        // Names Herald's sessions in pg_stat_activity unless the operator chose a name.
        builder.ApplicationName ??= "herald";
        Description = Describe(builder);
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public override string Engine => "postgres";

    public override string Description { get; }

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override string IsAnyOf(string column, string parameter) => $"{column} = ANY(@{parameter})";

    public override string LockRows => " FOR UPDATE";

    protected override string CountTablesSql => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @name";

    // clock_timestamp(), not now(): the time of the answer, not of the transaction's start.
    protected override string CurrentTimeSql => "SELECT clock_timestamp()";

    /// <summary>One round trip for the whole list (an NpgsqlBatch), instead of one per row.</summary>
    public override async Task<int> ExecuteEachAsync(DbConnection connection, DbTransaction transaction, string sql, IEnumerable<object> rows)
    {
        await using var batch = new NpgsqlBatch((NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        foreach (var row in rows)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var property in Properties.GetOrAdd(row.GetType(), type => type.GetProperties()))
            {
                command.Parameters.Add(Parameter(property, property.GetValue(row)));
            }

            batch.BatchCommands.Add(command);
        }

        return batch.BatchCommands.Count == 0 ? 0 : await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    /// <summary>A <see cref="Durability.WithNextCommit"/> write commits without waiting for its
    /// WAL flush (synchronous_commit off for that transaction), which PostgreSQL does a moment
    /// later; a crash of the server in between loses it, never corrupts anything.</summary>
    public override async Task<WriteTransaction> BeginWriteAsync(DbConnection connection, Durability durability, CancellationToken cancellationToken)
    {
        var write = await base.BeginWriteAsync(connection, durability, cancellationToken).ConfigureAwait(false);
        if (durability == Durability.OnCommit)
        {
            return write;
        }

        try
        {
            await connection.ExecuteAsync(new CommandDefinition("SET LOCAL synchronous_commit = off", transaction: write.Transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return write;
        }
        catch
        {
            await write.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override string BlobToWrite(string lengthParameter) => "''::bytea";

    /// <summary>The value replaced with a streamed parameter, sent a buffer at a time.</summary>
    public override async Task WriteBlobAsync(DbConnection connection, DbTransaction transaction, string table, string column, string id, Stream content, long length, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"UPDATE {table} SET {column} = @content WHERE id = @id", (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        // Seekable, so Npgsql takes its length from it and copies it through its write buffer;
        // a stream it cannot seek it would read into memory first.
        if (!content.CanSeek || content.Length - content.Position != length)
        {
            throw new ArgumentException($"The content of {table}.{column} for {id} must be a seekable stream of {length} bytes.", nameof(content));
        }

        command.Parameters.Add(new NpgsqlParameter("content", NpgsqlTypes.NpgsqlDbType.Bytea) { Value = content });
        command.Parameters.Add(new NpgsqlParameter("id", id));
        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
        {
            throw new InvalidOperationException($"No row {id} in {table}.");
        }
    }

    /// <summary>Sequential access: the column is read from the socket as it is copied, never
    /// buffered whole.</summary>
    public override async Task CopyBlobAsync(string table, string column, string id, Stream destination, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT {column} FROM {table} WHERE id = @id", connection);
        command.Parameters.Add(new NpgsqlParameter("id", id));
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"No row {id} in {table}.");
        }

        await using var stream = await reader.GetStreamAsync(0, cancellationToken).ConfigureAwait(false);
        await stream.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Like SQLite's single writer, for the stores' read-check-write steps: the
    /// transaction first takes a database-wide advisory lock, so that it sees no concurrent
    /// serialized writer, on any node. The lock is released at commit or rollback. The outbox
    /// never takes it: its writes are row-level (FOR UPDATE SKIP LOCKED, ON CONFLICT), so nodes
    /// do not queue behind each other.</summary>
    public override async Task<WriteTransaction> BeginSerializedWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var write = await BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "SELECT pg_advisory_xact_lock(@key)", new { key = WriteLockKey }, write.Transaction, commandTimeout: 0, cancellationToken: cancellationToken)).ConfigureAwait(false);
            return write;
        }
        catch
        {
            await write.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Nodes that start together migrate one at a time: the first applies what is
    /// missing while the others wait on the lock, then find nothing left to do.</summary>
    protected override async Task<int> MigrateAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // Session level, on this one connection, for the whole run (each migration commits on
        // its own). No command timeout: another node's migration may take a while.
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_lock(@key)", new { key = MigrationLockKey }, commandTimeout: 0, cancellationToken: cancellationToken)).ConfigureAwait(false);
        try
        {
            return await base.MigrateAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Explicitly: a pooled connection is only reset when it is next used, so closing it
            // would leave the lock held by an idle connection in the pool. A broken connection
            // has lost its session, and the lock with it.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key = MigrationLockKey }).ConfigureAwait(false);
            }
        }
    }

    private static NpgsqlParameter Parameter(PropertyInfo property, object? value)
    {
        if (value is not null)
        {
            return new NpgsqlParameter(property.Name, value);
        }

        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        return NullTypes.TryGetValue(type, out var dbType)
            ? new NpgsqlParameter(property.Name, dbType) { Value = DBNull.Value }
            : new NpgsqlParameter(property.Name, DBNull.Value);
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    public void Dispose() => _dataSource.Dispose();

    // Built from the parts, never from the connection string: it may hold a password.
    private static string Describe(NpgsqlConnectionStringBuilder builder)
    {
        var host = builder.Host ?? "localhost";
        var where = host.Contains(',', StringComparison.Ordinal) || host.Contains(':', StringComparison.Ordinal)
            ? $"{host} (default port {builder.Port})"
            : $"{host}:{builder.Port}";
        return $"PostgreSQL database {builder.Database ?? builder.Username} on {where} as {builder.Username ?? "(the operating system user)"}";
    }
}
