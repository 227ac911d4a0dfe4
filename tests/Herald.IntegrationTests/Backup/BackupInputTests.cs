using System.Text.RegularExpressions;
using Dapper;
using Herald.IntegrationTests.Outbox;
using Herald.Storage.Database;
using Herald.Testing;
using Microsoft.Data.Sqlite;

namespace Herald.IntegrationTests.Backup;

/// <summary>What <c>herald backup</c> and <c>herald restore</c> refuse, each with a sentence and
/// nothing written: an existing file, a missing, foreign, truncated or newer file, and a
/// PostgreSQL database (pg_dump's job).</summary>
public sealed class BackupInputTests : IDisposable
{
    private readonly HeraldCommandLine _node = new();
    private readonly string _scratch = Directory.CreateTempSubdirectory("herald-backup-input-").FullName;

    [Fact]
    public async Task A_backup_does_not_replace_an_existing_file_unless_forced()
    {
        var backup = await BackupAsync();
        var before = File.ReadAllBytes(backup);
        await OutboxNode.MustAsync(_node, "scope", "add", "/after");

        var refused = await _node.RunAsync("backup", "--to", backup);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"{backup} already exists; give --force to replace it.", refused.Error, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(backup));

        var forced = await _node.RunAsync("backup", "--to", backup, "--force");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.Contains("/after", await ScopesAsync(backup));
        Assert.Equal(["herald.db"], Directory.GetFileSystemEntries(_scratch).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Restore_refuses_a_missing_file_and_leaves_no_directory_behind()
    {
        var target = Path.Combine(_scratch, "new-node");
        var (refused, left) = await RestoreAsync(Path.Combine(_scratch, "no-such.db"), target);

        Assert.Contains($"There is no file {Path.Combine(_scratch, "no-such.db")} to restore from.", refused.Error, StringComparison.Ordinal);
        Assert.Null(left);
    }

    [Fact]
    public async Task Restore_refuses_a_file_that_is_not_sqlite()
    {
        var notes = Path.Combine(_scratch, "notes.txt");
        File.WriteAllText(notes, "not a database, though long enough to have sixteen bytes");
        var target = Path.Combine(_scratch, "new-node");

        var (refused, left) = await RestoreAsync(notes, target);

        Assert.Contains($"{notes} is not a SQLite database, so not a Herald backup.", refused.Error, StringComparison.Ordinal);
        Assert.Null(left);
    }

    [Fact]
    public async Task Restore_refuses_a_truncated_backup_and_leaves_the_empty_directory_empty()
    {
        var backup = await BackupAsync();
        var truncated = Path.Combine(_scratch, "truncated.db");
        var bytes = File.ReadAllBytes(backup);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var (refused, left) = await RestoreAsync(truncated, Path.Combine(_scratch, "empty-node"), exists: true);

        // SQLite either cannot read it at all or its check finds pages missing.
        Assert.Matches($@"herald: {Regex.Escape(truncated)} is (not a readable SQLite database|damaged or incomplete) \(", refused.Error);
        Assert.NotNull(left);
        Assert.Empty(left);
    }

    [Fact]
    public async Task Restore_refuses_a_sqlite_database_that_is_not_heralds()
    {
        var other = Path.Combine(_scratch, "other.db");
        await using (var connection = new SqliteConnection($"Data Source={other};Pooling=False"))
        {
            await connection.ExecuteAsync("CREATE TABLE notes (text TEXT)");
        }

        var (refused, _) = await RestoreAsync(other, Path.Combine(_scratch, "new-node"));

        Assert.Contains($"{other} is a SQLite database but not Herald's: it has no schema_migrations table.", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_refuses_a_backup_of_a_newer_herald_naming_the_migration_it_does_not_know()
    {
        var backup = await BackupAsync();
        await using (var connection = new SqliteConnection($"Data Source={backup};Pooling=False"))
        {
            await connection.ExecuteAsync("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_from_the_future', 0)");
        }

        var (refused, left) = await RestoreAsync(backup, Path.Combine(_scratch, "new-node"));

        Assert.Contains($"{backup} was made by a newer Herald: it has migration(s) 9999 that this one does not know.", refused.Error, StringComparison.Ordinal);
        Assert.Null(left);
    }

    [Fact]
    public async Task Backup_and_restore_on_postgres_point_to_pg_dump_and_do_nothing()
    {
        var backup = Path.Combine(_scratch, "pg.db");
        // Nothing listens there: the commands refuse before connecting.
        var database = "postgres://herald@127.0.0.1:1/herald";

        var backedUp = await _node.RunAsync("--database", database, "backup", "--to", backup);
        var restored = await _node.RunAsync("--database", database, "restore", "--from", backup);

        Assert.Equal(1, backedUp.ExitCode);
        Assert.Contains("herald backup copies the embedded SQLite database; this node's database is PostgreSQL: back it up with pg_dump", backedUp.Error, StringComparison.Ordinal);
        Assert.Contains(DatabaseBackup.KeyNotIncluded, backedUp.Error, StringComparison.Ordinal);
        Assert.Equal(1, restored.ExitCode);
        Assert.Contains("pg_restore", restored.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(backup));
    }

    public void Dispose()
    {
        _node.Dispose();
        Directory.Delete(_scratch, recursive: true);
    }

    private async Task<string> BackupAsync()
    {
        await OutboxNode.MustAsync(_node, "scope", "add", "/hr");
        var backup = Path.Combine(_scratch, "herald.db");
        var result = await _node.RunAsync("backup", "--to", backup);
        Assert.True(result.ExitCode == 0, result.ToString());
        return backup;
    }

    /// <summary>Runs a restore that must be refused into <paramref name="dataDirectory"/> (made
    /// empty first when <paramref name="exists"/>); returns what it said and what the directory
    /// holds afterwards (null: it does not exist).</summary>
    private static async Task<(CliResult Result, string[]? Left)> RestoreAsync(string from, string dataDirectory, bool exists = false)
    {
        using var target = new HeraldCommandLine(dataDirectory);
        if (!exists)
        {
            Directory.Delete(dataDirectory);
        }

        var result = await target.RunAsync("restore", "--from", from);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(DatabaseBackup.KeyNotIncluded, result.Error, StringComparison.Ordinal);
        return (result, Directory.Exists(dataDirectory) ? Directory.GetFileSystemEntries(dataDirectory) : null);
    }

    private static async Task<List<string>> ScopesAsync(string database)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        return [.. await connection.QueryAsync<string>("SELECT path FROM scopes")];
    }
}
