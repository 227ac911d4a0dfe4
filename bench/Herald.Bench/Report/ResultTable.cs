using System.Globalization;
using System.Text;
using Herald.Bench.Metrics;

namespace Herald.Bench.Report;

/// <summary>The figures as a plain-text table, then a note per run for anything a reader must
/// know to trust them (failures, undelivered messages, an unreadable /metrics).</summary>
internal static class ResultTable
{
    private static readonly string[] Headings =
        ["engine", "run", "offered", "acked", "delivered", "msgs/s e2e", "ack p50", "ack p99", "delivery p50", "delivery p99"];

    public static string Format(IReadOnlyList<RunFigures> runs)
    {
        var rows = new List<string[]> { Headings };
        rows.AddRange(runs.Select(r => new[]
        {
            r.Engine,
            r.Run,
            Count(r.Offered),
            Count(r.Load.MessagesAccepted),
            Count(r.Delivered),
            r.MessagesPerSecond is { } rate ? rate.ToString("0", CultureInfo.InvariantCulture) : "-",
            Milliseconds(r.Load.LatencyPercentile(50)),
            Milliseconds(r.Load.LatencyPercentile(99)),
            Seconds(r.Delivery?.Estimate(0.50)),
            Seconds(r.Delivery?.Estimate(0.99)),
        }));

        var text = new StringBuilder(TextTable.Format(rows, textColumns: 2));

        var notes = runs.SelectMany(Notes).ToArray();
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

    private static IEnumerable<string> Notes(RunFigures run)
    {
        var name = $"{run.Engine} {run.Run.Split(':')[0]}";
        if (run.Load.MessagesFailed > 0)
        {
            var reasons = run.Load.Failures.OrderByDescending(f => f.Value).Take(3).Select(f => $"{Count(f.Value)} × {f.Key}");
            yield return $"{name}: {Count(run.Load.MessagesFailed)} message(s) not accepted: {string.Join("; ", reasons)}";
        }

        if (run.EndToEnd is null)
        {
            yield return $"{name}: not all accepted messages arrived; the sink stopped counting at {Count(run.Delivered)} of {Count(run.Load.MessagesAccepted)}.";
        }
        else if (run.Delivered > run.Load.MessagesAccepted)
        {
            yield return $"{name}: the sink counted {Count(run.Delivered - run.Load.MessagesAccepted)} message(s) more than were accepted (duplicates).";
        }
        else
        {
            yield return $"{name}: all {Count(run.Load.MessagesAccepted)} accepted messages arrived in {run.EndToEnd.Value.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s.";
        }

        if (run.Load.DispatchLag > TimeSpan.Zero)
        {
            yield return $"{name}: the load generator sent each request at most {Milliseconds(run.Load.DispatchLag.TotalMilliseconds)} after it was due.";
        }

        if (run.MetricsProblem is not null)
        {
            yield return $"{name}: no delivery latency: {run.MetricsProblem}.";
        }

        if (run.RecipientStates.Any(s => s.Value != 0))
        {
            yield return $"{name}: {MetricsSnapshot.Recipients} by state: {MetricsClient.Describe(run.RecipientStates)}.";
        }
    }

    public static string Count(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    public static string Milliseconds(double? milliseconds) => milliseconds switch
    {
        null => "-",
        < 10 => $"{milliseconds.Value.ToString("0.00", CultureInfo.InvariantCulture)} ms",
        < 1000 => $"{milliseconds.Value.ToString("0.0", CultureInfo.InvariantCulture)} ms",
        _ => $"{(milliseconds.Value / 1000).ToString("0.00", CultureInfo.InvariantCulture)} s",
    };

    public static string Seconds(Quantile? quantile) => quantile switch
    {
        null => "-",
        { BeyondLastBucket: true } q => "> " + Milliseconds(q.Seconds * 1000),
        { } q => Milliseconds(q.Seconds * 1000),
    };
}
