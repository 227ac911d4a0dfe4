using Dapper;
using Herald.Storage.Database;

namespace Herald.IntegrationTests.Storage;

/// <summary>Schema migrations on both engines, including several nodes starting at once.</summary>
public sealed class MigrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Every_migration_is_applied_once_and_migrating_again_applies_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine, migrate: false);

        var applied = await db.Database.MigrateAsync(Ct);
        var again = await db.Database.MigrateAsync(Ct);

        Assert.Equal(MigrationNames(engine).Count, applied);
        Assert.Equal(0, again);
        Assert.Equal(MigrationNames(engine), await AppliedAsync(db.Database));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Nodes_migrating_a_fresh_database_at_once_all_succeed_and_apply_each_migration_once(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine, migrate: false);
        var nodes = Enumerable.Range(0, 4).Select(_ => db.OpenAnother()).ToArray();
        try
        {
            var applied = await Task.WhenAll(nodes.Select(node => Task.Run(() => node.MigrateAsync(Ct))));

            // One node applied everything or the work was shared; either way each migration once.
            Assert.Equal(MigrationNames(engine).Count, applied.Sum());
            Assert.Equal(MigrationNames(engine), await AppliedAsync(db.Database));
            await using var connection = await db.Database.OpenAsync(Ct);
            Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM scopes WHERE path = '/'"));
        }
        finally
        {
            foreach (var node in nodes.OfType<IAsyncDisposable>())
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_postgres_migration_leaves_no_advisory_lock_behind_on_its_pooled_connection()
    {
        await using var db = await TestDatabases.CreateAsync(TestDatabases.Postgres, migrate: false);

        await db.Database.MigrateAsync(Ct);

        // The pooled connection the migration used is still open; a lock it kept would stop the
        // next node's migration.
        await using var connection = await db.Database.OpenAsync(Ct);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()"));
    }

    [Fact]
    public void Every_sqlite_migration_has_a_postgres_twin_with_the_same_version_and_name()
    {
        Assert.NotEmpty(MigrationNames(TestDatabases.Sqlite));
        Assert.Equal(MigrationNames(TestDatabases.Sqlite), MigrationNames(TestDatabases.Postgres));
    }

    /// <summary>The embedded migrations of an engine, e.g. <c>0001_foundation</c>.</summary>
    private static List<string> MigrationNames(string engine)
    {
        var assembly = typeof(HeraldDatabase).Assembly;
        var prefix = $"{assembly.GetName().Name}.Migrations.{engine}.";
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => n[prefix.Length..^".sql".Length])
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static async Task<List<string>> AppliedAsync(HeraldDatabase database)
    {
        await using var connection = await database.OpenAsync(Ct);
        return (await connection.QueryAsync<string>("SELECT name FROM schema_migrations ORDER BY version")).ToList();
    }
}
