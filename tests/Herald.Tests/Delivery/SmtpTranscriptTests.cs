using Herald.Delivery;
using Herald.Settings;
using MimeKit;

namespace Herald.Tests.Delivery;

/// <summary>
/// How each failure of a smart host reaches the user, replayed from scripted SMTP transcripts
/// (as MailKit's own tests replay recorded ones) through MailKit's real SmtpClient: 4xx and 5xx
/// at every step, hang-ups in the middle of a reply, garbage and silence. Each expectation is the
/// <see cref="DeliveryResult"/> an administrator sees: every recipient's outcome, reply and
/// sentence, and where the delivery stopped. Nothing here may throw. The integration twin is
/// the Postfix delivery suite (Herald.IntegrationTests.Delivery).
/// </summary>
public sealed class SmtpTranscriptTests
{
    private const string Greeting = "220 scripted.example ESMTP";
    private const string Ehlo = "250-scripted.example\n250-8BITMIME\n250 ENHANCEDSTATUSCODES";
    private const string EhloWithStartTls = "250-scripted.example\n250-8BITMIME\n250 STARTTLS";
    private const string EhloWithAuth = "250-scripted.example\n250-8BITMIME\n250 AUTH PLAIN";

    private static readonly Step[] Hello = [new Say(Greeting), new On("EHLO", Ehlo)];
    private static readonly Step[] Transaction = [.. Hello, new On("MAIL FROM:<app@example.org>", "250 2.1.0 Ok"), new On("RCPT TO:<a@example.net>", "250 2.1.5 Ok")];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // ---- Connecting and the greeting

    [Fact]
    public async Task A_server_that_is_down_defers()
    {
        var server = ScriptedSmtpServer.Start();
        var port = server.Port;
        await server.DisposeAsync();

        var result = await SendAsync(port);

        Assert.Equal(DeliveryStage.Connect, result.FailedAt);
        Assert.StartsWith($"The connection to 127.0.0.1:{port} failed (Connect): Connection refused", result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
    }

    [Theory]
    [InlineData("554 5.3.2 No SMTP service here")]
    [InlineData("421 4.3.2 Too busy, try later")]
    public async Task A_refused_greeting_defers_every_recipient_since_it_is_the_servers_problem_not_the_messages(string reply)
    {
        await using var server = ScriptedSmtpServer.Start(new Say(reply));

        var result = await SendAsync(server, recipients: ["a@example.net", "b@example.net"]);

        Stopped(result, DeliveryStage.Connect, $"127.0.0.1:{server.Port} refused the greeting: {reply}; nothing was sent.");
        Assert.All(result.Recipients, r => Assert.Equal((RecipientOutcome.TransientFailure, reply), (r.Outcome, r.Reply?.ToString())));
    }

    [Fact]
    public async Task A_greeting_cut_off_in_the_middle_defers()
    {
        await using var server = ScriptedSmtpServer.Start(new HangUp(Verb: null, Partial: "220-scripted.example\r\n220-still"));

        var result = await SendAsync(server);

        Stopped(result, DeliveryStage.Connect, $"The connection to 127.0.0.1:{server.Port} failed (the greeting): The SMTP server has unexpectedly disconnected.");
        Deferred(result, "a@example.net", reply: null);
    }

    [Fact]
    public async Task A_greeting_that_is_not_smtp_defers()
    {
        await using var server = ScriptedSmtpServer.Start(new Say("SSH-2.0-OpenSSH_9.6"));

        var result = await SendAsync(server);

        Assert.Equal(DeliveryStage.Connect, result.FailedAt);
        Assert.StartsWith($"The connection to 127.0.0.1:{server.Port} failed (the greeting): ", result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
    }

    [Fact]
    public async Task A_server_that_never_greets_defers_after_the_connect_timeout()
    {
        await using var server = ScriptedSmtpServer.Start(new Silence(Verb: null));

        var result = await SendAsync(server, timeout: TimeSpan.FromSeconds(1));

        Stopped(result, DeliveryStage.Connect, $"127.0.0.1:{server.Port} did not answer within 1 s (the greeting).");
        Deferred(result, "a@example.net", reply: null);
    }

    // ---- EHLO and STARTTLS

    [Fact]
    public async Task Ehlo_and_helo_refused_defer_at_connect()
    {
        await using var server = ScriptedSmtpServer.Start(new Say(Greeting), new On("EHLO", "550 5.7.1 Go away"), new On("HELO", "550 5.7.1 Go away"));

        var result = await SendAsync(server);

        Stopped(result, DeliveryStage.Connect, $"127.0.0.1:{server.Port} refused HELO: 550 5.7.1 Go away; nothing was sent.");
        Deferred(result, "a@example.net", "550 5.7.1 Go away");
    }

    [Fact]
    public async Task Starttls_refused_defers_as_a_tls_failure()
    {
        await using var server = ScriptedSmtpServer.Start(new Say(Greeting), new On("EHLO", EhloWithStartTls), new On("STARTTLS", "454 4.7.0 TLS not available due to local problem"));

        var result = await SendAsync(server, security: SmtpSecurity.StartTlsRequired);

        Stopped(result, DeliveryStage.Tls, $"127.0.0.1:{server.Port} refused STARTTLS: 454 4.7.0 TLS not available due to local problem; nothing was sent.");
        Deferred(result, "a@example.net", "454 4.7.0 TLS not available due to local problem");
    }

    [Fact]
    public async Task A_certificate_the_system_does_not_trust_stops_the_handshake_and_says_why()
    {
        await using var server = ScriptedSmtpServer.Start(new Say(Greeting), new On("EHLO", EhloWithStartTls), new On("STARTTLS", "220 2.0.0 Ready to start TLS"), new StartTls());

        var result = await SendAsync(server, security: SmtpSecurity.StartTlsRequired);

        Assert.Equal(DeliveryStage.Tls, result.FailedAt);
        Assert.StartsWith($"The TLS handshake with 127.0.0.1:{server.Port} failed: the server certificate (CN=scripted.example, issued by CN=scripted.example) is not trusted by this system", result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
    }

    [Fact]
    public async Task Starttls_required_sends_nothing_when_the_server_does_not_offer_it()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello]);

        var result = await SendAsync(server, security: SmtpSecurity.StartTlsRequired);

        Stopped(result, DeliveryStage.Tls, $"127.0.0.1:{server.Port} does not offer STARTTLS and this connection requires it (starttls-required); nothing was sent.");
        Assert.DoesNotContain(server.Commands, c => c.StartsWith("MAIL", StringComparison.Ordinal));
    }

    // ---- AUTH

    [Theory]
    [InlineData("535 5.7.8 Authentication credentials invalid")]
    [InlineData("454 4.7.0 Temporary authentication failure")]
    public async Task Auth_refused_defers_as_a_configuration_problem(string reply)
    {
        await using var server = ScriptedSmtpServer.Start(new Say(Greeting), new On("EHLO", EhloWithAuth), new On("AUTH PLAIN", reply));

        var result = await SendAsync(server, userName: "mailer");

        Stopped(result, DeliveryStage.Authenticate, $"The server refused authentication as 'mailer': {reply}.");
        Deferred(result, "a@example.net", reply: null);
    }

    [Theory]
    [InlineData("550 5.7.30 Basic authentication is not supported for Client Submission.", "switch this connection to OAuth 2.0")]
    [InlineData("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.", "Set-CASMailbox -Identity mailer -SmtpClientAuthenticationDisabled $false")]
    public async Task Exchange_refusing_the_password_defers_and_says_what_to_do(string reply, string advice)
    {
        await using var server = ScriptedSmtpServer.Start(new Say(Greeting), new On("EHLO", EhloWithAuth), new On("AUTH PLAIN", reply));

        var result = await SendAsync(server, userName: "mailer");

        Assert.Equal(DeliveryStage.Authenticate, result.FailedAt);
        Assert.StartsWith($"The server refused authentication as 'mailer': {reply}.", result.Failure, StringComparison.Ordinal);
        Assert.Contains(advice, result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
    }

    [Fact]
    public async Task A_server_that_wants_authentication_at_mail_from_defers_and_says_so()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello, new On("MAIL", "530 5.7.0 Authentication required")]);

        var result = await SendAsync(server);

        Stopped(result, DeliveryStage.Authenticate, $"127.0.0.1:{server.Port} requires authentication (MAIL FROM): 5.7.0 Authentication required; set a user name and password for this connection.");
        Deferred(result, "a@example.net", reply: null);
    }

    // ---- MAIL FROM

    [Fact]
    public async Task A_5xx_to_mail_from_bounces_every_recipient()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello, new On("MAIL", "550 5.7.1 Sender address rejected")]);

        var result = await SendAsync(server, recipients: ["a@example.net", "b@example.net"]);

        Stopped(result, DeliveryStage.MailFrom, "The server replied 550 5.7.1 Sender address rejected (MAIL FROM).");
        Assert.All(result.Recipients, r => Assert.Equal((RecipientOutcome.PermanentFailure, "550 5.7.1 Sender address rejected"), (r.Outcome, r.Reply?.ToString())));
    }

    [Fact]
    public async Task A_4xx_to_mail_from_defers_every_recipient()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello, new On("MAIL", "451 4.3.0 Try again later")]);

        var result = await SendAsync(server);

        Stopped(result, DeliveryStage.MailFrom, "The server replied 451 4.3.0 Try again later (MAIL FROM).");
        Deferred(result, "a@example.net", "451 4.3.0 Try again later");
    }

    [Fact]
    public async Task A_garbage_reply_to_mail_from_defers()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello, new On("MAIL", "OK, fine, whatever")]);

        var result = await SendAsync(server);

        Assert.Equal(DeliveryStage.MailFrom, result.FailedAt);
        Assert.StartsWith($"The connection to 127.0.0.1:{server.Port} failed (MAIL FROM): ", result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
    }

    [Fact]
    public async Task The_null_sender_is_sent_as_an_empty_path()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello, new On("MAIL FROM:<>", "250 2.1.0 Ok"), new On("RCPT", "250 2.1.5 Ok"), new On("DATA", "354 Go ahead"), new EndOfData("250 2.0.0 Ok: queued as NULL1")]);

        var result = await SendAsync(server, sender: "");

        Assert.True(result.AllSent, result.Failure);
        Assert.Equal("MAIL FROM:<>", server.Commands.Single(c => c.StartsWith("MAIL", StringComparison.Ordinal)));
        Assert.Empty(server.Problems);
    }

    // ---- RCPT TO, one recipient at a time

    [Fact]
    public async Task Each_recipient_gets_its_own_reply_and_the_accepted_one_is_sent()
    {
        await using var server = ScriptedSmtpServer.Start(
        [
            .. Hello,
            new On("MAIL", "250 2.1.0 Ok"),
            new On("RCPT TO:<a@example.net>", "250 2.1.5 Ok"),
            new On("RCPT TO:<b@example.net>", "550 5.1.1 <b@example.net>: Recipient address rejected: User unknown"),
            new On("RCPT TO:<c@example.net>", "450 4.2.0 <c@example.net>: Greylisted"),
            new On("DATA", "354 End data with <CR><LF>.<CR><LF>"),
            new EndOfData("250 2.0.0 Ok: queued as 4F2A1C"),
        ]);

        var result = await SendAsync(server, recipients: ["a@example.net", "b@example.net", "c@example.net"]);

        Assert.Null(result.FailedAt);
        Assert.Equal(
            [
                ("a@example.net", RecipientOutcome.Sent, "250 2.0.0 Ok: queued as 4F2A1C"),
                ("b@example.net", RecipientOutcome.PermanentFailure, "550 5.1.1 <b@example.net>: Recipient address rejected: User unknown"),
                ("c@example.net", RecipientOutcome.TransientFailure, "450 4.2.0 <c@example.net>: Greylisted"),
            ],
            result.Recipients.Select(r => (r.Address, r.Outcome, r.Reply?.ToString())));
        Assert.Single(server.Messages);
    }

    [Fact]
    public async Task When_every_recipient_is_refused_each_keeps_its_reply_and_no_data_is_sent()
    {
        await using var server = ScriptedSmtpServer.Start(
        [
            .. Hello,
            new On("MAIL", "250 2.1.0 Ok"),
            new On("RCPT TO:<a@example.net>", "550 5.1.1 User unknown"),
            new On("RCPT TO:<b@example.net>", "451 4.3.0 Try later"),
        ]);

        var result = await SendAsync(server, recipients: ["a@example.net", "b@example.net"]);

        Assert.Equal(
            [("a@example.net", RecipientOutcome.PermanentFailure, "550 5.1.1 User unknown"), ("b@example.net", RecipientOutcome.TransientFailure, "451 4.3.0 Try later")],
            result.Recipients.Select(r => (r.Address, r.Outcome, r.Reply?.ToString())));
        Assert.Equal(DeliveryStage.RcptTo, result.FailedAt);
        Assert.Empty(server.Messages);
        Assert.Empty(server.Problems);
    }

    [Fact]
    public async Task A_hang_up_in_the_middle_of_a_rcpt_reply_defers()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello, new On("MAIL", "250 2.1.0 Ok"), new HangUp("RCPT", "250-2.1.5")]);

        var result = await SendAsync(server);

        Assert.Equal(DeliveryStage.RcptTo, result.FailedAt);
        Assert.StartsWith($"The connection to 127.0.0.1:{server.Port} failed (RCPT TO): The SMTP server has unexpectedly disconnected", result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
    }

    // ---- DATA and the end of data

    [Theory]
    [InlineData("554 5.5.1 No valid recipients", RecipientOutcome.PermanentFailure)]
    [InlineData("451 4.3.0 Not now", RecipientOutcome.TransientFailure)]
    public async Task A_refused_data_command_decides_by_its_code(string reply, RecipientOutcome outcome)
    {
        await using var server = ScriptedSmtpServer.Start([.. Transaction, new On("DATA", reply)]);

        var result = await SendAsync(server);

        Stopped(result, DeliveryStage.Data, $"The server replied {reply} (DATA).");
        Assert.Equal((outcome, reply), (result.Recipients.Single().Outcome, result.Recipients.Single().Reply?.ToString()));
    }

    [Theory]
    [InlineData("552 5.3.4 Message size exceeds fixed limit", RecipientOutcome.PermanentFailure)]
    [InlineData("451 4.3.0 Queue file write error", RecipientOutcome.TransientFailure)]
    public async Task A_refusal_at_the_end_of_data_decides_by_its_code(string reply, RecipientOutcome outcome)
    {
        await using var server = ScriptedSmtpServer.Start([.. Transaction, new On("DATA", "354 Go ahead"), new EndOfData(reply)]);

        var result = await SendAsync(server);

        Stopped(result, DeliveryStage.Data, $"The server replied {reply} (the end of data).");
        Assert.Equal((outcome, reply), (result.Recipients.Single().Outcome, result.Recipients.Single().Reply?.ToString()));
    }

    [Fact]
    public async Task A_hang_up_after_the_message_before_its_reply_defers_so_it_is_sent_again()
    {
        await using var server = ScriptedSmtpServer.Start([.. Transaction, new On("DATA", "354 Go ahead"), new HangUp(Verb: null, AfterData: true)]);

        var result = await SendAsync(server);

        Assert.Equal(DeliveryStage.Data, result.FailedAt);
        Assert.StartsWith($"The connection to 127.0.0.1:{server.Port} failed (DATA): The SMTP server has unexpectedly disconnected", result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
        Assert.Single(server.Messages);
    }

    [Fact]
    public async Task No_answer_to_the_end_of_data_defers_after_the_command_timeout()
    {
        await using var server = ScriptedSmtpServer.Start([.. Transaction, new On("DATA", "354 Go ahead"), new Silence(Verb: null, AfterData: true)]);

        var result = await SendAsync(server, timeout: TimeSpan.FromSeconds(1));

        Stopped(result, DeliveryStage.Data, $"127.0.0.1:{server.Port} did not answer within 1 s (DATA).");
        Deferred(result, "a@example.net", reply: null);
    }

    // ---- What the classifier has never heard of

    [Fact]
    public async Task An_envelope_sender_mailkit_cannot_parse_defers_with_the_exceptions_message()
    {
        await using var server = ScriptedSmtpServer.Start([.. Hello]);

        var result = await SendAsync(server, sender: "not an address");

        Assert.Equal(DeliveryStage.MailFrom, result.FailedAt);
        Assert.StartsWith($"Unexpected failure talking to 127.0.0.1:{server.Port} (MAIL FROM): ParseException: ", result.Failure, StringComparison.Ordinal);
        Deferred(result, "a@example.net", reply: null);
    }

    [Fact]
    public void Any_exception_at_all_becomes_a_deferral_with_its_message()
    {
        var settings = Settings(2525);

        var unknown = SmtpErrorClassifier.Classify(new InvalidOperationException("The moon is in the wrong phase."), new SmtpProgress(Connected: true, "RCPT", InTransaction: true), settings, trustRejection: null);
        var hostile = SmtpErrorClassifier.Classify(new HostileException(), new SmtpProgress(Connected: true, null, InTransaction: false), settings, trustRejection: null);

        Assert.Equal(
            new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.RcptTo, "Unexpected failure talking to 127.0.0.1:2525 (RCPT TO): InvalidOperationException: The moon is in the wrong phase."),
            unknown);
        Assert.Equal(new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Connect, "Unexpected failure talking to the SMTP server."), hostile);
    }

    private static void Stopped(DeliveryResult result, DeliveryStage stage, string failure) =>
        Assert.Equal((stage, failure), (result.FailedAt, result.Failure));

    private static void Deferred(DeliveryResult result, string address, string? reply)
    {
        var recipient = Assert.Single(result.Recipients, r => r.Address == address);
        Assert.Equal((RecipientOutcome.TransientFailure, reply, result.Failure), (recipient.Outcome, recipient.Reply?.ToString(), recipient.Detail));
    }

    private static SmtpConnection Settings(int port, SmtpSecurity security = SmtpSecurity.None, string? userName = null, TimeSpan? timeout = null) => new()
    {
        Id = "scripted",
        Owner = Herald.Scopes.ScopePath.Root,
        Name = "scripted",
        Host = "127.0.0.1",
        Port = port,
        Security = security,
        Authentication = userName is null ? SmtpAuthentication.Anonymous : new SmtpAuthentication(userName, [], null),
        // The scripted server speaks no TLS: these transcripts are about its replies, not about where a password may go.
        AllowPlaintextAuth = true,
        ConnectTimeout = timeout ?? TimeSpan.FromSeconds(30),
        CommandTimeout = timeout ?? TimeSpan.FromSeconds(30),
    };

    private static Task<DeliveryResult> SendAsync(
        ScriptedSmtpServer server, SmtpSecurity security = SmtpSecurity.None, string? userName = null, TimeSpan? timeout = null, string sender = "app@example.org", string[]? recipients = null) =>
        SendAsync(server.Port, security, userName, timeout, sender, recipients);

    private static async Task<DeliveryResult> SendAsync(
        int port, SmtpSecurity security = SmtpSecurity.None, string? userName = null, TimeSpan? timeout = null, string sender = "app@example.org", string[]? recipients = null)
    {
        recipients ??= ["a@example.net"];
        using var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("app@example.org"));
        message.To.AddRange(recipients.Select(MailboxAddress.Parse));
        message.Subject = "Scripted";
        message.Body = new TextPart("plain") { Text = "Replayed.\r\n" };
        var connection = OpenedConnection.FromPlaintext(Settings(port, security, userName, timeout), userName is null ? null : "s3cret", null);
        return await new MailKitDeliveryClient().SendAsync(new DeliveryRequest(connection, message, sender, recipients), Ct);
    }

    /// <summary>An exception whose every property throws.</summary>
    private sealed class HostileException : Exception
    {
        public override string Message => throw new InvalidOperationException("no message for you");
    }
}
