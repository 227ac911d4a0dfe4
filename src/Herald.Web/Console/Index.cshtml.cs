using System.Globalization;
using System.Text;
using Herald.Outbox;
using Herald.Settings;
using Herald.Work;

namespace Herald.Web.Console;

/// <summary>The dashboard: the last 24 hours of delivery in the administrator's scopes, drawn as
/// a server-rendered SVG chart, the queue's depth and the SMTP connections' health.</summary>
public sealed class IndexModel(IOutboxStatistics statistics, ISettingsStore settings, ConnectionHealth health, FailedWorkService failed, TimeProvider time) : ConsolePage
{
    public const int Hours = 24;

    private static readonly long[] Steps = [1, 2, 5, 10];

    public long Sent { get; private set; }

    public long Deferred { get; private set; }

    public long Bounced { get; private set; }

    public long QueuedNow { get; private set; }

    public long DeferredNow { get; private set; }

    public long QueueDepth => QueuedNow + DeferredNow;

    /// <summary>Quarantined messages, events and digests in the administrator's scopes.</summary>
    public FailedCounts Failed { get; private set; } = new(0, 0, 0);

    public string Chart { get; private set; } = "";

    public IReadOnlyList<SmtpConnection> Connections { get; private set; } = [];

    public IReadOnlyDictionary<string, ConnectionStatus> Failing => health.Failing;

    public async Task OnGetAsync()
    {
        var now = time.GetUtcNow();
        var firstHour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(1 - Hours);
        var counts = await statistics.CountAttemptsByHourAsync(Admin.Scope, firstHour, HttpContext.RequestAborted);
        var buckets = new (long Sent, long Deferred, long Bounced)[Hours];
        foreach (var count in counts)
        {
            var index = (int)((count.Hour - firstHour).Ticks / TimeSpan.TicksPerHour);
            if (index is < 0 or >= Hours)
            {
                continue;
            }

            buckets[index] = count.Outcome switch
            {
                RecipientState.Sent => buckets[index] with { Sent = buckets[index].Sent + count.Count },
                RecipientState.Deferred => buckets[index] with { Deferred = buckets[index].Deferred + count.Count },
                RecipientState.Bounced => buckets[index] with { Bounced = buckets[index].Bounced + count.Count },
                _ => buckets[index],
            };
        }

        Sent = buckets.Sum(b => b.Sent);
        Deferred = buckets.Sum(b => b.Deferred);
        Bounced = buckets.Sum(b => b.Bounced);
        var states = await statistics.CountByStateAsync(Admin.Scope, HttpContext.RequestAborted);
        QueuedNow = states.GetValueOrDefault(RecipientState.Queued);
        DeferredNow = states.GetValueOrDefault(RecipientState.Deferred);
        Chart = DrawChart(buckets, firstHour);
        Failed = (await failed.CountAsync(Caller, Admin.Scope, HttpContext.RequestAborted)).Value ?? Failed;
        if (Admin.IsGlobal)
        {
            Connections = await settings.ListConnectionsAsync(HttpContext.RequestAborted);
        }
    }

    /// <summary>Stacked bars, one per hour; the text alternative gives the totals.</summary>
    private string DrawChart((long Sent, long Deferred, long Bounced)[] buckets, DateTimeOffset firstHour)
    {
        const int Width = 720, Height = 220, Left = 44, Bottom = 28, Top = 10, Right = 8;
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        var max = Math.Max(1, buckets.Max(b => b.Sent + b.Deferred + b.Bounced));
        var scaleMax = NiceCeiling(max);
        var svg = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        svg.Append(c, $"<svg viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-labelledby=\"chart-title\" class=\"chart-svg\">");
        svg.Append(c, $"<title id=\"chart-title\">Deliveries per hour over the last 24 hours: {Sent} sent, {Deferred} deferred, {Bounced} bounced.</title>");
        for (var i = 0; i <= 4; i++)
        {
            var value = scaleMax * i / 4;
            var y = Top + plotHeight - (plotHeight * i / 4.0);
            svg.Append(c, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" class=\"grid\"/>");
            svg.Append(c, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" class=\"axis\" text-anchor=\"end\">{value}</text>");
        }

        var slot = plotWidth / (double)buckets.Length;
        var barWidth = slot * 0.7;
        for (var i = 0; i < buckets.Length; i++)
        {
            var x = Left + (i * slot) + ((slot - barWidth) / 2);
            var y = (double)(Top + plotHeight);
            foreach (var (count, css) in new[] { (buckets[i].Sent, "bar-sent"), (buckets[i].Deferred, "bar-deferred"), (buckets[i].Bounced, "bar-bounced") })
            {
                if (count == 0)
                {
                    continue;
                }

                var h = plotHeight * count / (double)scaleMax;
                y -= h;
                svg.Append(c, $"<rect x=\"{x:0.##}\" y=\"{y:0.##}\" width=\"{barWidth:0.##}\" height=\"{h:0.##}\" class=\"{css}\"><title>{firstHour.AddHours(i):HH}:00 · {count} {css[4..]}</title></rect>");
            }

            if (i % 3 == 0)
            {
                svg.Append(c, $"<text x=\"{x + (barWidth / 2):0.#}\" y=\"{Height - 8}\" class=\"axis\" text-anchor=\"middle\">{firstHour.AddHours(i):HH}:00</text>");
            }
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>The axis top: four gridlines at a round step (1, 2 or 5 times a power of ten).</summary>
    private static long NiceCeiling(long value)
    {
        var raw = Math.Max(1, (value + 3) / 4);
        var magnitude = (long)Math.Pow(10, Math.Floor(Math.Log10(raw)));
        return Steps.Select(s => s * magnitude).First(s => s >= raw) * 4;
    }
}
