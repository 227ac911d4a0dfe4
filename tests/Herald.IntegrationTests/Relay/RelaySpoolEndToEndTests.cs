using System.Text;
using Herald.IntegrationTests.Fixtures;

namespace Herald.IntegrationTests.Relay;

/// <summary>
/// Large messages and the null sender through a real <c>herald serve</c>: its relay listener, its
/// outbox on SQLite and its delivery to <c>smtp-sink</c>, which keeps exactly what it received.
/// What is checked is what the client was told, the bytes and the envelope the upstream got, and
/// the node's spool directory.
/// </summary>
public sealed class RelaySpoolEndToEndTests : IAsyncDisposable
{
    private readonly RelayNode _node = new();
    private readonly SmtpSink _sink = SmtpSink.Start();

    [Fact]
    public async Task A_message_above_the_spool_threshold_arrives_byte_for_byte_and_no_spool_file_is_left()
    {
        await StartAsync();
        var message = LargeMessages.Create(3 * 1024 * 1024, $"large-{Guid.NewGuid():N}@apps.example.com");
        await using var client = await InDataAsync("<scanner@apps.example.com>");

        await client.SendAsync(LargeMessages.Wire(message));

        Assert.StartsWith("250 2.0.0 Ok: queued as ", await client.ReadReplyAsync(), StringComparison.Ordinal);
        var received = Assert.Single(await _sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        // Herald's Received header, the client's header section as the scope's impersonation
        // policy (never) rewrites it, then the client's body exactly.
        Assert.StartsWith("Received: from client.example ([127.0.0.1])\r\n\tby ", Encoding.ASCII.GetString(received.Data, 0, 64), StringComparison.Ordinal);
        AssertRewrittenHeadersThenSameBody(message, received.Data);
        Assert.Equal(["someone@herald.test"], received.Recipients);
        await RelaySpoolTests.WaitUntilAsync(() => _node.SpoolFiles.Length == 0, "the node's spool to be empty", seconds: 60);
    }

    [Fact]
    public async Task The_null_sender_reaches_the_upstream_as_the_null_sender()
    {
        await StartAsync();
        var message = Encoding.ASCII.GetBytes($"From: MAILER-DAEMON@apps.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-{Guid.NewGuid():N}@apps.example.com>\r\n\r\nA bounce.\r\n");
        await using var client = await InDataAsync("<>");

        await client.SendAsync(LargeMessages.Wire(message));

        Assert.StartsWith("250 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        var received = Assert.Single(await _sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        Assert.Equal("", received.Sender);
        AssertRewrittenHeadersThenSameBody(message, received.Data);
    }

    /// <summary>What arrived: the header section with the scope's From (the client's kept as
    /// X-Original-From), then the client's body byte for byte.</summary>
    private static void AssertRewrittenHeadersThenSameBody(byte[] sent, byte[] arrived)
    {
        var body = sent.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(body > 0, "The message has a header section.");
        var bodyLength = sent.Length - body;
        Assert.Equal(sent[body..], arrived[^bodyLength..]);
        var headers = Encoding.ASCII.GetString(arrived, 0, arrived.Length - bodyLength);
        var from = Encoding.ASCII.GetString(sent, 0, body).Split("\r\n").Single(l => l.StartsWith("From: ", StringComparison.Ordinal));
        Assert.Contains($"\r\nX-Original-{from}\r\nFrom: herald@example.org", headers, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_spool_file_of_a_node_killed_in_the_middle_of_data_is_removed_when_it_starts_again()
    {
        await StartAsync();
        var wire = LargeMessages.Wire(LargeMessages.Create(3 * 1024 * 1024, "cut@apps.example.com"));
        await using var client = await InDataAsync("<scanner@apps.example.com>");
        await client.SendAsync(wire[..(wire.Length / 2)]);
        await RelaySpoolTests.WaitUntilAsync(() => _node.SpoolFiles.Length == 1, "the transfer to be spooled", seconds: 60);

        _node.Server.Kill();
        Assert.Single(_node.SpoolFiles);
        await _node.StartServeAsync();

        Assert.Empty(_node.SpoolFiles);
        await _node.Server.WaitForOutputAsync("Removed 1 spool file(s)", TimeSpan.FromSeconds(10));
        Assert.Empty(_sink.Received());
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        _sink.Dispose();
    }

    private async Task StartAsync()
    {
        await _node.UseSinkAsync(_sink);
        await _node.MustAsync("relay", "set", "--listen", _node.Listen, "--allow", "127.0.0.1/32");
        await _node.StartServeAsync();
    }

    private async Task<RawSmtpClient> InDataAsync(string sender)
    {
        var client = await RawSmtpClient.ConnectAsync(_node.RelayPort);
        Assert.StartsWith("220 ", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250", await client.CommandAsync("EHLO client.example"), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync($"MAIL FROM:{sender}"), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.5", await client.CommandAsync("RCPT TO:<someone@herald.test>"), StringComparison.Ordinal);
        Assert.StartsWith("354 ", await client.CommandAsync("DATA"), StringComparison.Ordinal);
        return client;
    }
}
