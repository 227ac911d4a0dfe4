using System.Net;
using System.Text;
using Herald.Relay;

namespace Herald.IntegrationTests.Relay;

/// <summary>
/// The negative tests of issue 5's "Safety" list, with a raw client that sends what no well-behaved
/// client would: what is checked is the reply the client saw, whether the connection was closed,
/// and what reached the gate.
/// </summary>
public sealed class RelaySafetyTests
{
    private static async Task<RawSmtpClient> GreetedAsync(RelayHarness relay, IPAddress? from = null)
    {
        var client = await relay.ConnectRawAsync(from);
        Assert.StartsWith("220 relay.herald.test ESMTP", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250-relay.herald.test", await client.CommandAsync("EHLO client.example"), StringComparison.Ordinal);
        return client;
    }

    private static async Task<RawSmtpClient> InDataAsync(RelayHarness relay)
    {
        var client = await GreetedAsync(relay);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.5", await client.CommandAsync("RCPT TO:<someone@herald.test>"), StringComparison.Ordinal);
        Assert.StartsWith("354 ", await client.CommandAsync("DATA"), StringComparison.Ordinal);
        return client;
    }

    [Fact]
    public async Task Client_talking_before_the_greeting_gets_554_and_is_disconnected()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await relay.ConnectRawAsync();

        await client.SendAsync("EHLO early.example\r\nMAIL FROM:<a@example.org>\r\n");

        Assert.StartsWith("554 5.5.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Empty(relay.Gate.SendersChecked);
    }

    [Fact]
    public async Task Commands_pipelined_after_starttls_are_discarded_and_the_session_starts_over()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);

        await client.SendAsync("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\nRCPT TO:<victim@herald.test>\r\n");
        Assert.StartsWith("220 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        await client.StartTlsHandshakeAsync();

        // The plain-text EHLO is forgotten too (RFC 3207 §4.2): MAIL needs a new EHLO.
        Assert.StartsWith("503 5.5.1", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
        var ehlo = await client.CommandAsync("EHLO client.example");
        Assert.DoesNotContain("STARTTLS", ehlo, StringComparison.Ordinal);
        Assert.Contains("AUTH PLAIN LOGIN", ehlo, StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
        Assert.Equal(["app@example.org"], relay.Gate.SendersChecked);
        Assert.Empty(relay.Gate.RecipientsChecked);
    }

    [Fact]
    public async Task Message_sent_before_354_gets_554_and_a_disconnect()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.5", await client.CommandAsync("RCPT TO:<someone@herald.test>"), StringComparison.Ordinal);

        await client.SendAsync("DATA\r\nSubject: blind\r\n\r\nbody\r\n.\r\n");

        Assert.StartsWith("554 5.5.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Empty(relay.Gate.Accepted);
    }

    [Theory]
    [InlineData("EHLO client.example\r\nMAIL FROM:<app@example.org>\r\n")]
    [InlineData("AUTH LOGIN\r\nYXBw\r\n")]
    public async Task Command_pipelined_after_one_that_must_end_a_group_gets_554_and_a_disconnect(string packet)
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.Rules = new RelayAuthRules(Required: false, AllowedWithoutTls: true);
        await using var client = await GreetedAsync(relay);

        await client.SendAsync(packet);

        Assert.StartsWith("554 5.5.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Empty(relay.Gate.SendersChecked);
        Assert.Empty(relay.Gate.Authentications);
    }

    [Fact]
    public async Task Pipelined_mail_rcpt_and_data_are_answered_in_order()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);

        await client.SendAsync("MAIL FROM:<app@example.org>\r\nRCPT TO:<one@herald.test>\r\nRCPT TO:<no@elsewhere.example>\r\nDATA\r\n");

        Assert.StartsWith("250 2.1.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.5", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.StartsWith("554 5.7.1", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.StartsWith("354 ", await client.ReadReplyAsync(), StringComparison.Ordinal);
        await client.SendAsync("Subject: p\r\n\r\nx\r\n.\r\n");
        Assert.StartsWith("250 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Equal(["one@herald.test"], Assert.Single(relay.Gate.Accepted).Envelope.Recipients);
    }

    /// <summary>SMTP smuggling (CVE-2023-51764 and relatives): each body holds something another
    /// server could take for the end of data, followed by a smuggled transaction; the real end
    /// follows. The whole message is refused and the smuggled commands never run.</summary>
    [Theory]
    [InlineData("bare LF", "Subject: s\r\n\r\nline\nmore\r\n")]
    [InlineData("bare CR", "Subject: s\r\n\r\nline\rmore\r\n")]
    [InlineData("LF . CRLF", "Subject: s\r\n\r\nx\n.\r\nMAIL FROM:<smuggled@evil.example>\r\nRCPT TO:<victim@herald.test>\r\nDATA\r\nevil\r\n")]
    [InlineData("CRLF . LF", "Subject: s\r\n\r\nx\r\n.\nMAIL FROM:<smuggled@evil.example>\r\nRCPT TO:<victim@herald.test>\r\nDATA\r\nevil\r\n")]
    [InlineData("LF . LF", "Subject: s\r\n\r\nx\n.\nMAIL FROM:<smuggled@evil.example>\r\n")]
    [InlineData("CR . CR", "Subject: s\r\n\r\nx\r.\rMAIL FROM:<smuggled@evil.example>\r\n")]
    [InlineData("CRLF . CR", "Subject: s\r\n\r\nx\r\n.\rMAIL FROM:<smuggled@evil.example>\r\n")]
    public async Task Ambiguous_line_ends_in_data_reject_the_whole_message(string name, string body)
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await InDataAsync(relay);

        await client.SendAsync(body + ".\r\n");

        Assert.True((await client.ReadReplyAsync())?.StartsWith("554 5.6.0", StringComparison.Ordinal), name);
        Assert.StartsWith("250 2.0.0", await client.CommandAsync("NOOP"), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.Accepted);
        Assert.Equal(["app@example.org"], relay.Gate.SendersChecked);
    }

    [Fact]
    public async Task Dot_stuffing_is_undone_and_the_bytes_reach_the_gate_unchanged()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await InDataAsync(relay);
        var latin1 = Encoding.Latin1.GetBytes("Gr\u00fc\u00dfe\r\n");

        await client.SendAsync([.. "Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n..\r\n. space\r\n"u8, .. latin1, .. "last\r\n.\r\n"u8]);

        Assert.StartsWith("250 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        byte[] expected = [.. "Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\n space\r\n"u8, .. latin1, .. "last\r\n"u8];
        Assert.Equal(expected, Assert.Single(relay.Gate.Accepted).Data);
    }

    [Fact]
    public async Task Empty_message_ends_at_the_first_dot_line()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await InDataAsync(relay);

        await client.SendAsync(".\r\n");

        Assert.StartsWith("250 2.0.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Empty(Assert.Single(relay.Gate.Accepted).Data);
    }

    /// <summary>The relay tricks of old mail systems and of <c>nmap --script smtp-open-relay</c>:
    /// refused before the gate is asked, so nothing could ever be relayed elsewhere.</summary>
    [Theory]
    [InlineData("<victim%evil.example@herald.test>", "553 5.7.1")]
    [InlineData("<@herald.test:victim@evil.example>", "553 5.7.1")]
    [InlineData("<@herald.test,@other.example:victim@evil.example>", "553 5.7.1")]
    [InlineData("<\"victim@evil.example\"@herald.test>", "553 5.7.1")]
    [InlineData("<\"victim%evil.example\"@herald.test>", "553 5.7.1")]
    [InlineData("<evil.example!victim@herald.test>", "553 5.7.1")]
    [InlineData("<victim@evil.example@herald.test>", "501 5.1.3")]
    [InlineData("victim@herald.test", "501 5.1.3")]
    [InlineData("<victim@herald.test", "501 5.1.3")]
    public async Task Relay_tricks_in_rcpt_are_refused_without_asking_the_gate(string path, string expected)
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);

        Assert.StartsWith(expected, await client.CommandAsync($"RCPT TO:{path}"), StringComparison.Ordinal);

        Assert.Empty(relay.Gate.RecipientsChecked);
    }

    [Fact]
    public async Task Address_literal_recipient_is_passed_to_the_gate_literally_and_refused_there()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);

        Assert.StartsWith("554 5.7.1", await client.CommandAsync("RCPT TO:<victim@[127.0.0.1]>"), StringComparison.Ordinal);

        Assert.Equal(["victim@[127.0.0.1]"], relay.Gate.RecipientsChecked);
    }

    [Fact]
    public async Task Command_line_longer_than_512_octets_is_refused()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);

        Assert.StartsWith("500 5.5.2", await client.CommandAsync("MAIL FROM:<" + new string('a', 500) + "@example.org>"), StringComparison.Ordinal);
        Assert.StartsWith("500 5.5.2", await client.CommandAsync("NOOP " + new string('x', 5000)), StringComparison.Ordinal);

        Assert.StartsWith("250 2.0.0", await client.CommandAsync("NOOP"), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.SendersChecked);
    }

    [Fact]
    public async Task Text_line_longer_than_1000_octets_rejects_the_message()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await InDataAsync(relay);

        await client.SendAsync("Subject: long\r\n\r\n" + new string('x', 999) + "\r\n.\r\n");

        Assert.StartsWith("554 5.6.0", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.Accepted);
    }

    [Fact]
    public async Task Recipient_beyond_the_limit_gets_452()
    {
        var options = RelayHarness.TestOptions();
        options.MaxRecipients = 2;
        await using var relay = await RelayHarness.StartAsync(options);
        await using var client = await GreetedAsync(relay);
        Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);

        Assert.StartsWith("250 2.1.5", await client.CommandAsync("RCPT TO:<one@herald.test>"), StringComparison.Ordinal);
        Assert.StartsWith("250 2.1.5", await client.CommandAsync("RCPT TO:<two@herald.test>"), StringComparison.Ordinal);
        Assert.StartsWith("452 4.5.3", await client.CommandAsync("RCPT TO:<three@herald.test>"), StringComparison.Ordinal);
        Assert.Equal(["one@herald.test", "two@herald.test"], relay.Gate.RecipientsChecked);
    }

    [Fact]
    public async Task Declared_size_over_the_limit_is_refused_at_mail()
    {
        var options = RelayHarness.TestOptions();
        options.MaxMessageBytes = 2048;
        await using var relay = await RelayHarness.StartAsync(options);
        await using var client = await GreetedAsync(relay);

        Assert.StartsWith("552 5.3.4", await client.CommandAsync("MAIL FROM:<app@example.org> SIZE=2049"), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.SendersChecked);
    }

    [Fact]
    public async Task Oversized_message_is_read_to_its_end_and_refused_with_552()
    {
        var options = RelayHarness.TestOptions();
        options.MaxMessageBytes = 2048;
        await using var relay = await RelayHarness.StartAsync(options);
        await using var client = await InDataAsync(relay);

        await client.SendAsync("Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(new string('x', 98) + "\r\n", 40)) + ".\r\n");

        Assert.StartsWith("552 5.3.4", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.StartsWith("250 2.0.0", await client.CommandAsync("NOOP"), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.Accepted);
    }

    [Fact]
    public async Task Mail_without_auth_gets_530_when_auth_is_required()
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.Rules = new RelayAuthRules(Required: true, AllowedWithoutTls: false);
        await using var client = await GreetedAsync(relay);

        Assert.StartsWith("530 5.7.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
        Assert.StartsWith("538 5.7.11", await client.CommandAsync("AUTH PLAIN AGFwcABzM2NyZXQgcGFzcw=="), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.SendersChecked);
        Assert.Empty(relay.Gate.Authentications);
    }

    [Fact]
    public async Task Repeated_auth_failures_end_the_session()
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.Rules = new RelayAuthRules(Required: true, AllowedWithoutTls: true);
        await using var client = await GreetedAsync(relay);
        var wrong = Convert.ToBase64String("\0app\0wrong"u8);

        Assert.StartsWith("535 5.7.8", await client.CommandAsync($"AUTH PLAIN {wrong}"), StringComparison.Ordinal);
        Assert.StartsWith("334 ", await client.CommandAsync("AUTH PLAIN"), StringComparison.Ordinal);
        Assert.StartsWith("535 5.7.8", await client.CommandAsync(wrong), StringComparison.Ordinal);
        Assert.StartsWith("421 4.7.0", await client.CommandAsync($"AUTH PLAIN {wrong}"), StringComparison.Ordinal);

        Assert.True(await client.IsClosedByServerAsync());
        Assert.Equal(3, relay.Gate.Authentications.Count);
    }

    [Fact]
    public async Task Too_many_errors_end_the_session_with_421()
    {
        var options = RelayHarness.TestOptions();
        options.MaxErrorsPerSession = 3;
        await using var relay = await RelayHarness.StartAsync(options);
        await using var client = await GreetedAsync(relay);

        Assert.StartsWith("500 5.5.2", await client.CommandAsync("BOGUS"), StringComparison.Ordinal);
        Assert.StartsWith("503 5.5.1", await client.CommandAsync("RCPT TO:<a@herald.test>"), StringComparison.Ordinal);
        await client.SendAsync("NONSENSE\r\n");

        Assert.Equal("500 5.5.2 Command unrecognized\n421 4.7.0 Too many errors, closing connection", $"{await client.ReadReplyAsync()}\n{await client.ReadReplyAsync()}");
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Too_many_commands_end_the_session_with_421()
    {
        var options = RelayHarness.TestOptions();
        options.MaxCommandsPerSession = 10;
        await using var relay = await RelayHarness.StartAsync(options);
        await using var client = await GreetedAsync(relay);

        for (var i = 2; i <= 10; i++)
        {
            Assert.StartsWith("250 2.0.0", await client.CommandAsync("NOOP"), StringComparison.Ordinal);
        }

        Assert.StartsWith("421 4.7.0", await client.CommandAsync("NOOP"), StringComparison.Ordinal);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Legitimate_client_gets_its_greeting_while_50_idle_connections_are_open()
    {
        await using var relay = await RelayHarness.StartAsync();
        var idle = new List<RawSmtpClient>();
        try
        {
            for (var i = 0; i < 50; i++)
            {
                idle.Add(await relay.ConnectRawAsync());
            }

            // From another address: the 50 idle ones use up what one address may hold (the default per-address limit).
            await using var client = await GreetedAsync(relay, IPAddress.Parse("127.0.0.2"));
            Assert.StartsWith("250 2.1.0", await client.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
            Assert.Equal(51, relay.Server.OpenSessions);
        }
        finally
        {
            foreach (var connection in idle)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Sessions_beyond_the_per_address_limit_get_421_while_another_address_is_served()
    {
        var options = RelayHarness.TestOptions();
        options.MaxSessionsPerAddress = 2;
        await using var relay = await RelayHarness.StartAsync(options);
        await using var first = await GreetedAsync(relay);
        await using var second = await GreetedAsync(relay);

        await using var third = await relay.ConnectRawAsync();
        Assert.StartsWith("421 4.7.0", await third.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.True(await third.IsClosedByServerAsync());

        await using var other = await GreetedAsync(relay, IPAddress.Parse("127.0.0.2"));
        Assert.StartsWith("250 2.1.0", await other.CommandAsync("MAIL FROM:<app@example.org>"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sessions_beyond_the_overall_limit_get_421()
    {
        var options = RelayHarness.TestOptions();
        options.MaxSessions = 2;
        await using var relay = await RelayHarness.StartAsync(options);
        await using var first = await GreetedAsync(relay);
        await using var second = await GreetedAsync(relay, IPAddress.Parse("127.0.0.2"));

        await using var third = await relay.ConnectRawAsync(IPAddress.Parse("127.0.0.3"));

        Assert.StartsWith("421 4.7.0", await third.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.True(await third.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Client_refused_by_the_gate_sees_its_reply_and_is_disconnected()
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.AdmitReply = new SmtpReply(554, "5.7.1", "Access denied");
        await using var client = await relay.ConnectRawAsync();

        Assert.Equal("554 5.7.1 Access denied", await client.ReadReplyAsync());
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Shutdown_tells_open_sessions_421()
    {
        var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);

        await relay.DisposeAsync();

        Assert.StartsWith("421 4.3.2", await client.ReadReplyAsync(), StringComparison.Ordinal);
        Assert.True(await client.IsClosedByServerAsync());
    }

    /// <summary>A client that stops talking (between commands, or in the middle of DATA) is
    /// told 421 4.4.2 once its deadline passes on the server's clock, and disconnected.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Silent_client_gets_421_when_its_deadline_passes(bool inData)
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var options = RelayHarness.TestOptions();
        options.GreetingDelay = TimeSpan.Zero;
        await using var relay = await RelayHarness.StartAsync(options, time: time);
        await using var client = inData ? await InDataAsync(relay) : await GreetedAsync(relay);
        if (inData)
        {
            await client.SendAsync("Subject: half a message\r\n");
        }

        // The session arms its deadline right after its last reply; advance until it has fired.
        var reply = client.ReadReplyAsync();
        while (!reply.IsCompleted)
        {
            time.Advance(options.DataTimeout);
            await Task.WhenAny(reply, Task.Delay(50, TestContext.Current.CancellationToken));
        }

        Assert.StartsWith("421 4.4.2", await reply, StringComparison.Ordinal);
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Empty(relay.Gate.Accepted);
    }

    [Fact]
    public async Task Vrfy_is_answered_252_without_verifying()
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await GreetedAsync(relay);

        Assert.StartsWith("252 2.5.0", await client.CommandAsync("VRFY postmaster"), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.RecipientsChecked);
    }

    [Theory]
    [InlineData("MAIL FROM:<app@example.org>", "503 5.5.1")]
    [InlineData("RCPT TO:<someone@herald.test>", "503 5.5.1")]
    [InlineData("DATA", "503 5.5.1")]
    [InlineData("STARTTLS", "503 5.5.1")]
    public async Task Commands_out_of_sequence_get_503(string command, string expected)
    {
        await using var relay = await RelayHarness.StartAsync();
        await using var client = await relay.ConnectRawAsync();
        Assert.StartsWith("220 ", await client.ReadReplyAsync(), StringComparison.Ordinal);

        Assert.StartsWith(expected, await client.CommandAsync(command), StringComparison.Ordinal);
        Assert.Empty(relay.Gate.SendersChecked);
    }
}
