using System.Diagnostics;
using Herald.Bench.Processes;
using Herald.Bench.Upstream;

namespace Herald.Bench.Tests;

public sealed class SinkCounterTests
{
    [Fact]
    public void Counter_records_are_read_across_chunk_boundaries_and_carriage_returns()
    {
        var parser = new SinkCounterParser();

        var first = parser.Feed("sess=0 quit=0 mesg=1\rsess=1 qu");
        var second = parser.Feed("it=1 mesg=1\rsess=1 quit=1 mesg=");
        var third = parser.Feed("2\r");

        Assert.Equal([new SinkCounters(0, 0, 1)], first);
        Assert.Equal([new SinkCounters(1, 1, 1)], second);
        Assert.Equal([new SinkCounters(1, 1, 2)], third);
    }

    [Theory]
    [InlineData("smtp-sink: warning: lost connection")]
    [InlineData("sess=1 quit=1")]
    [InlineData("sess=1 quit=x mesg=2")]
    public void Lines_that_are_not_counter_records_are_skipped(string line)
    {
        var parser = new SinkCounterParser();

        Assert.Empty(parser.Feed(line + "\n"));
        Assert.Equal([new SinkCounters(3, 3, 3)], parser.Feed("sess=3 quit=3 mesg=3\r"));
    }

    [Fact]
    public async Task The_real_smtp_sink_counts_every_message_smtp_source_sends()
    {
        var token = TestContext.Current.CancellationToken;
        var log = Path.GetTempFileName();
        using var children = new ChildProcesses();
        using var sink = await SinkCounter.StartAsync(children, Ports.Free(), log, token);

        // 5 sessions of 5 messages each.
        var source = await Command.RunAsync(
            File.Exists("/usr/sbin/smtp-source") ? "/usr/sbin/smtp-source" : "smtp-source",
            ["-s", "5", "-m", "25", "-r", "5", "-l", "1024", $"127.0.0.1:{sink.Port}"], null, TimeSpan.FromSeconds(60), token);
        Assert.Equal(0, source.ExitCode);

        var reached = await sink.WaitForMessagesAsync(25, TimeSpan.FromSeconds(30), token);

        Assert.NotNull(reached);
        Assert.Equal(25, sink.Latest.Messages);
        File.Delete(log);
    }

    [Fact]
    public async Task Waiting_gives_up_when_the_count_stops_moving()
    {
        var token = TestContext.Current.CancellationToken;
        var log = Path.GetTempFileName();
        using var children = new ChildProcesses();
        using var sink = await SinkCounter.StartAsync(children, Ports.Free(), log, token);

        Assert.Null(await sink.WaitForMessagesAsync(1, TimeSpan.FromSeconds(1), token));
        File.Delete(log);
    }
}
