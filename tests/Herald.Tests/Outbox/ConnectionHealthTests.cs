using Herald.Outbox;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Outbox;

/// <summary>The circuit breaker of each SMTP connection, on a fake clock.</summary>
public sealed class ConnectionHealthTests
{
    private const string Smarthost = "/:default";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));

    private ConnectionHealth Health(int failuresBeforeDown = 3, params TimeSpan[] probeIntervals) =>
        new(Options.Create(new DeliveryOptions { FailuresBeforeDown = failuresBeforeDown, ProbeIntervals = probeIntervals }), _time);

    [Fact]
    public void A_connection_is_down_after_the_configured_failures_in_a_row_and_not_before()
    {
        var health = Health(failuresBeforeDown: 3);

        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);
        Assert.False(health.IsDown(Smarthost));
        Assert.Empty(health.Down);
        Assert.Empty(health.Failing);

        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);

        Assert.True(health.IsDown(Smarthost));
        Assert.Equal([Smarthost], health.Down);
        var status = health.Failing[Smarthost];
        Assert.Equal("Connection refused.", status.Problem);
        Assert.Equal(3, status.Failures);
        Assert.Equal(_time.GetUtcNow(), status.DownSince);
    }

    [Fact]
    public void A_success_between_failures_starts_the_count_again()
    {
        var health = Health(failuresBeforeDown: 3);

        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);
        health.ReportSuccess(Smarthost);
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);

        Assert.False(health.IsDown(Smarthost));
    }

    [Fact]
    public void Other_connections_are_not_affected()
    {
        var health = Health(failuresBeforeDown: 1);

        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);

        Assert.True(health.IsDown(Smarthost));
        Assert.False(health.IsDown("/hr:hr"));
        Assert.Equal([Smarthost], health.Down);
    }

    [Fact]
    public void A_down_connection_is_probed_once_at_a_time_at_growing_intervals()
    {
        var health = Health(1, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30));
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);

        // First probe 5 s after the connection went down.
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.Empty(health.BeginDueProbes());
        Assert.Equal(TimeSpan.FromSeconds(1), health.UntilNextProbe());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([Smarthost], health.BeginDueProbes());

        // One probe at a time: while it runs, the connection is not handed out again.
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(health.BeginDueProbes());
        Assert.Null(health.UntilNextProbe());

        // It failed: the next one waits 10 s, then 30 s, and 30 s from then on.
        health.ProbeFailed(Smarthost, "Connection refused.");
        Assert.Equal(TimeSpan.FromSeconds(10), health.UntilNextProbe());
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(health.BeginDueProbes());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([Smarthost], health.BeginDueProbes());
        health.ProbeFailed(Smarthost, "Connection refused.");
        Assert.Equal(TimeSpan.FromSeconds(30), health.UntilNextProbe());
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal([Smarthost], health.BeginDueProbes());
        health.ProbeFailed(Smarthost, "Connection timed out.");
        Assert.Equal(TimeSpan.FromSeconds(30), health.UntilNextProbe());

        var status = health.Failing[Smarthost];
        Assert.True(status.Down);
        Assert.Equal(3, status.FailedProbes);
        Assert.Equal("Connection timed out.", status.Problem);
    }

    [Fact]
    public void A_successful_probe_brings_the_connection_back()
    {
        var health = Health(1, TimeSpan.FromSeconds(5));
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal([Smarthost], health.BeginDueProbes());

        health.ReportSuccess(Smarthost);

        Assert.False(health.IsDown(Smarthost));
        Assert.Empty(health.Down);
        Assert.Empty(health.Failing);
        Assert.Null(health.UntilNextProbe());

        // Back to counting from zero: one failure takes it down again (the threshold here is 1).
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);
        Assert.Equal(1, health.Failing[Smarthost].Failures);
    }

    [Fact]
    public void A_configuration_failure_is_shown_at_once_and_the_connection_goes_down_at_the_threshold()
    {
        var health = Health(failuresBeforeDown: 3);

        health.ReportFailure(Smarthost, "The server refused authentication as 'alerts'.", configuration: true);

        Assert.False(health.IsDown(Smarthost));
        Assert.Equal("The server refused authentication as 'alerts'.", health.Failing[Smarthost].Problem);

        health.ReportFailure(Smarthost, "The server refused authentication as 'alerts'.", configuration: true);
        health.ReportFailure(Smarthost, "The server refused authentication as 'alerts'.", configuration: true);
        Assert.True(health.IsDown(Smarthost));
    }

    [Fact]
    public void Without_configured_intervals_the_default_schedule_applies()
    {
        var health = Health(failuresBeforeDown: 1);
        health.ReportFailure(Smarthost, "Connection refused.", configuration: false);

        foreach (var interval in DeliveryOptions.DefaultProbeIntervals.Append(DeliveryOptions.DefaultProbeIntervals[^1]))
        {
            Assert.Equal(interval, health.UntilNextProbe());
            _time.Advance(interval);
            Assert.Equal([Smarthost], health.BeginDueProbes());
            health.ProbeFailed(Smarthost, "Connection refused.");
        }
    }
}
