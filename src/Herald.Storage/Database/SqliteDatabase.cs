using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Herald.Storage.Database;

/// <summary>The embedded database: one SQLite file in the data directory, in WAL mode with full
/// sync, so that a committed transaction is on disk before anyone is told it is.</summary>
public sealed class SqliteDatabase : HeraldDatabase
{
    public const string FileName = "herald.db";

    private readonly string _connectionString;

    public SqliteDatabase(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
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

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        // journal_mode persists in the file; synchronous and busy_timeout are per connection.
        await connection.ExecuteAsync("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000;").ConfigureAwait(false);
        return connection;
    }
}
