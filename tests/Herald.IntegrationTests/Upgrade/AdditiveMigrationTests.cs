using System.Text.RegularExpressions;
using Herald.Testing;

namespace Herald.IntegrationTests.Upgrade;

/// <summary>
/// A farm upgrades one node at a time, so a node of the previous release keeps running on a
/// database the next one has migrated: migrations add tables, columns and indexes, and never
/// drop or rename what an older node reads or writes. The exceptions are listed here with the
/// reason; docs/backup-and-upgrade.md says what each one means for a rolling upgrade.
/// </summary>
public sealed partial class AdditiveMigrationTests
{
    /// <summary>Migrations that remove or rename something, and why that was accepted.</summary>
    private static readonly Dictionary<string, string> NotAdditive = new(StringComparer.Ordinal)
    {
        // Event ids became unique per scope: the primary key of notification_events changes
        // (SQLite rebuilds the table through a renamed copy) and digest_items, which named an
        // event by id alone, is replaced by digest_events. Its header says what an older node
        // does meanwhile (POST /api/v1/events answers 500, digests wait for upgraded nodes).
        ["sqlite/0008_event_ids_per_scope.sql"] = "event ids per scope",
        ["postgres/0008_event_ids_per_scope.sql"] = "event ids per scope",
    };

    public static TheoryData<string> Migrations => [.. Files().Select(f => f.Name)];

    [Theory]
    [MemberData(nameof(Migrations))]
    public void Every_migration_only_adds_unless_it_is_listed_with_its_reason(string migration)
    {
        var removals = Removals(File.ReadAllText(Files().Single(f => f.Name == migration).Path));

        if (NotAdditive.ContainsKey(migration))
        {
            // The list stays honest: an entry that no longer removes anything is dropped from it.
            Assert.NotEmpty(removals);
        }
        else
        {
            Assert.True(removals.Count == 0, $"{migration} is not additive ({string.Join("; ", removals)}): a node of the previous release may still use what it removes. Make it additive, or list it here with the reason and say in docs/backup-and-upgrade.md which nodes must be upgraded first.");
        }
    }

    [Fact]
    public void The_check_finds_drops_and_renames_in_statements_but_not_in_comments()
    {
        Assert.Empty(Removals("-- DROP TABLE x\nALTER TABLE t ADD COLUMN c TEXT; CREATE INDEX i ON t (c);"));
        Assert.Equal(4, Removals("DROP TABLE x;\nALTER TABLE t RENAME TO u;\nALTER TABLE t DROP COLUMN c;\nALTER TABLE t\n  ALTER COLUMN c TYPE BIGINT;").Count);
    }

    private static IEnumerable<(string Name, string Path)> Files()
    {
        var root = Path.Combine(Repository.Root, "src", "Herald.Storage", "Migrations");
        return Directory.EnumerateFiles(root, "*.sql", SearchOption.AllDirectories)
            .Select(path => (Path.GetRelativePath(root, path).Replace('\\', '/'), path))
            .Order();
    }

    private static List<string> Removals(string sql)
    {
        var statements = LineComment().Replace(sql, "");
        return [.. Removal().Matches(statements).Select(m => Whitespace().Replace(m.Value, " "))];
    }

    [GeneratedRegex("--[^\n]*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\bDROP\s+(TABLE|COLUMN|VIEW|CONSTRAINT)\b[^;]*|\bRENAME\b[^;]*|\bALTER\s+COLUMN\b[^;]*\bTYPE\b[^;]*", RegexOptions.IgnoreCase)]
    private static partial Regex Removal();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
