using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.Storage.Database;

namespace Herald.IntegrationTests.Storage;

/// <summary>Storage tests are written once and run on every engine:
/// <c>[Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]</c>
/// with <c>await using var db = await TestDatabases.CreateAsync(engine);</c>.</summary>
public static class TestDatabases
{
    public const string Sqlite = "sqlite";

    public const string Postgres = "postgres";

    public static TheoryData<string> Engines => [Sqlite, Postgres];

    /// <summary>A database of its own for one test: a SQLite file in a new temporary data
    /// directory, or a new database on the assembly's PostgreSQL cluster, migrated unless
    /// <paramref name="migrate"/> is false. Disposing it deletes it.</summary>
    public static async Task<TestDatabase> CreateAsync(string engine, bool migrate = true)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), $"herald-db-{engine}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataDirectory);
        TestDatabase database;
        switch (engine)
        {
            case Sqlite:
                database = new TestDatabase(engine, HeraldDatabases.Open(null, dataDirectory), dataDirectory, null, null);
                break;
            case Postgres:
                var fixture = await TestContext.Current.GetFixture<PostgresFixture>()
                    ?? throw new InvalidOperationException("The PostgreSQL fixture is not attached to this test assembly.");
                var name = $"herald_t_{Guid.NewGuid():N}";
                await using (var admin = await fixture.Admin.OpenConnectionAsync(TestContext.Current.CancellationToken))
                {
                    await admin.ExecuteAsync($"CREATE DATABASE {name}");
                }

                var url = fixture.Url(name);
                database = new TestDatabase(engine, HeraldDatabases.Open(url, dataDirectory), dataDirectory, url, fixture)
                {
                    PostgresName = name,
                };
                break;
            default:
                throw new ArgumentException($"Unknown engine '{engine}'; use one of {string.Join(", ", Engines)}.", nameof(engine));
        }

        if (migrate)
        {
            await database.Database.MigrateAsync(TestContext.Current.CancellationToken);
        }

        return database;
    }
}

/// <summary>One test's database and the data directory a <c>herald</c> node would use with it.</summary>
public sealed class TestDatabase(string engine, HeraldDatabase database, string dataDirectory, string? url, PostgresFixture? fixture)
    : IAsyncDisposable
{
    public string Engine { get; } = engine;

    public HeraldDatabase Database { get; } = database;

    /// <summary>For <c>--data-dir</c>: SQLite's file lives here; with PostgreSQL it only holds
    /// node-local files such as the credential key file.</summary>
    public string DataDirectory { get; } = dataDirectory;

    /// <summary>For <c>herald serve --database …</c> (and <see cref="HeraldDatabases.Open"/>): the
    /// PostgreSQL URL, or null for SQLite, which is found in <see cref="DataDirectory"/>.</summary>
    public string? Url { get; } = url;

    /// <summary>The database's name on the PostgreSQL cluster; null for SQLite.</summary>
    public string? PostgresName { get; init; }

    /// <summary>The spool a node on this data directory uses for large messages.</summary>
    public Herald.Outbox.MessageSpool Spool => new(Path.Combine(DataDirectory, Herald.Outbox.MessageSpool.DirectoryName));

    /// <summary>Another <see cref="HeraldDatabase"/> on the same data, as a second node would
    /// open it (its own connection pool); the caller disposes it.</summary>
    public HeraldDatabase OpenAnother() => HeraldDatabases.Open(Url, DataDirectory);

    public async ValueTask DisposeAsync()
    {
        if (Database is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        if (fixture is not null && PostgresName is not null)
        {
            await using var admin = await fixture.Admin.OpenConnectionAsync();
            // FORCE: a herald serve started on this database may still be connected.
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS {PostgresName} WITH (FORCE)");
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temporary-file clean-up.
        }
    }

    public override string ToString() => Engine;
}
