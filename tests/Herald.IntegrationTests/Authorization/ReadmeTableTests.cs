using System.Text;
using Herald.Testing;

namespace Herald.IntegrationTests.Authorization;

/// <summary>The README's "Who may do what" table is the matrix's rules, generated: when a rule
/// changes, so must the README (run with HERALD_UPDATE_README=1 to rewrite it).</summary>
public sealed class ReadmeTableTests
{
    private const string Start = "<!-- authorization-matrix: generated from tests/Herald.IntegrationTests/Authorization; do not edit by hand -->";
    private const string End = "<!-- /authorization-matrix -->";

    [Fact]
    public void The_readme_table_of_who_may_do_what_is_the_matrix()
    {
        var path = Path.Combine(Repository.Root, "README.md");
        var readme = File.ReadAllText(path);
        var generated = Table();
        var start = readme.IndexOf(Start, StringComparison.Ordinal);
        var end = readme.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"README.md has no generated table between\n{Start}\nand\n{End}");
        var current = readme[(start + Start.Length)..end];
        if (current != generated && Environment.GetEnvironmentVariable("HERALD_UPDATE_README") == "1")
        {
            File.WriteAllText(path, readme[..(start + Start.Length)] + generated + readme[end..]);
            return;
        }

        Assert.True(current == generated, $"README.md's table of who may do what differs from the matrix's rules (HERALD_UPDATE_README=1 rewrites it). The matrix says:\n{generated}");
    }

    /// <summary>One row per operation: who may, and what a refusal answers.</summary>
    internal static string Table()
    {
        var text = new StringBuilder("\n");
        text.Append(MatrixSize.Describe()).Append("\n\n");
        text.Append("| Door | Operation | Who may | Refused with |\n| --- | --- | --- | --- |\n");
        foreach (var (door, cases) in new[] { ("API", ApiMatrix.Cases), ("Console", ConsoleMatrix.Cases) })
        {
            foreach (var route in cases.GroupBy(c => c.Route))
            {
                var variants = route.ToArray();
                var who = variants.Length == 1
                    ? variants[0].Policy.Who
                    : string.Join("; ", variants.Select(v => $"{v.Variant}: {v.Policy.Who}"));
                var refusals = string.Join("; ", variants.Select(v => v.Policy.Refusal).Where(r => r.Length > 0).Distinct());
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $"| {door} | `{route.Key}` | {who} | {(refusals.Length == 0 ? "—" : refusals)} |\n");
            }
        }

        return text.ToString();
    }

}
