using System.Globalization;
using System.Text.RegularExpressions;

namespace Herald.Tests.Console;

/// <summary>
/// WCAG 2.x AA for the console's coloured text: every rule of console.css (as served) that sets
/// both a text colour and a background has a contrast of at least 4.5:1, and so does every
/// coloured text on the page and card backgrounds.
/// </summary>
public sealed partial class ConsoleContrastTests
{
    private const double AA = 4.5;

    [Fact]
    public void Every_rule_with_a_text_colour_and_a_background_reaches_aa_contrast()
    {
        var css = Stylesheet();
        var variables = Variables(css);

        var pairs = Rules(css)
            .Select(rule => (rule.Selector, Color: Property(rule.Body, "color", variables), Background: Property(rule.Body, "background", variables)))
            .Where(r => r.Color is not null && r.Background is not null)
            .ToArray();

        Assert.Contains(pairs, p => p.Selector == ".badge-good");
        Assert.All(pairs, p => Assert.True(Contrast(p.Color!, p.Background!) >= AA, $"{p.Selector}: {p.Color} on {p.Background} is {Contrast(p.Color!, p.Background!):0.00}:1"));
    }

    [Theory]
    [InlineData("--good")]
    [InlineData("--warn")]
    [InlineData("--bad")]
    [InlineData("--muted")]
    [InlineData("--brand")]
    public void Coloured_text_reaches_aa_contrast_on_the_page_and_on_a_card(string variable)
    {
        var variables = Variables(Stylesheet());

        foreach (var background in new[] { "--bg", "--surface" })
        {
            var contrast = Contrast(variables[variable], variables[background]);
            Assert.True(contrast >= AA, $"{variable} on {background}: {contrast:0.00}:1");
        }
    }

    private static string Stylesheet()
    {
        using var stream = typeof(Herald.Web.Console.ConsoleExtensions).Assembly.GetManifestResourceStream("Herald.Web.Console.console.css")!;
        using var reader = new StreamReader(stream);
        return CommentPattern().Replace(reader.ReadToEnd(), "");
    }

    private static Dictionary<string, string> Variables(string css) =>
        VariablePattern().Matches(css).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.ToLowerInvariant(), StringComparer.Ordinal);

    private static IEnumerable<(string Selector, string Body)> Rules(string css) =>
        RulePattern().Matches(css).Select(m => (m.Groups[1].Value.Trim(), m.Groups[2].Value));

    /// <summary>The colour a declaration gives, resolved through the variables; null when the
    /// rule does not set it, or sets it to something other than one colour.</summary>
    private static string? Property(string body, string name, Dictionary<string, string> variables)
    {
        var match = Regex.Match(body, $@"(?:^|;)\s*{name}\s*:\s*([^;]+)");
        if (!match.Success)
        {
            return null;
        }

        var value = match.Groups[1].Value.Trim();
        if (VarPattern().Match(value) is { Success: true } reference)
        {
            value = variables.GetValueOrDefault(reference.Groups[1].Value, "");
        }

        return HexPattern().IsMatch(value) ? value.ToLowerInvariant() : null;
    }

    private static double Contrast(string a, string b)
    {
        var (la, lb) = (Luminance(a), Luminance(b));
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }

    private static double Luminance(string hex)
    {
        hex = hex.TrimStart('#');
        if (hex.Length == 3)
        {
            hex = string.Concat(hex.Select(c => $"{c}{c}"));
        }

        double Channel(int i)
        {
            var c = int.Parse(hex.AsSpan(i * 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture) / 255.0;
            return c <= 0.03928 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        }

        return (0.2126 * Channel(0)) + (0.7152 * Channel(1)) + (0.0722 * Channel(2));
    }

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentPattern();

    [GeneratedRegex(@"(--[a-z-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b")]
    private static partial Regex VariablePattern();

    [GeneratedRegex(@"([^{}]+)\{([^{}]*)\}")]
    private static partial Regex RulePattern();

    [GeneratedRegex(@"^var\((--[a-z-]+)\)$")]
    private static partial Regex VarPattern();

    [GeneratedRegex(@"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]
    private static partial Regex HexPattern();
}
