using System.Globalization;
using System.Text.RegularExpressions;

namespace Herald.IntegrationTests.Observability;

/// <summary>One sample of the Prometheus text format: <c>name{label="value",…} 1</c>.</summary>
internal sealed partial record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    /// <summary>The samples of a scrape; comments (<c># HELP</c>, <c># TYPE</c>) are left out.</summary>
    public static IReadOnlyList<Sample> Parse(string exposition) =>
        exposition.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith('#'))
            .Select(line =>
            {
                var match = Line().Match(line);
                Assert.True(match.Success, $"Not a sample of the Prometheus text format: {line}");
                var labels = LabelPair().Matches(match.Groups["labels"].Value)
                    .ToDictionary(l => l.Groups["name"].Value, l => Regex.Unescape(l.Groups["value"].Value), StringComparer.Ordinal);
                return new Sample(match.Groups["name"].Value, labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture));
            })
            .ToArray();

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)( \d+)?$""")]
    private static partial Regex Line();

    [GeneratedRegex("""(?<name>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(\\.|[^"\\])*)",?""")]
    private static partial Regex LabelPair();
}
