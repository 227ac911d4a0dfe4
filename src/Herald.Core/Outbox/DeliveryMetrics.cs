using System.Diagnostics.Metrics;
using Herald.Telemetry;

namespace Herald.Outbox;

/// <summary>
/// Delivery metrics on the <see cref="HeraldTelemetry.Name"/> meter. Their names are chosen so
/// that the Prometheus exposition (a <c>_total</c> suffix for counters, <c>_seconds</c> for the
/// unit) keeps the names dashboards have used since <c>/metrics</c> was hand-written:
/// <c>herald_recipients_total{state,connection}</c> and <c>herald_delivery_latency_seconds{connection}</c>.
/// </summary>
public sealed class DeliveryMetrics
{
    /// <summary>Upper bounds (seconds) of the delivery-latency histogram buckets: from a smart host
    /// on the same network to a message deferred for a day.</summary>
    public static readonly IReadOnlyList<double> LatencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400];

    private readonly Counter<long> _recipients;
    private readonly Histogram<double> _latency;

    public DeliveryMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(HeraldTelemetry.Name);
        _recipients = meter.CreateCounter<long>("herald.recipients", description: "Delivery attempts on this node by resulting recipient state and SMTP connection.");
        _latency = meter.CreateHistogram(
            "herald.delivery.latency",
            unit: "s",
            description: "From acceptance into the outbox to the smart host's 250, per SMTP connection.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
    }

    public void Recipient(string state, string connection, int count = 1) =>
        _recipients.Add(count, new("state", state), new("connection", connection));

    public void Delivered(string connection, TimeSpan latency) =>
        _latency.Record(latency.TotalSeconds, new KeyValuePair<string, object?>("connection", connection));
}
