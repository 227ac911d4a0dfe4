using System.Globalization;
using System.Text;

namespace Herald.Bench.Metrics;

/// <summary>One sample line: <c>name{label="value",…} value [timestamp]</c>.</summary>
internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>The Prometheus text exposition format (version 0.0.4; OpenMetrics text reads the same
/// for what is used here). Comments (# HELP, # TYPE, # EOF) and blank lines are skipped.</summary>
internal static class PrometheusText
{
    public static IReadOnlyList<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            samples.Add(ParseLine(line));
        }

        return samples;
    }

    private static Sample ParseLine(string line)
    {
        var position = 0;
        while (position < line.Length && line[position] is not ('{' or ' ' or '\t'))
        {
            position++;
        }

        var name = line[..position];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (position < line.Length && line[position] == '{')
        {
            position++;
            while (true)
            {
                SkipSpaces(line, ref position);
                if (Expect(line, position) == '}')
                {
                    position++;
                    break;
                }

                var equals = line.IndexOf('=', position);
                if (equals < 0)
                {
                    throw new FormatException($"A label without '=' in: {line}");
                }

                var label = line[position..equals].Trim();
                position = equals + 1;
                labels[label] = QuotedValue(line, ref position);
                SkipSpaces(line, ref position);
                if (Expect(line, position) == ',')
                {
                    position++;
                }
            }
        }

        var fields = line[position..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0)
        {
            throw new FormatException($"A sample without a value: {line}");
        }

        return new Sample(name, labels, Number(fields[0]));
    }

    private static string QuotedValue(string line, ref int position)
    {
        if (Expect(line, position) != '"')
        {
            throw new FormatException($"A label value that is not quoted in: {line}");
        }

        var value = new StringBuilder();
        for (position++; ; position++)
        {
            var c = Expect(line, position);
            if (c == '"')
            {
                position++;
                return value.ToString();
            }

            if (c == '\\')
            {
                position++;
                var escaped = Expect(line, position);
                value.Append(escaped == 'n' ? '\n' : escaped);
            }
            else
            {
                value.Append(c);
            }
        }
    }

    public static double Number(string text) => text switch
    {
        "+Inf" or "Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    private static char Expect(string line, int position) =>
        position < line.Length ? line[position] : throw new FormatException($"A sample line ends too early: {line}");

    private static void SkipSpaces(string line, ref int position)
    {
        while (position < line.Length && line[position] is ' ' or '\t')
        {
            position++;
        }
    }
}
