using System.Net.Sockets;
using System.Text;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.IntegrationTests.Relay;

/// <summary>
/// What a relay client's From and Reply-To become on the way out, on the bytes smtp-sink
/// received from a real <c>herald serve</c>: scope <c>/hr</c> keeps the default impersonation
/// policy <c>never</c>, scope <c>/finance</c> allows it; each has a relay listener of its own.
/// </summary>
public sealed class RelayImpersonationTests : IAsyncLifetime
{
    private readonly int _hrPort = LoopbackPort.Free();
    private readonly int _financePort = LoopbackPort.Free();
    private SmtpSink _sink = null!;
    private OutboxNode _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _sink = SmtpSink.Start();
        _node = await OutboxNode.StartAsync(_sink.Port, null, async cli =>
        {
            await OutboxNode.MustAsync(cli, "smtp", "set", "--scope", "/hr", "--from", "hr@example.org", "--from-name", "HR Notifications", "--reply-to", "hr-desk@example.org");
            await OutboxNode.MustAsync(cli, "smtp", "set", "--scope", "/finance", "--from", "finance@example.org", "--from-name", "Finance", "--impersonation", "allowed");
            await OutboxNode.MustAsync(cli, "relay", "set", "--listen", $"127.0.0.1:{_hrPort}", "--scope", "/hr", "--allow", "127.0.0.1");
            await OutboxNode.MustAsync(cli, "relay", "set", "--listen", $"127.0.0.1:{_financePort}", "--scope", "/finance", "--allow", "127.0.0.1");
        });
        await WaitForListenerAsync(_hrPort);
        await WaitForListenerAsync(_financePort);
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        _sink.Dispose();
    }

    [Fact]
    public async Task Under_never_the_scopes_From_and_Reply_To_go_out_and_the_clients_are_kept_as_X_Original()
    {
        await SendAsync(_hrPort);

        var received = Assert.Single(await _sink.WaitForAsync(1, TimeSpan.FromSeconds(30)));
        var headers = HeaderSection(received.Data);
        Assert.Equal("hr@example.org", received.Sender);
        Assert.Matches("\r\nX-Original-From: \"?The CEO\"? <ceo@example.com>\r\nFrom: \"?HR Notifications\"? <hr@example.org>\r\n", headers);
        Assert.Contains("\r\nX-Original-Reply-To: attacker@example.net\r\nReply-To: hr-desk@example.org\r\n", headers, StringComparison.Ordinal);
        var mime = received.ToMimeMessage();
        Assert.Equal(["hr@example.org"], mime.From.Mailboxes.Select(m => m.Address));
        Assert.Equal(["hr-desk@example.org"], mime.ReplyTo.Mailboxes.Select(m => m.Address));
        Assert.Null(mime.Sender);
        Assert.Equal("Quarterly figures", mime.Subject);
    }

    [Fact]
    public async Task Under_allowed_the_clients_From_stays_and_the_scope_is_the_Sender_and_the_envelope_sender()
    {
        await SendAsync(_financePort);

        var received = Assert.Single(await _sink.WaitForAsync(1, TimeSpan.FromSeconds(30)));
        var headers = HeaderSection(received.Data);
        Assert.Equal("finance@example.org", received.Sender);
        Assert.Matches("\r\nFrom: \"?The CEO\"? <ceo@example.com>\r\n", headers);
        Assert.Contains("\r\nReply-To: attacker@example.net\r\n", headers, StringComparison.Ordinal);
        Assert.Matches("\r\nSender: \"?Finance\"? <finance@example.org>\r\n", headers);
        Assert.DoesNotContain("X-Original-", headers, StringComparison.Ordinal);
    }

    private static async Task SendAsync(int port)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("The CEO", "ceo@example.com"));
        message.ReplyTo.Add(MailboxAddress.Parse("attacker@example.net"));
        message.To.Add(MailboxAddress.Parse("staff@example.org"));
        message.Subject = "Quarterly figures";
        message.Body = new TextPart("plain") { Text = "Please reply with your password.\n" };
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None, Ct);
        await client.SendAsync(message, Ct);
        await client.DisconnectAsync(true, Ct);
    }

    /// <summary>The header section as the sink received it, from its first field to the empty line.</summary>
    private static string HeaderSection(byte[] data)
    {
        var text = Encoding.UTF8.GetString(data);
        return "\r\n" + text[..(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 2)];
    }

    private static async Task WaitForListenerAsync(int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, Ct);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, Ct);
            }
        }
    }
}
