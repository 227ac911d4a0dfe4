using System.Text;
using Herald.Outbox;
using Herald.Relay;
using Herald.Testing;

namespace Herald.Tests.Relay;

public sealed class SmtpDataReaderTests
{
    private static async Task<(DataOutcome Outcome, string Message, string Following)> ReadAsync(string wire, long maxBytes = 1_000_000, int spoolThreshold = 1024 * 1024)
    {
        var reader = new SmtpReader(new MemoryStream(Encoding.Latin1.GetBytes(wire)));
        using var spool = new TemporarySpool();
        using var message = new DataSink(spool.Spool, spoolThreshold, declaredSize: null);
        var outcome = await SmtpDataReader.ReadAsync(reader, message, maxBytes, 1000, TestContext.Current.CancellationToken);
        var rest = await reader.ReadLineAsync(1000, TestContext.Current.CancellationToken);
        Assert.Equal(message.Length > spoolThreshold, message.IsSpooled);
        await using var written = await (await message.CompleteAsync(TestContext.Current.CancellationToken)).OpenReadAsync(TestContext.Current.CancellationToken);
        using var text = new StreamReader(written, Encoding.Latin1);
        return (outcome, await text.ReadToEndAsync(TestContext.Current.CancellationToken), rest is { } line ? Encoding.Latin1.GetString(line.Content.Span) : "<end>");
    }

    [Fact]
    public async Task A_message_past_the_spool_threshold_reads_the_same_from_its_file()
    {
        var (outcome, message, rest) = await ReadAsync("A: b\r\n\r\n..x\r\n" + new string('y', 900) + "\r\nlast\r\n.\r\nQUIT\r\n", spoolThreshold: 16);

        Assert.Equal((DataOutcome.Complete, "A: b\r\n\r\n.x\r\n" + new string('y', 900) + "\r\nlast\r\n", "QUIT"), (outcome, message, rest));
    }

    [Fact]
    public async Task Dot_stuffing_is_undone_and_crlf_kept()
    {
        var (outcome, message, rest) = await ReadAsync("A: b\r\n\r\n..x\r\n...\r\n..\r\n.\r\nQUIT\r\n");

        Assert.Equal((DataOutcome.Complete, "A: b\r\n\r\n.x\r\n..\r\n.\r\n", "QUIT"), (outcome, message, rest));
    }

    [Fact]
    public async Task First_dot_line_ends_an_empty_message() =>
        Assert.Equal((DataOutcome.Complete, "", "NOOP"), await ReadAsync(".\r\nNOOP\r\n"));

    [Theory]
    [InlineData("a\nb\r\n.\r\nNEXT\r\n")]
    [InlineData("a\rb\r\n.\r\nNEXT\r\n")]
    [InlineData("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\nNEXT\r\n")]
    [InlineData("a\r\n.\nMAIL FROM:<x@y>\r\n.\r\nNEXT\r\n")]
    [InlineData("a\n.\nMAIL FROM:<x@y>\r\n.\r\nNEXT\r\n")]
    [InlineData("a\r\n.\rMAIL FROM:<x@y>\r\n.\r\nNEXT\r\n")]
    [InlineData("a\r.\r\nMAIL FROM:<x@y>\r\n.\r\nNEXT\r\n")]
    public async Task Bare_cr_or_lf_rejects_the_message_and_only_crlf_dot_crlf_ends_it(string wire)
    {
        var (outcome, _, rest) = await ReadAsync(wire);

        // Nothing of the smuggled part was left to be read as a command.
        Assert.Equal((DataOutcome.BareLineEnd, "NEXT"), (outcome, rest));
    }

    [Fact]
    public async Task Message_over_the_size_limit_is_read_to_its_end_and_refused()
    {
        var (outcome, _, rest) = await ReadAsync(string.Concat(Enumerable.Repeat("0123456789\r\n", 20)) + ".\r\nNEXT\r\n", maxBytes: 100);

        Assert.Equal((DataOutcome.TooLarge, "NEXT"), (outcome, rest));
    }

    [Fact]
    public async Task Text_line_over_1000_octets_is_refused()
    {
        Assert.Equal(DataOutcome.Complete, (await ReadAsync(new string('x', 998) + "\r\n.\r\n")).Outcome);
        Assert.Equal(DataOutcome.LineTooLong, (await ReadAsync(new string('x', 999) + "\r\n.\r\n")).Outcome);
    }

    [Fact]
    public async Task Connection_closed_before_the_end_is_no_message() =>
        Assert.Equal(DataOutcome.Disconnected, (await ReadAsync("Subject: x\r\n\r\nbody\r\n")).Outcome);
}
