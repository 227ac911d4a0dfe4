using System.Net.Sockets;
using System.Text;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>The smtp-sink fixture itself, with MailKit as the client: what a fault test relies on.</summary>
public sealed class SmtpSinkTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static MimeMessage NewMessage(string subject)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Sender", "header-from@example.org"));
        message.To.Add(new MailboxAddress("", "header-to@example.org"));
        message.Subject = subject;
        // A line starting with a dot (stuffed on the wire) and an empty line before the end.
        message.Body = new TextPart("plain") { Text = "First line\r\n.starts with a dot\r\n\r\nLast line\r\n\r\n" };
        return message;
    }

    /// <summary>The bytes MailKit puts between DATA and the final dot (before dot-stuffing).</summary>
    private static byte[] WireBytes(MimeMessage message)
    {
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        using var bytes = new MemoryStream();
        message.WriteTo(options, bytes);
        return bytes.ToArray();
    }

    private static async Task SendAsync(SmtpSink sink, MimeMessage message, string sender, params string[] recipients)
    {
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", sink.Port, SecureSocketOptions.None, Token);
        await client.SendAsync(message, MailboxAddress.Parse(sender), recipients.Select(MailboxAddress.Parse), Token);
        await client.DisconnectAsync(quit: true, Token);
    }

    [Fact]
    public async Task A_sent_message_is_received_with_its_envelope_and_bytes()
    {
        using var sink = SmtpSink.Start();
        var message = NewMessage("Envelope and bytes");

        await SendAsync(sink, message, "bounces@example.org", "first@example.org", "second@example.net");

        var received = Assert.Single(await sink.WaitForAsync(1, Wait));
        Assert.Equal("bounces@example.org", received.Sender);
        Assert.Equal(["first@example.org", "second@example.net"], received.Recipients);
        Assert.Equal(Encoding.ASCII.GetString(WireBytes(message)), Encoding.ASCII.GetString(received.Data));
        Assert.Equal("Envelope and bytes", received.ToMimeMessage().Subject);
    }

    [Theory]
    [InlineData("-r", 4)]
    [InlineData("-f", 5)]
    public async Task Rejecting_rcpt_makes_the_client_see_the_chosen_class_and_nothing_is_received(string option, int replyClass)
    {
        using var sink = SmtpSink.Start(option, "RCPT");

        var error = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            SendAsync(sink, NewMessage("Refused"), "bounces@example.org", "someone@example.org"));

        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, error.ErrorCode);
        Assert.Equal(replyClass, (int)error.StatusCode / 100);
        Assert.Empty(sink.Received());
    }

    [Fact]
    public async Task A_message_refused_at_the_final_dot_is_not_received_although_the_sink_saw_it()
    {
        using var sink = SmtpSink.Start("-r", ".");

        var error = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            SendAsync(sink, NewMessage("Refused at end of data"), "bounces@example.org", "someone@example.org"));

        Assert.Equal(SmtpErrorCode.MessageNotAccepted, error.ErrorCode);
        Assert.Equal(4, (int)error.StatusCode / 100);
        Assert.Empty(sink.Received());
    }

    [Fact]
    public async Task Restart_on_the_same_port_after_an_outage_accepts_again_with_new_flags()
    {
        using var sink = SmtpSink.Start();
        await SendAsync(sink, NewMessage("Before the outage"), "bounces@example.org", "a@example.org");
        await sink.WaitForAsync(1, Wait);

        sink.Stop();
        await Assert.ThrowsAnyAsync<SocketException>(() => SendAsync(sink, NewMessage("During"), "bounces@example.org", "a@example.org"));

        var port = sink.Port;
        sink.Restart("-r", "RCPT");
        Assert.Equal(port, sink.Port);
        var deferred = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            SendAsync(sink, NewMessage("Deferred"), "bounces@example.org", "a@example.org"));
        Assert.Equal(4, (int)deferred.StatusCode / 100);

        sink.Restart();
        await SendAsync(sink, NewMessage("After the outage"), "bounces@example.org", "a@example.org");

        var received = await sink.WaitForAsync(2, Wait);
        Assert.Equal(["Before the outage", "After the outage"], received.Select(m => m.ToMimeMessage().Subject));
    }

    [Fact]
    public async Task A_transaction_in_progress_is_not_received_nor_left_behind_by_stop()
    {
        using var sink = SmtpSink.Start();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", sink.Port, Token);
        var stream = tcp.GetStream();
        using var reader = new StreamReader(stream, Encoding.ASCII);
        async Task<string> CommandAsync(string line)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\r\n"), Token);
            return (await reader.ReadLineAsync(Token))!;
        }

        await reader.ReadLineAsync(Token); // 220
        Assert.StartsWith("250", await CommandAsync("HELO client.example.org"), StringComparison.Ordinal);
        Assert.StartsWith("250", await CommandAsync("MAIL FROM:<bounces@example.org>"), StringComparison.Ordinal);
        Assert.StartsWith("250", await CommandAsync("RCPT TO:<a@example.org>"), StringComparison.Ordinal);
        Assert.StartsWith("354", await CommandAsync("DATA"), StringComparison.Ordinal);
        await stream.WriteAsync(Encoding.ASCII.GetBytes("Subject: half\r\n\r\n" + new string('x', 20_000) + "\r\n"), Token);

        Assert.Empty(sink.Received());
        sink.Stop();
        Assert.Empty(sink.Received());
    }
}
