using Herald.Relay;

namespace Herald.IntegrationTests.Relay;

/// <summary>
/// DATA above the spool threshold goes to a file of the relay's spool instead of memory: what
/// reaches the gate is still exactly what the client sent, and no spool file outlives its
/// session, whether the message was accepted, refused, or the client or the server gave up in
/// the middle. The smuggling rules and the size limit are those of <see cref="RelaySafetyTests"/>.
/// </summary>
public sealed class RelaySpoolTests
{
    private const int Threshold = 64 * 1024;

    private static RelayOptions Options(long maxMessageBytes = 25L * 1024 * 1024)
    {
        var options = RelayHarness.TestOptions();
        options.SpoolThresholdBytes = Threshold;
        options.MaxMessageBytes = maxMessageBytes;
        return options;
    }

    private static async Task<RawSmtpClient> InDataAsync(RelayHarness relay, string mailArguments = "")
    {
        var client = await relay.ConnectRawAsync();
        Assert.StartsWith("220 ", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.example"), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>" + mailArguments), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.5", await client.CommandAsync("RCPT TO:<someone@herald.test>"), StringComparison.Ordinal);
        Assert.StartsWith("354 ", await client.CommandAsync("DATA"), StringComparison.Ordinal);
        return client;
    }

    [Fact]
    public async Task A_message_above_the_threshold_is_spooled_reaches_the_gate_byte_for_byte_and_leaves_no_file()
    {
        await using var relay = await RelayHarness.StartAsync(Options());
        var message = LargeMessages.Create(3 * 1024 * 1024, "large@apps.example.com");
        await using var client = await InDataAsync(relay);

        await client.SendAsync(LargeMessages.Wire(message));

        Assert.StartsWith("250 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.True(accepted.Spooled);
        Assert.Equal(message, accepted.Data);
        Assert.Empty(relay.Spool.Files);
    }

    [Fact]
    public async Task A_message_below_the_threshold_stays_in_memory()
    {
        await using var relay = await RelayHarness.StartAsync(Options());
        var message = LargeMessages.Create(Threshold - 1024, "small@apps.example.com");
        await using var client = await InDataAsync(relay);

        await client.SendAsync(LargeMessages.Wire(message));

        Assert.StartsWith("250 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.False(accepted.Spooled);
        Assert.Equal(message, accepted.Data);
    }

    [Fact]
    public async Task A_size_declared_above_the_threshold_is_spooled_from_the_first_byte()
    {
        await using var relay = await RelayHarness.StartAsync(Options());
        var message = LargeMessages.Create(2048, "declared@apps.example.com");
        await using var client = await InDataAsync(relay, $" SIZE={Threshold * 2}");

        await client.SendAsync(LargeMessages.Wire(message));

        Assert.StartsWith("250 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.True(accepted.Spooled);
        Assert.Equal(message, accepted.Data);
    }

    [Fact]
    public async Task A_spooled_message_over_the_size_limit_is_refused_with_552_and_leaves_no_file()
    {
        await using var relay = await RelayHarness.StartAsync(Options(maxMessageBytes: 1024 * 1024));
        await using var client = await InDataAsync(relay);

        await client.SendAsync(LargeMessages.Wire(LargeMessages.Create(2 * 1024 * 1024, "big@apps.example.com")));

        Assert.StartsWith("552 5.3.4", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.Accepted);
        Assert.Empty(relay.Spool.Files);
        // The session goes on: the next transaction starts clean.
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_smuggled_end_of_data_in_a_spooled_message_is_refused_and_leaves_no_file()
    {
        await using var relay = await RelayHarness.StartAsync(Options());
        var wire = LargeMessages.Wire(LargeMessages.Create(Threshold * 3, "smuggled@apps.example.com"));
        await using var client = await InDataAsync(relay);

        // Past the threshold, "\n.\n" and a command that a lax server would run, then the real end.
        await client.SendAsync([.. wire[..^3], .. "\n.\nRCPT TO:<victim@herald.test>\r\n.\r\n"u8]);

        Assert.StartsWith("554 5.6.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.Accepted);
        Assert.Empty(relay.Spool.Files);
    }

    [Fact]
    public async Task A_spooled_message_the_gate_refuses_leaves_no_file()
    {
        await using var relay = await RelayHarness.StartAsync(Options());
        relay.Gate.DataReply = new SmtpReply(451, "4.3.0", "The message could not be stored; try again later.");
        await using var client = await InDataAsync(relay);

        await client.SendAsync(LargeMessages.Wire(LargeMessages.Create(Threshold * 4, "refused@apps.example.com")));

        Assert.StartsWith("451 4.3.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Empty(relay.Spool.Files);
    }

    [Fact]
    public async Task A_client_that_disconnects_in_the_middle_of_data_leaves_no_file()
    {
        await using var relay = await RelayHarness.StartAsync(Options());
        var wire = LargeMessages.Wire(LargeMessages.Create(Threshold * 8, "cut@apps.example.com"));
        var client = await InDataAsync(relay);
        await client.SendAsync(wire[..(wire.Length / 2)]);
        await WaitUntilAsync(() => relay.Spool.Files.Length == 1, "the transfer spooled");

        await client.DisposeAsync();

        await WaitUntilAsync(() => relay.Spool.Files.Length == 0, "the spool file removed");
        Assert.Empty(relay.Gate.Accepted);
    }

    [Fact]
    public async Task A_server_that_stops_in_the_middle_of_data_leaves_no_file()
    {
        await using var relay = await RelayHarness.StartAsync(Options());
        var wire = LargeMessages.Wire(LargeMessages.Create(Threshold * 8, "stopped@apps.example.com"));
        await using var client = await InDataAsync(relay);
        await client.SendAsync(wire[..(wire.Length / 2)]);
        await WaitUntilAsync(() => relay.Spool.Files.Length == 1, "the transfer spooled");

        await relay.Server.DisposeAsync();

        Assert.StartsWith("421 ", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Empty(relay.Spool.Files);
        Assert.Empty(relay.Gate.Accepted);
    }

    /// <summary>Waits for something the server does on its own time (a session ending, a delivery).</summary>
    internal static async Task WaitUntilAsync(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
