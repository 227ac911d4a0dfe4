using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Herald.Outbox;

/// <summary>
/// Delivery metrics, named in one place: published as .NET metrics (meter <c>Herald.Delivery</c>)
/// and kept as running totals for the Prometheus endpoint.
/// </summary>
public sealed class DeliveryMetrics
{
    public const string MeterName = "Herald.Delivery";

    /// <summary>Upper bounds (seconds) of the delivery-latency histogram buckets.</summary>
    public static readonly double[] LatencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400];

    private readonly Counter<long> _recipients;
    private readonly Histogram<double> _latency;
    private readonly ConcurrentDictionary<(string State, string Connection), long> _totals = new();
    private readonly ConcurrentDictionary<string, LatencyHistogram> _latencies = new(StringComparer.Ordinal);

    public DeliveryMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _recipients = meter.CreateCounter<long>("herald.recipients", description: "Recipients whose delivery attempt ended in a state (sent, deferred, bounced, expired).");
        _latency = meter.CreateHistogram<double>("herald.delivery.latency", unit: "s", description: "From acceptance into the outbox to the smart host's 250.");
    }

    public void Recipient(string state, string connection)
    {
        _recipients.Add(1, new("state", state), new("connection", connection));
        _totals.AddOrUpdate((state, connection), 1, (_, n) => n + 1);
    }

    public void Delivered(string connection, TimeSpan latency)
    {
        _latency.Record(latency.TotalSeconds, new KeyValuePair<string, object?>("connection", connection));
        _latencies.GetOrAdd(connection, _ => new LatencyHistogram()).Record(latency.TotalSeconds);
    }

    public IEnumerable<KeyValuePair<(string State, string Connection), long>> Totals => _totals;

    public IEnumerable<KeyValuePair<string, LatencyHistogram>> Latencies => _latencies;

    /// <summary>A cumulative histogram over <see cref="LatencyBuckets"/>.</summary>
    public sealed class LatencyHistogram
    {
        private readonly long[] _counts = new long[LatencyBuckets.Length + 1];
        private long _sumMicroseconds;

        public void Record(double seconds)
        {
            var bucket = Array.FindIndex(LatencyBuckets, bound => seconds <= bound);
            Interlocked.Increment(ref _counts[bucket < 0 ? LatencyBuckets.Length : bucket]);
            Interlocked.Add(ref _sumMicroseconds, (long)(seconds * 1_000_000));
        }

        /// <summary>Count at or below each bound, then the total (le="+Inf"), and the sum in seconds.</summary>
        public (long[] Cumulative, double Sum) Snapshot()
        {
            var cumulative = new long[_counts.Length];
            long running = 0;
            for (var i = 0; i < _counts.Length; i++)
            {
                running += Interlocked.Read(ref _counts[i]);
                cumulative[i] = running;
            }

            return (cumulative, Interlocked.Read(ref _sumMicroseconds) / 1_000_000.0);
        }
    }
}
