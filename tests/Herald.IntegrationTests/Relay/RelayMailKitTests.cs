using System.Text;
using Herald.Relay;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.IntegrationTests.Relay;

/// <summary>The relay with MailKit's SmtpClient as the client: STARTTLS, AUTH, PIPELINING,
/// SMTPUTF8, 8BITMIME; what is checked is what the gate received and what MailKit was told.</summary>
public sealed class RelayMailKitTests
{
    private static SmtpClient NewClient() => new() { ServerCertificateValidationCallback = (_, presented, _, _) => RelayHarness.IsRelayCertificate(presented) };

    private static MimeMessage NewMessage(string to, string body = "Hello from the relay test.\n")
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("app@example.org"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = "Relay test";
        message.Body = new TextPart("plain") { Text = body };
        return message;
    }

    /// <summary>The bytes MailKit sent as DATA: the prepared message, CRLF line ends.</summary>
    private static byte[] Wire(MimeMessage message)
    {
        using var stream = new MemoryStream();
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        message.WriteTo(options, stream);
        return stream.ToArray();
    }

    [Fact]
    public async Task Anonymous_message_over_starttls_reaches_the_gate_byte_for_byte()
    {
        await using var relay = await RelayHarness.StartAsync();
        using var client = NewClient();
        var message = NewMessage("someone@herald.test");

        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);
        var response = await client.SendAsync(message, TestContext.Current.CancellationToken);
        await client.DisconnectAsync(true, TestContext.Current.CancellationToken);

        Assert.Equal("2.0.0 Ok: queued as 1", response);
        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.Equal("app@example.org", accepted.Envelope.Sender);
        Assert.Equal(["someone@herald.test"], accepted.Envelope.Recipients);
        Assert.True(accepted.Session.Tls);
        Assert.Null(accepted.Session.AuthenticatedAs);
        Assert.Equal(Wire(message), accepted.Data);
    }

    [Fact]
    public async Task The_null_sender_is_accepted_and_reaches_the_gate_as_the_null_sender()
    {
        await using var relay = await RelayHarness.StartAsync();
        using var client = NewClient();
        var message = NewMessage("someone@herald.test");

        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);
        var response = await client.SendAsync(message, new MailboxAddress("", ""), [MailboxAddress.Parse("someone@herald.test")], TestContext.Current.CancellationToken);
        await client.DisconnectAsync(true, TestContext.Current.CancellationToken);

        Assert.Equal("2.0.0 Ok: queued as 1", response);
        Assert.Equal([""], relay.Gate.SendersChecked);
        Assert.Equal("", Assert.Single(relay.Gate.Accepted).Envelope.Sender);
    }

    [Theory]
    [InlineData("PLAIN")]
    [InlineData("LOGIN")]
    public async Task Auth_after_starttls_authenticates_through_the_gate(string mechanism)
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.Rules = new RelayAuthRules(Required: true, AllowedWithoutTls: false);
        using var client = NewClient();

        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);
        Assert.Equal(["PLAIN", "LOGIN"], client.AuthenticationMechanisms.Order(StringComparer.Ordinal).Reverse());
        foreach (var other in client.AuthenticationMechanisms.Where(m => m != mechanism).ToArray())
        {
            client.AuthenticationMechanisms.Remove(other);
        }

        await client.AuthenticateAsync("app", "s3cret pass", TestContext.Current.CancellationToken);
        await client.SendAsync(NewMessage("someone@herald.test"), TestContext.Current.CancellationToken);

        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.Equal("app", accepted.Session.AuthenticatedAs);
    }

    [Fact]
    public async Task Wrong_password_is_refused_with_535()
    {
        await using var relay = await RelayHarness.StartAsync();
        using var client = NewClient();
        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<AuthenticationException>(() => client.AuthenticateAsync("app", "wrong", TestContext.Current.CancellationToken));

        Assert.Contains("Authentication credentials invalid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auth_is_not_offered_without_tls()
    {
        await using var relay = await RelayHarness.StartAsync();
        using var client = NewClient();

        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.None, TestContext.Current.CancellationToken);

        Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.StartTLS));
        Assert.False(client.Capabilities.HasFlag(SmtpCapabilities.Authentication));
        Assert.Empty(client.AuthenticationMechanisms);
    }

    [Fact]
    public async Task Auth_is_offered_without_tls_when_the_listener_allows_it()
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.Rules = new RelayAuthRules(Required: true, AllowedWithoutTls: true);
        using var client = NewClient();

        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.None, TestContext.Current.CancellationToken);
        await client.AuthenticateAsync("app", "s3cret pass", TestContext.Current.CancellationToken);
        await client.SendAsync(NewMessage("someone@herald.test"), TestContext.Current.CancellationToken);

        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.False(accepted.Session.Tls);
        Assert.Equal("app", accepted.Session.AuthenticatedAs);
    }

    [Fact]
    public async Task Pipelined_transaction_with_several_recipients_is_accepted()
    {
        await using var relay = await RelayHarness.StartAsync();
        using var client = NewClient();
        var message = NewMessage("one@herald.test");
        message.To.Add(MailboxAddress.Parse("two@herald.test"));
        message.Cc.Add(MailboxAddress.Parse("three@HERALD.test"));

        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);
        Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Pipelining));
        await client.SendAsync(message, TestContext.Current.CancellationToken);

        Assert.Equal(["one@herald.test", "two@herald.test", "three@HERALD.test"], Assert.Single(relay.Gate.Accepted).Envelope.Recipients);
    }

    [Fact]
    public async Task Smtputf8_and_8bitmime_message_arrives_with_its_bytes()
    {
        await using var relay = await RelayHarness.StartAsync();
        using var client = NewClient();
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Jörg", "jörg@example.org"));
        message.To.Add(new MailboxAddress("Zoë", "zoë@herald.test"));
        message.Subject = "Grüße";
        var body = new TextPart("plain") { Text = "Schöne Grüße, 📬\n" };
        body.ContentTransferEncoding = ContentEncoding.EightBit;
        message.Body = body;

        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);
        Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.UTF8));
        Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.EightBitMime));
        await client.SendAsync(message, TestContext.Current.CancellationToken);

        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.Equal(new RelayEnvelope("jörg@example.org", ["zoë@herald.test"], EightBitMime: true, SmtpUtf8: true) with { Recipients = accepted.Envelope.Recipients }, accepted.Envelope);
        Assert.Equal(["zoë@herald.test"], accepted.Envelope.Recipients);
        Assert.Equal(Wire(message), accepted.Data);
        Assert.Contains("Schöne Grüße, 📬", Encoding.UTF8.GetString(accepted.Data), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gate_452_at_mail_reaches_the_client()
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.SenderReply = new SmtpReply(452, "4.3.1", "Insufficient system storage");
        using var client = NewClient();
        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(NewMessage("someone@herald.test"), TestContext.Current.CancellationToken));

        Assert.Equal((SmtpErrorCode.SenderNotAccepted, SmtpStatusCode.InsufficientStorage), (error.ErrorCode, error.StatusCode));
        Assert.Empty(relay.Gate.Accepted);
    }

    [Fact]
    public async Task Recipient_outside_the_allowed_domain_is_refused_by_the_gate()
    {
        await using var relay = await RelayHarness.StartAsync();
        using var client = NewClient();
        await client.ConnectAsync("127.0.0.1", relay.Port, SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(NewMessage("victim@elsewhere.example"), TestContext.Current.CancellationToken));

        Assert.Equal((SmtpErrorCode.RecipientNotAccepted, SmtpStatusCode.TransactionFailed), (error.ErrorCode, error.StatusCode));
        Assert.Empty(relay.Gate.Accepted);
    }
}
