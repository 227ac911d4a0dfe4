using Herald.Testing;

namespace Herald.Tests.Docs;

/// <summary>
/// docs/troubleshooting.md quotes Herald's sentences (one per <c>&gt;</c> line, <c>…</c> for the
/// parts that vary) and says what to do about each; a sentence the code no longer writes would
/// send an administrator looking for a problem Herald cannot have.
/// </summary>
public sealed class TroubleshootingTests
{
    /// <summary>Shorter pieces between two variable parts (": ", " of ") say nothing about which
    /// sentence it is.</summary>
    private const int MeaningfulFragment = 12;

    [Fact]
    public void Every_quoted_sentence_is_one_the_code_writes()
    {
        var source = string.Join('\n', Repository.Files("src", "*.cs").Select(File.ReadAllText));
        var quotes = File.ReadLines(Repository.PathOf("docs", "troubleshooting.md"))
            .Where(line => line.StartsWith("> ", StringComparison.Ordinal))
            // A URL in a sentence is quoted as code, so that it is not a link to check.
            .Select(line => line[2..].Replace("`", "", StringComparison.Ordinal).Trim())
            .ToList();
        Assert.True(quotes.Count >= 20, $"docs/troubleshooting.md quotes {quotes.Count} sentences");

        var stale = new List<string>();
        foreach (var quote in quotes)
        {
            var fragments = quote.Split('…', StringSplitOptions.TrimEntries)
                .Where(f => f.Length >= MeaningfulFragment)
                .ToList();
            if (fragments.Count == 0)
            {
                stale.Add($"{quote}  (nothing long enough to look for between the '…')");
            }
            else if (fragments.FirstOrDefault(f => !source.Contains(f, StringComparison.Ordinal)) is { } missing)
            {
                stale.Add($"{quote}  (the code has no \"{missing}\")");
            }
        }

        Assert.True(stale.Count == 0, "docs/troubleshooting.md quotes sentences the code does not write:\n" + string.Join('\n', stale));
    }
}
