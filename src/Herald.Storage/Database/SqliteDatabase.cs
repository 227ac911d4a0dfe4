using System.Data.Common;
using System.Runtime.CompilerServices;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Database;

/// <summary>The embedded database: one SQLite file in the data directory, in WAL mode with full
/// sync, so that a committed transaction is on disk before anyone is told it is.</summary>
public sealed class SqliteDatabase : HeraldDatabase, IDisposable
{
    public const string FileName = "herald.db";

    private readonly string _connectionString;

    // SQLite has one writer. Writers of this process take turns here, in order and without
    // sleeping; SQLite's busy handler, which sleeps between polls, only ever waits for another
    // process (a herald command run next to herald serve).
    private readonly SemaphoreSlim _writerTurn = new(1, 1);

    // The pooled SQLite handles whose per-handle settings are made.
    private readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> _prepared = [];

    /// <param name="createDirectory">False for a restore, which must find the directory as the
    /// operator left it.</param>
    public SqliteDatabase(string dataDirectory, bool createDirectory = true)
    {
        if (createDirectory)
        {
            Directory.CreateDirectory(dataDirectory);
        }

        Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, FileName));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            ForeignKeys = true,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path { get; }

    public override string Engine => "sqlite";

    public override string Description => $"SQLite {Path}";

    /// <summary>Microsoft.Data.Sqlite is synchronous underneath; <see cref="OpenAsync"/> moves
    /// every use of it to the thread pool first.</summary>
    public override bool NeverBlocksCaller => true;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        // Microsoft.Data.Sqlite's async methods run synchronously: the work moves to the thread
        // pool here, so that it never blocks a socket engine thread that an HTTP request or an
        // SMTP reply continued on (herald serve completes sockets inline).
        await Task.Yield();
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        // journal_mode persists in the file; synchronous and busy_timeout belong to the SQLite
        // handle, which the pool keeps open and hands out again: set them once per handle.
        // No memory map: each pooled handle mapped its own 256 MiB of the file, and every page
        // read through a mapping counts in the node's resident memory once per handle, so a
        // backlog of a million messages (a database of gigabytes) made the node's RSS grow by
        // gigabytes. Pages are read into each handle's bounded cache instead (cache_size).
        if (!_prepared.TryGetValue(connection.Handle!, out _))
        {
            await connection.ExecuteAsync("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000; PRAGMA mmap_size = 0;").ConfigureAwait(false);
            _prepared.AddOrUpdate(connection.Handle!, this);
        }

        return connection;
    }

    public override async Task<WriteTransaction> BeginWriteAsync(DbConnection connection, Durability durability, CancellationToken cancellationToken)
    {
        await _writerTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        var turn = new WriterTurn(_writerTurn);
        try
        {
            // Set on every write, so that a pooled handle never carries the other one into a
            // write that needs FULL. In WAL mode, NORMAL skips the fsync at commit; the next FULL
            // commit's fsync of the log covers it.
            await connection.ExecuteAsync(durability == Durability.OnCommit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL").ConfigureAwait(false);
            return new WriteTransaction(await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false), turn);
        }
        catch
        {
            turn.Dispose();
            throw;
        }
    }

    public override string BlobToWrite(string lengthParameter) => $"zeroblob({lengthParameter})";

    /// <summary>Incremental blob I/O (<see cref="SqliteBlob"/>): the zero bytes the row was
    /// inserted with are overwritten in place, a page at a time.</summary>
    public override async Task WriteBlobAsync(DbConnection connection, DbTransaction transaction, string table, string column, string id, Stream content, long length, CancellationToken cancellationToken)
    {
        var rowid = await RowIdAsync(connection, table, id, transaction, cancellationToken).ConfigureAwait(false);
        using var blob = new SqliteBlob((SqliteConnection)connection, table, column, rowid);
        await content.CopyToAsync(blob, cancellationToken).ConfigureAwait(false);
    }

    public override async Task CopyBlobAsync(string table, string column, string id, Stream destination, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var rowid = await RowIdAsync(connection, table, id, transaction: null, cancellationToken).ConfigureAwait(false);
        // The open blob handle holds a read transaction: the copy reads one version of the row.
        using var blob = new SqliteBlob((SqliteConnection)connection, table, column, rowid, readOnly: true);
        await blob.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> RowIdAsync(DbConnection connection, string table, string id, DbTransaction? transaction, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long?>(new CommandDefinition($"SELECT rowid FROM {table} WHERE id = @id", new { id }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"No row {id} in {table}.");

    public void Dispose() => _writerTurn.Dispose();

    /// <summary>Gives the writer's turn back exactly once.</summary>
    private sealed class WriterTurn(SemaphoreSlim turn) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                turn.Release();
            }
        }
    }
}
