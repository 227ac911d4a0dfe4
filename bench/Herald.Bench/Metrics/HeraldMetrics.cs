using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace Herald.Bench.Metrics;

/// <summary>A quantile read from a histogram.</summary>
/// <param name="Seconds">The estimate (linear within the bucket it falls in, as PromQL's
/// histogram_quantile does).</param>
/// <param name="BeyondLastBucket">It fell in the +Inf bucket: the true value is above <paramref name="Seconds"/>.</param>
internal readonly record struct Quantile(double Seconds, bool BeyondLastBucket);

/// <summary>A Prometheus histogram, summed over every label set but <c>le</c>.</summary>
/// <param name="Buckets">Upper bounds (ending with +Inf) and the cumulative count at or below each.</param>
internal sealed record Histogram(IReadOnlyList<(double UpperBound, double Cumulative)> Buckets, double Count, double Sum)
{
    public static Histogram Empty { get; } = new([], 0, 0);

    /// <summary>What was observed between an earlier snapshot and this one.</summary>
    public Histogram Since(Histogram earlier)
    {
        var before = earlier.Buckets.ToDictionary(b => b.UpperBound, b => b.Cumulative);
        return new Histogram(
            [.. Buckets.Select(b => (b.UpperBound, b.Cumulative - before.GetValueOrDefault(b.UpperBound)))],
            Count - earlier.Count,
            Sum - earlier.Sum);
    }

    /// <summary>The q-quantile (0–1); null when nothing was observed.</summary>
    public Quantile? Estimate(double q)
    {
        var total = Buckets.Count > 0 ? Buckets[^1].Cumulative : 0;
        if (total <= 0)
        {
            return null;
        }

        var rank = q * total;
        var (lowerBound, lowerCount) = (0.0, 0.0);
        foreach (var (upperBound, cumulative) in Buckets)
        {
            if (cumulative >= rank && cumulative > lowerCount)
            {
                return double.IsPositiveInfinity(upperBound)
                    ? new Quantile(lowerBound, BeyondLastBucket: true)
                    : new Quantile(lowerBound + ((upperBound - lowerBound) * (rank - lowerCount) / (cumulative - lowerCount)), false);
            }

            (lowerBound, lowerCount) = (upperBound, cumulative);
        }

        return new Quantile(lowerBound, BeyondLastBucket: true);
    }
}

/// <summary>The figures the benchmark reads from <c>GET /metrics</c> at one moment.</summary>
internal sealed class MetricsSnapshot(IReadOnlyList<Sample> samples)
{
    public const string DeliveryLatency = "herald_delivery_latency_seconds";
    public const string Recipients = "herald_recipients_total";

    public static MetricsSnapshot Parse(string text) => new(PrometheusText.Parse(text));

    public Histogram Histogram(string name)
    {
        var buckets = samples
            .Where(s => s.Name == name + "_bucket" && s.Labels.ContainsKey("le"))
            .GroupBy(s => PrometheusText.Number(s.Labels["le"]))
            .Select(g => (UpperBound: g.Key, Cumulative: g.Sum(s => s.Value)))
            .OrderBy(b => b.UpperBound)
            .ToArray();
        return new Histogram(buckets, Total(name + "_count"), Total(name + "_sum"));
    }

    /// <summary>A counter summed over its label sets, optionally only those with label=value.</summary>
    public double Counter(string name, string? label = null, string? value = null) =>
        samples.Where(s => s.Name == name && (label is null || (s.Labels.TryGetValue(label, out var v) && v == value))).Sum(s => s.Value);

    /// <summary>Each value of <paramref name="label"/> on the counter, with its total.</summary>
    public IReadOnlyDictionary<string, double> CounterBy(string name, string label) =>
        samples.Where(s => s.Name == name && s.Labels.ContainsKey(label))
            .GroupBy(s => s.Labels[label], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(s => s.Value), StringComparer.Ordinal);

    private double Total(string name) => samples.Where(s => s.Name == name).Sum(s => s.Value);
}

/// <summary>Reads <c>GET /metrics</c> with an administrator's API key.</summary>
internal sealed class MetricsClient(HttpClient http, Uri baseAddress, string adminKey)
{
    /// <summary>The snapshot, or null with the reason when the node has no usable /metrics.</summary>
    public async Task<(MetricsSnapshot? Snapshot, string? Problem)> ReadAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseAddress, "metrics"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return response.StatusCode == HttpStatusCode.OK
                ? (MetricsSnapshot.Parse(body), null)
                : (null, $"GET /metrics answered {(int)response.StatusCode}");
        }
        catch (HttpRequestException e)
        {
            return (null, "GET /metrics failed: " + e.Message);
        }
        catch (FormatException e)
        {
            return (null, "GET /metrics is not Prometheus text: " + e.Message);
        }
    }

    public static string Describe(IReadOnlyDictionary<string, double> counts) =>
        string.Join(", ", counts.Where(c => c.Value != 0).OrderBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => $"{c.Key} {c.Value.ToString("0", CultureInfo.InvariantCulture)}"));
}
