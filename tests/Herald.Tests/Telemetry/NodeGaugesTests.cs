using System.Diagnostics.Metrics;
using Herald.Outbox;
using Herald.Telemetry;
using Herald.Tests.Outbox;
using Herald.Tests.Work;
using Herald.Work;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Telemetry;

/// <summary>The gauges that read the database read it once per collection, not once per gauge
/// (the twin: Observability/MetricsTests scrapes a real <c>herald serve</c>).</summary>
public sealed class NodeGaugesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_collection_reads_the_outbox_once_for_every_gauge_and_a_scrape_reads_it_afresh()
    {
        var time = Eventually.Clock();
        await using var node = await DeliveryNode.StartAsync(time);
        var (outbox, counter) = CountingProxy.Wrap(node.Outbox);
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = meters.GetRequiredService<IMeterFactory>();
        var gauges = new NodeGauges(factory, outbox, node.Services.GetRequiredService<FailedWorkService>(), node.Services.GetRequiredService<ConnectionHealth>(), time);
        var seen = new List<(string Instrument, long Value, string Label)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == factory)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => seen.Add((instrument.Name, value, $"{tags[0].Value}")));
        listener.Start();
        var reads = () => counter.Calls(nameof(IOutboxStore.CountByStateAsync));

        listener.RecordObservableInstruments();
        listener.RecordObservableInstruments();

        Assert.Equal(1, reads());
        // One measurement per recipient state, in each of the two collections.
        Assert.Equal(Enum.GetValues<RecipientState>().Length * 2, seen.Count(s => s.Instrument == "herald.outbox.recipients"));
        Assert.Equal(["digest", "event", "message"], seen.Where(s => s.Instrument == "herald.failed.items").Select(s => s.Label).Distinct().Order(StringComparer.Ordinal));

        // A scrape reads once before collecting; the collection then reads nothing more.
        await gauges.RefreshAsync(Ct);
        listener.RecordObservableInstruments();
        Assert.Equal(2, reads());

        // Without a scrape (an OTLP export), a snapshot older than its lifetime is read again.
        time.Advance(NodeGauges.SnapshotLifetime);
        listener.RecordObservableInstruments();
        Assert.Equal(3, reads());
    }
}
