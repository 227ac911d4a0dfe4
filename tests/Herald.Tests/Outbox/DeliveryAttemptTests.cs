using System.Diagnostics;
using Herald.Delivery;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Tests.Work;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Outbox;

/// <summary>One attempt: each recipient's state from the upstream's reply (the twins: the
/// delivery and fault tests against Postfix and smtp-sink).</summary>
public sealed class DeliveryAttemptTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Each_recipient_gets_the_state_of_its_own_reply_and_a_deferred_one_a_next_attempt()
    {
        var time = Eventually.Clock();
        await using var node = await DeliveryNode.StartAsync(time, delivery: o => (o.RetryDelays, o.Jitter) = ([TimeSpan.FromMinutes(1)], 0));
        node.Pool.Reply = request => Task.FromResult(new DeliveryResult(
            [
                new RecipientResult("sent@example.org", RecipientOutcome.Sent, new SmtpReplyText(250, "2.0.0", "Ok"), ""),
                new RecipientResult("later@example.org", RecipientOutcome.TransientFailure, new SmtpReplyText(451, "4.3.0", "Try again"), ""),
                new RecipientResult("never@example.org", RecipientOutcome.PermanentFailure, new SmtpReplyText(550, "5.1.1", "No such user"), ""),
            ], null, null, ""));

        var outcome = await Attempt(node).DeliverAsync(Claimed(time.GetUtcNow().AddDays(5), "sent@example.org", "later@example.org", "never@example.org"), Ct);

        Assert.Equal([RecipientState.Sent, RecipientState.Deferred, RecipientState.Bounced], outcome.Recipients.Select(r => r.State));
        Assert.Equal("451 4.3.0 Try again", outcome.Recipients[1].Reply);
        Assert.Equal(time.GetUtcNow().AddMinutes(1), outcome.NextAttemptAt);
    }

    [Fact]
    public async Task A_scope_that_cannot_send_defers_every_recipient_with_why_and_past_the_maximum_age_expires_them()
    {
        var time = Eventually.Clock();
        await using var node = await DeliveryNode.StartAsync(time);
        await node.Services.GetRequiredService<ISettingsStore>().AddScopeAsync(ScopePath.Parse("/off"), Ct);
        await node.Services.GetRequiredService<ISettingsStore>().SaveOutgoingAsync(new ScopeOutgoingSettings(ScopePath.Parse("/off")) { Enabled = false }, null, Ct);

        var young = await Attempt(node).DeliverAsync(Claimed(time.GetUtcNow().AddDays(5), "a@example.org") with { Scope = ScopePath.Parse("/off") }, Ct);
        var old = await Attempt(node).DeliverAsync(Claimed(time.GetUtcNow(), "a@example.org") with { Scope = ScopePath.Parse("/off") }, Ct);

        Assert.Equal(RecipientState.Deferred, Assert.Single(young.Recipients).State);
        Assert.Equal("Email is turned off for scope /off. The message waits until email is turned back on.", young.Recipients[0].Reply);
        Assert.Equal(RecipientState.Expired, Assert.Single(old.Recipients).State);
        Assert.Empty(node.Pool.Sent);
    }

    [Fact]
    public async Task Mime_that_cannot_be_read_throws_for_the_loop_to_count_against_the_message()
    {
        var time = Eventually.Clock();
        await using var node = await DeliveryNode.StartAsync(time);

        await Assert.ThrowsAsync<FormatException>(() => Attempt(node).DeliverAsync(Claimed(time.GetUtcNow().AddDays(5), "a@example.org") with { Mime = MimeData.FromBytes([]) }, Ct));
        Assert.Empty(node.Pool.Sent);
    }

    [Fact]
    public async Task An_attempt_is_a_span_in_the_trace_the_message_was_accepted_in_with_the_reply_and_each_outcome()
    {
        var time = Eventually.Clock();
        await using var node = await DeliveryNode.StartAsync(time);
        node.Pool.Reply = request => Task.FromResult(new DeliveryResult(
            [
                new RecipientResult("sent@example.org", RecipientOutcome.Sent, new SmtpReplyText(250, "2.0.0", "Ok: queued"), ""),
                new RecipientResult("never@example.org", RecipientOutcome.PermanentFailure, new SmtpReplyText(550, "5.1.1", "No such user"), ""),
            ], null, null, ""));
        var accepted = ActivityTraceId.CreateRandom();
        var acceptedSpan = ActivitySpanId.CreateRandom();
        var spans = new List<Activity>();
        // Every attempt of this process is heard; this test's is the one in its own trace.
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == Herald.Telemetry.HeraldTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                if (span.TraceId == accepted)
                {
                    lock (spans)
                    {
                        spans.Add(span);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        await Attempt(node).DeliverAsync(Claimed(time.GetUtcNow().AddDays(5), "sent@example.org", "never@example.org") with { TraceParent = $"00-{accepted}-{acceptedSpan}-01" }, Ct);

        var span = Assert.Single(spans);
        Assert.Equal(("deliver", ActivityKind.Client, acceptedSpan), (span.DisplayName, span.Kind, span.ParentSpanId));
        Assert.Equal("m1", span.GetTagItem("herald.message.id"));
        Assert.Equal("default", span.GetTagItem("herald.connection"));
        Assert.Equal(250, span.GetTagItem("herald.smtp.reply_code"));
        Assert.Equal((2, 1, 1), (span.GetTagItem("herald.recipients"), span.GetTagItem("herald.recipients.sent"), span.GetTagItem("herald.recipients.bounced")));
        Assert.Equal((ActivityStatusCode.Error, "550 5.1.1 No such user"), (span.Status, span.StatusDescription));
    }

    private static DeliveryAttempt Attempt(DeliveryNode node) => node.Services.GetRequiredService<DeliveryAttempt>();

    private static ClaimedMessage Claimed(DateTimeOffset expires, params string[] to) =>
        new("m1", ScopePath.Root, "herald@example.org", "default",
            System.Text.Encoding.ASCII.GetBytes("Message-ID: <m1@example.org>\r\nSubject: Hello\r\n\r\nBody.\r\n"),
            0, expires.AddDays(-5), expires, to.Select((a, i) => new PendingRecipient(i, a, 0)).ToArray());
}
