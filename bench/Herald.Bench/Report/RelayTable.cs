using System.Globalization;
using System.Text;

namespace Herald.Bench.Report;

/// <summary>The relay benchmark's figures: a row per relay, Herald's rates over Postfix's whichever
/// ran first, and a note per relay for anything that did not go through.</summary>
internal static class RelayTable
{
    private static readonly string[] Headings = ["relay", "messages", "delivered", "accepting", "msgs/s accepted", "end to end", "msgs/s e2e"];

    public static string Format(IReadOnlyList<RelayFigures> runs)
    {
        var rows = new List<string[]> { Headings };
        rows.AddRange(runs.Select(r => new[]
        {
            r.Relay,
            ResultTable.Count(r.Offered),
            ResultTable.Count(r.Delivered),
            r.Source.AllAccepted ? Seconds(r.Source.Elapsed) : "failed",
            Rate(r.AcceptedPerSecond),
            r.EndToEnd is { } e ? Seconds(e) : "-",
            Rate(r.MessagesPerSecond),
        }));

        var text = new StringBuilder(TextTable.Format(rows, textColumns: 1));
        var herald = runs.FirstOrDefault(r => r.Relay.StartsWith("Herald", StringComparison.Ordinal));
        var other = runs.FirstOrDefault(r => r != herald);
        if (runs.Count == 2 && herald is not null && other is not null && Ratio(herald.MessagesPerSecond, other.MessagesPerSecond) is { } endToEnd)
        {
            text.AppendLine();
            text.Append(CultureInfo.InvariantCulture, $"{herald.Relay} / {other.Relay}: {endToEnd:0.00}× end to end");
            text.AppendLine(Ratio(herald.AcceptedPerSecond, other.AcceptedPerSecond) is { } accepted
                ? string.Create(CultureInfo.InvariantCulture, $", {accepted:0.00}× accepted.")
                : ".");
        }

        var notes = runs.Where(r => r.EndToEnd is null).Select(r => $"{r.Relay}: not fully delivered: {RelayBenchmark.Describe(r)}").ToArray();
        if (notes.Length > 0)
        {
            text.AppendLine();
            foreach (var note in notes)
            {
                text.AppendLine(note);
            }
        }

        return text.ToString();
    }

    public static double? Ratio(double? numerator, double? denominator) =>
        numerator is { } n && denominator is { } d && d > 0 ? n / d : null;

    private static string Rate(double? perSecond) => perSecond is { } rate ? rate.ToString("#,0", CultureInfo.InvariantCulture) : "-";

    private static string Seconds(TimeSpan elapsed) => elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";
}
