using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

namespace Herald.IntegrationTests.Outbox;

/// <summary>
/// What delivery does when the upstream misbehaves, through a real <c>herald serve</c> with
/// <c>smtp-sink</c> (or the private Postfix, where each recipient needs its own answer) as the
/// smart host. What is checked is what an operator would check: what the upstream received, each
/// recipient's state and attempt history from the API, and <c>/metrics</c>.
/// </summary>
public sealed class DeliveryFaultTests(PostfixFixture postfix)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>smtp-sink's soft refusal (its -r option) as Herald records it.</summary>
    private const string SinkSoftRefusal = "450 4.3.0 Error: command failed";

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static object Message(string to, string subject) => new { scope = "/", to = new[] { to }, subject, text = "Fault test." };

    [Theory]
    [InlineData("RCPT")]
    [InlineData("DATA")]
    [InlineData(".")]
    public async Task A_soft_refusal_defers_with_the_upstream_reply_and_the_message_is_sent_once_when_the_upstream_recovers(string refusedCommand)
    {
        using var sink = SmtpSink.Start("-r", refusedCommand);
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        var id = await OutboxNode.SendAsync(http, Message("a@example.org", $"Refused at {refusedCommand}"));

        var deferred = await MessageView.WaitAsync(http, id, m => m.Attempts.Count >= 2, "two attempts");
        var recipient = deferred.Recipient("a@example.org");
        Assert.Equal(("deferred", 450, SinkSoftRefusal), (recipient.State, recipient.LastCode, recipient.LastReply));
        Assert.All(deferred.Attempts, a => Assert.Equal(("deferred", 450, SinkSoftRefusal), (a.Outcome, a.Code, a.Reply)));
        Assert.Empty(sink.Received());

        sink.Restart();

        var sent = await MessageView.WaitAsync(http, id, m => m.Recipients.All(r => r.State == "sent"), "sent");
        var received = Assert.Single(sink.Received());
        Assert.Equal(["a@example.org"], received.Recipients);
        Assert.Equal(sent.MessageIdHeader.Trim('<', '>'), received.ToMimeMessage().MessageId);
        var last = sent.Attempts[^1];
        Assert.Equal("sent", last.Outcome);
        Assert.StartsWith("250", last.Reply, StringComparison.Ordinal);
        Assert.Equal(sent.Recipient("a@example.org").Attempts, sent.Attempts.Count);
        Assert.All(sent.Attempts.SkipLast(1), a => Assert.Equal("deferred", a.Outcome));
    }

    [Fact]
    public async Task A_hard_refusal_of_one_recipient_bounces_it_with_the_reply_and_the_other_two_are_delivered_once()
    {
        var first = PostfixFixture.NewRecipient("first");
        var rejected = PostfixFixture.NewRecipient("reject");
        var third = PostfixFixture.NewRecipient("third");
        await using var node = await OutboxNode.StartAsync(postfix.PlainPort);
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        var id = await OutboxNode.SendAsync(http, new { scope = "/", to = new[] { first, rejected, third }, subject = "One of three refused", text = "Hello." });

        var done = await MessageView.WaitAsync(http, id, m => m.Recipients.All(r => r.State is "sent" or "bounced"), "every recipient final");
        var bounced = done.Recipient(rejected);
        Assert.Equal(("bounced", 550), (bounced.State, bounced.LastCode));
        Assert.StartsWith("550 5.1.1", bounced.LastReply, StringComparison.Ordinal);
        foreach (var good in new[] { first, third })
        {
            var recipient = done.Recipient(good);
            Assert.Equal(("sent", 250, 1), (recipient.State, recipient.LastCode, recipient.Attempts));
            Assert.Contains("queued as", recipient.LastReply, StringComparison.Ordinal);
        }

        // One attempt each, and the refused one's reply in its history.
        Assert.Equal(new[] { (first, "sent"), (rejected, "bounced"), (third, "sent") }.Order(), done.Attempts.Select(a => (a.Address, a.Outcome)).Order());
        Assert.StartsWith("550 5.1.1", done.AttemptsFor(rejected).Single().Reply, StringComparison.Ordinal);

        // Postfix delivered one copy to each accepted mailbox, carrying Herald's Message-ID.
        foreach (var good in new[] { first, third })
        {
            await postfix.WaitForMessageAsync(good, Wait);
            var copy = Assert.Single(postfix.Delivered(good));
            Assert.Equal(done.MessageIdHeader.Trim('<', '>'), MimeKit.MimeMessage.Load(new MemoryStream(copy), Token).MessageId);
        }

        Assert.Empty(postfix.Delivered(rejected));
    }

    [Fact]
    public async Task A_message_whose_only_recipient_is_refused_leaves_the_pooled_connection_usable_for_the_next_one()
    {
        var deferredOnly = PostfixFixture.NewRecipient("defer");
        var next = PostfixFixture.NewRecipient("next");
        await using var node = await OutboxNode.StartAsync(postfix.PlainPort);
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        var refused = await OutboxNode.SendAsync(http, Message(deferredOnly, "Nobody accepted"));
        var first = await MessageView.WaitAsync(http, refused, m => m.Attempts.Count >= 1, "one attempt");
        // However the session that saw its only RCPT refused ends (reset and pooled, or closed),
        // the next message must not run into that transaction: Postfix refuses a nested MAIL with 503.
        var id = await OutboxNode.SendAsync(http, Message(next, "Next on the same connection"));

        var sent = await MessageView.WaitAsync(http, id, m => m.Recipients.All(r => r.State is not ("queued" or "deferred")), "final");
        Assert.Equal(("deferred", 450), (first.Recipient(deferredOnly).State, first.Recipient(deferredOnly).LastCode));
        Assert.StartsWith("450 4.2.0", first.Recipient(deferredOnly).LastReply, StringComparison.Ordinal);
        Assert.True(sent.Recipient(next).State == "sent", sent.ToString());
        await postfix.WaitForMessageAsync(next, Wait);
        Assert.Single(postfix.Delivered(next));
    }

    [Fact]
    public async Task An_upstream_that_is_down_costs_a_few_connections_then_probes_and_every_message_is_delivered_once_when_it_is_back()
    {
        using var sink = SmtpSink.Start();
        sink.Stop();
        // Where the sink listened, a server whose SMTP service died: it counts each connection and closes it.
        var dead = DeadUpstream.Start(sink.Port);
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string>
        {
            ["HERALD_Delivery__FailuresBeforeDown"] = "3",
            ["HERALD_Delivery__ProbeIntervals__0"] = "00:00:01",
        });
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            ids.Add(await OutboxNode.SendAsync(http, Message($"down{i}@example.org", $"Outage {i}")));
        }

        // After three failures in a row the connection is down, and says so.
        var deadline = DateTime.UtcNow + Wait;
        while (!(await MetricsAsync(http)).Any(l => l.StartsWith("herald_connection_down{connection=\"/:default\"} 1", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "The connection was never reported down.");
            await Task.Delay(100, Token);
        }

        Assert.Contains(await MetricsAsync(http), l => l.StartsWith("herald_connection_failing{connection=\"/:default\"} 1", StringComparison.Ordinal));
        // While it is down only probes reach the upstream, one a second here: tried one by one,
        // with a retry delay of a second, twenty messages would make some twenty connections a second.
        var before = dead.Connections;
        await Task.Delay(TimeSpan.FromSeconds(4), Token);
        Assert.InRange(dead.Connections - before, 1, 8);

        foreach (var id in ids)
        {
            var waiting = await MessageView.WaitAsync(http, id, _ => true, "the message");
            Assert.Contains(waiting.Recipients.Single().State, new[] { "queued", "deferred" });
            Assert.All(waiting.Attempts, a =>
            {
                Assert.Equal(("deferred", (int?)null), (a.Outcome, a.Code));
                // The dead server closes before its greeting.
                Assert.StartsWith($"The connection to 127.0.0.1:{sink.Port} failed (the greeting)", a.Reply, StringComparison.Ordinal);
            });
        }

        Assert.Empty(sink.Received());

        dead.Dispose();
        sink.Restart();

        var headers = new List<string>();
        foreach (var id in ids)
        {
            var sent = await MessageView.WaitAsync(http, id, m => m.Recipients.All(r => r.State == "sent"), "sent");
            headers.Add(sent.MessageIdHeader.Trim('<', '>'));
        }

        var received = sink.Received();
        Assert.Equal(headers.Order(StringComparer.Ordinal), received.Select(m => m.ToMimeMessage().MessageId).Order(StringComparer.Ordinal));
        var metrics = await MetricsAsync(http);
        Assert.Contains("herald_outbox_recipients{state=\"sent\"} 20", metrics);
        Assert.Contains("herald_outbox_recipients{state=\"deferred\"} 0", metrics);
        Assert.DoesNotContain(metrics, l => l.StartsWith("herald_connection_down", StringComparison.Ordinal) && !l.StartsWith('#'));
    }

    /// <summary>Long enough for two attempts a second apart even on a loaded CI machine (at 3 s
    /// one run saw the node's first attempt come too late for a second).</summary>
    private const string MaximumAge = "00:00:06";

    [Fact]
    public async Task A_message_still_undelivered_at_its_maximum_age_expires_and_is_not_sent_when_the_upstream_is_back()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string> { ["HERALD_Delivery__MaximumAge"] = MaximumAge });
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        var id = await OutboxNode.SendAsync(http, Message("late@example.org", "Too late"));

        var expired = await MessageView.WaitAsync(http, id, m => m.Recipients.All(r => r.State != "queued" && r.State != "deferred"), "no longer pending");
        var recipient = expired.Recipient("late@example.org");
        Assert.Equal(("expired", 450, SinkSoftRefusal), (recipient.State, recipient.LastCode, recipient.LastReply));
        Assert.True(expired.Attempts.Count >= 2, expired.ToString());
        Assert.Equal("expired", expired.Attempts[^1].Outcome);
        Assert.All(expired.Attempts.SkipLast(1), a => Assert.Equal(("deferred", SinkSoftRefusal), (a.Outcome, a.Reply)));
        var message = expired.Json.GetProperty("message");
        Assert.Equal(TimeSpan.Parse(MaximumAge, System.Globalization.CultureInfo.InvariantCulture), message.GetProperty("expiresAt").GetDateTimeOffset() - message.GetProperty("createdAt").GetDateTimeOffset());

        sink.Restart();
        // A later message goes through, so the upstream is back and the worker is claiming; then
        // the expired one has had more than a retry delay in which it must not have been sent.
        var control = await OutboxNode.SendAsync(http, Message("control@example.org", "Control"));
        await MessageView.WaitAsync(http, control, m => m.Recipients.All(r => r.State == "sent"), "sent");
        await Task.Delay(TimeSpan.FromSeconds(2), Token);

        Assert.Equal(["control@example.org"], sink.Received().SelectMany(m => m.Recipients));
        var after = await MessageView.GetAsync(http, id);
        Assert.Equal("expired", after.Recipient("late@example.org").State);
        Assert.Equal(expired.Attempts.Count, after.Attempts.Count);
    }

    [Fact]
    public async Task A_refused_password_defers_raises_the_connection_alarm_and_delivers_once_the_password_is_fixed()
    {
        var to = PostfixFixture.NewRecipient("auth");
        await using var node = await OutboxNode.StartAsync(postfix.StartTlsAuthPort);
        var wrong = await node.Cli.RunWithInputAsync("not-the-password\n", "smtp", "set", "--security", "starttls-required", "--trust-ca", postfix.Pki("ca.pem"),
            "--auth", "plain", "--username", postfix.SaslUser, "--password-stdin");
        Assert.True(wrong.ExitCode == 0, wrong.ToString());
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        var id = await OutboxNode.SendAsync(http, Message(to, "Authenticated"));

        var deferred = await MessageView.WaitAsync(http, id, m => m.Attempts.Count >= 2, "two attempts");
        Assert.Equal("deferred", deferred.Recipient(to).State);
        Assert.All(deferred.Attempts, a =>
        {
            Assert.Equal("deferred", a.Outcome);
            Assert.Contains($"The server refused authentication as '{postfix.SaslUser}'", a.Reply, StringComparison.Ordinal);
            Assert.Contains("535", a.Reply, StringComparison.Ordinal);
        });
        Assert.Contains("herald_connection_failing{connection=\"/:default\"} 1", await MetricsAsync(http));
        Assert.Empty(postfix.Delivered(to));

        var fixedPassword = await node.Cli.RunWithInputAsync(postfix.SaslPassword + "\n", "smtp", "set", "--password-stdin");
        Assert.True(fixedPassword.ExitCode == 0, fixedPassword.ToString());

        var sent = await MessageView.WaitAsync(http, id, m => m.Recipients.All(r => r.State == "sent"), "sent");
        Assert.StartsWith("250", sent.Recipient(to).LastReply, StringComparison.Ordinal);
        await postfix.WaitForMessageAsync(to, Wait);
        Assert.Single(postfix.Delivered(to));
        Assert.DoesNotContain(await MetricsAsync(http), l => l.StartsWith("herald_connection_failing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Starttls_required_defers_and_sends_nothing_in_the_clear_when_the_upstream_lacks_starttls()
    {
        // -v: smtp-sink prints every command it reads, so a MAIL sent in the clear would show.
        using var sink = SmtpSink.Start("-v");
        await using var node = await OutboxNode.StartAsync(sink.Port);
        await OutboxNode.MustAsync(node.Cli, "smtp", "set", "--security", "starttls-required");
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        var id = await OutboxNode.SendAsync(http, Message("secret@example.org", "Only over TLS"));

        var deferred = await MessageView.WaitAsync(http, id, m => m.Attempts.Count >= 2, "two attempts");
        Assert.Equal("deferred", deferred.Recipients.Single().State);
        Assert.All(deferred.Attempts, a =>
        {
            Assert.Equal("deferred", a.Outcome);
            Assert.Contains("does not offer STARTTLS and this connection requires it", a.Reply, StringComparison.Ordinal);
        });
        Assert.Contains("herald_connection_failing{connection=\"/:default\"} 1", await MetricsAsync(http));
        Assert.Empty(sink.Received());
        var conversation = sink.Output;
        Assert.True(conversation.Contains("ehlo", StringComparison.OrdinalIgnoreCase), conversation);
        Assert.False(conversation.Contains("mail from", StringComparison.OrdinalIgnoreCase), conversation);
        Assert.False(conversation.Contains("rcpt to", StringComparison.OrdinalIgnoreCase), conversation);
    }

    /// <summary>The lines of <c>/metrics</c>.</summary>
    internal static async Task<IReadOnlyList<string>> MetricsAsync(HttpClient http) =>
        (await http.GetStringAsync(new Uri("metrics", UriKind.Relative))).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
