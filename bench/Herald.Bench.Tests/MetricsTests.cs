using Herald.Bench.Metrics;

namespace Herald.Bench.Tests;

public sealed class MetricsTests
{
    private const string Exposition = """
        # HELP herald_delivery_latency_seconds Acceptance to the upstream's 250.
        # TYPE herald_delivery_latency_seconds histogram
        herald_delivery_latency_seconds_bucket{connection="default",le="0.01"} 10
        herald_delivery_latency_seconds_bucket{connection="default",le="0.1"} 60
        herald_delivery_latency_seconds_bucket{connection="default",le="1"} 90
        herald_delivery_latency_seconds_bucket{connection="default",le="+Inf"} 100
        herald_delivery_latency_seconds_sum{connection="default"} 12.5
        herald_delivery_latency_seconds_count{connection="default"} 100
        herald_delivery_latency_seconds_bucket{connection="hr",le="0.01"} 0
        herald_delivery_latency_seconds_bucket{connection="hr",le="0.1"} 0
        herald_delivery_latency_seconds_bucket{connection="hr",le="1"} 0
        herald_delivery_latency_seconds_bucket{connection="hr",le="+Inf"} 0
        herald_delivery_latency_seconds_sum{connection="hr"} 0
        herald_delivery_latency_seconds_count{connection="hr"} 0
        # TYPE herald_recipients_total counter
        herald_recipients_total{state="sent",note="a \"quoted\", value\\with\nescapes"} 95 1700000000000
        herald_recipients_total{state="deferred"} 5
        process_uptime_seconds 3.5e+01
        # EOF
        """;

    [Fact]
    public void Samples_with_labels_escapes_timestamps_and_exponents_are_parsed()
    {
        var samples = PrometheusText.Parse(Exposition);

        var sent = Assert.Single(samples, s => s.Name == "herald_recipients_total" && s.Labels["state"] == "sent");
        Assert.Equal(95, sent.Value);
        Assert.Equal("a \"quoted\", value\\with\nescapes", sent.Labels["note"]);
        Assert.Equal(35, Assert.Single(samples, s => s.Name == "process_uptime_seconds").Value);
        Assert.Equal(double.PositiveInfinity, PrometheusText.Number(samples.First(s => s.Labels.GetValueOrDefault("le") == "+Inf").Labels["le"]));
    }

    [Fact]
    public void A_histogram_is_summed_over_its_label_sets_and_read_like_histogram_quantile()
    {
        var histogram = MetricsSnapshot.Parse(Exposition).Histogram(MetricsSnapshot.DeliveryLatency);

        Assert.Equal(100, histogram.Count);
        Assert.Equal([(0.01, 10.0), (0.1, 60.0), (1.0, 90.0), (double.PositiveInfinity, 100.0)], histogram.Buckets);
        // Rank 50 falls in (0.01, 0.1] holding 10..60: 0.01 + 0.09 * 40/50.
        Assert.Equal(0.082, histogram.Estimate(0.5)!.Value.Seconds, 6);
        Assert.False(histogram.Estimate(0.5)!.Value.BeyondLastBucket);
        // Rank 5 in the first bucket, interpolated from 0.
        Assert.Equal(0.005, histogram.Estimate(0.05)!.Value.Seconds, 6);
        // Rank 99 is in +Inf: only "above 1 s" is known.
        Assert.Equal(new Quantile(1.0, BeyondLastBucket: true), histogram.Estimate(0.99));
    }

    [Fact]
    public void The_figures_of_a_run_are_the_difference_between_two_snapshots()
    {
        var before = MetricsSnapshot.Parse("""
            herald_delivery_latency_seconds_bucket{le="0.01"} 10
            herald_delivery_latency_seconds_bucket{le="0.1"} 10
            herald_delivery_latency_seconds_bucket{le="+Inf"} 10
            herald_delivery_latency_seconds_count 10
            herald_recipients_total{state="sent"} 10
            """);
        var after = MetricsSnapshot.Parse("""
            herald_delivery_latency_seconds_bucket{le="0.01"} 10
            herald_delivery_latency_seconds_bucket{le="0.1"} 30
            herald_delivery_latency_seconds_bucket{le="+Inf"} 30
            herald_delivery_latency_seconds_count 30
            herald_recipients_total{state="sent"} 28
            herald_recipients_total{state="bounced"} 2
            """);

        var run = after.Histogram(MetricsSnapshot.DeliveryLatency).Since(before.Histogram(MetricsSnapshot.DeliveryLatency));

        Assert.Equal(20, run.Count);
        Assert.Equal(0.055, run.Estimate(0.5)!.Value.Seconds, 6);
        Assert.Null(Histogram.Empty.Estimate(0.5));
        Assert.Equal(18, after.Counter(MetricsSnapshot.Recipients, "state", "sent") - before.Counter(MetricsSnapshot.Recipients, "state", "sent"));
        Assert.Equal(2, after.CounterBy(MetricsSnapshot.Recipients, "state")["bounced"]);
    }

    [Theory]
    [InlineData("herald_x{le=\"1\" 3")]
    [InlineData("herald_x{le=1} 3")]
    [InlineData("herald_x{le=\"1\"}")]
    public void Malformed_lines_are_a_format_error(string line) =>
        Assert.Throws<FormatException>(() => PrometheusText.Parse(line));
}
