using Herald.Delivery;
using Herald.Outbox;
using Herald.Tests.Work;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Outbox;

/// <summary>The send loop and its parts together, on real SQLite with an upstream in memory
/// (the integration twins run herald serve against smtp-sink).</summary>
public sealed class DeliveryWorkerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_due_message_is_claimed_sent_and_its_outcome_recorded()
    {
        await using var node = await DeliveryNode.StartAsync(TimeProvider.System);
        var id = await node.StoreAsync("m1", TimeProvider.System.GetUtcNow(), to: ["a@example.org", "b@example.org"]);
        using var worker = node.Worker();

        await worker.StartAsync(Ct);
        await Eventually.TrueAsync(() => node.RecipientStatesAsync(id).Result.All(s => s == "sent"), "both recipients sent");
        await worker.StopAsync(Ct);

        var sent = Assert.Single(node.Pool.Sent);
        Assert.Equal(["a@example.org", "b@example.org"], sent.Recipients);
        var row = await node.RowAsync(id);
        Assert.Equal(("done", 0L, (string?)null, (string?)null), (row.State, row.Failures, row.LastError, row.LeaseOwner));
    }

    [Fact]
    public async Task A_message_that_cannot_be_parsed_is_retried_then_quarantined_while_the_others_are_sent()
    {
        await using var node = await DeliveryNode.StartAsync(
            TimeProvider.System, work: o => (o.MaxAttempts, o.RetryDelays) = (2, [TimeSpan.FromMilliseconds(50)]));
        var now = TimeProvider.System.GetUtcNow();
        // No header block ends: MimeKit cannot read a message out of it.
        var poison = await node.StoreAsync("poison", now, mime: []);
        var good = await node.StoreAsync("good", now);
        using var worker = node.Worker();

        await worker.StartAsync(Ct);
        await Eventually.TrueAsync(() => node.RowAsync(poison).Result.State == "failed", "the poison quarantined");
        await Eventually.TrueAsync(() => node.RecipientStatesAsync(good).Result.Single() == "sent", "the other message sent");
        await worker.StopAsync(Ct);

        var row = await node.RowAsync(poison);
        Assert.Equal(2, row.Failures);
        Assert.StartsWith("FormatException: ", row.LastError, StringComparison.Ordinal);
        Assert.Equal(["failed"], await node.RecipientStatesAsync(poison));
        Assert.DoesNotContain(node.Pool.Sent, r => r.Message.MessageId == "poison@example.org");
        // Listed and retried as an administrator would: the recipient is due again, with every try.
        Assert.Equal(poison, Assert.Single(await node.Outbox.ListAsync(new MessageFilter(Herald.Scopes.ScopePath.Root, RecipientState.Failed), Ct)).Id);
        Assert.Equal(1, await node.Outbox.RetryAsync(poison, TimeProvider.System.GetUtcNow(), now.AddDays(5), Ct));
        var retried = await node.RowAsync(poison);
        Assert.Equal(("pending", 0L), (retried.State, retried.Failures));
    }

    [Fact]
    public async Task A_message_waiting_for_a_connection_slot_keeps_its_lease_renewed_and_no_other_node_claims_it()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 3, 4, 9, 0, 0, TimeSpan.Zero));
        var lease = TimeSpan.FromMinutes(3);
        await using var node = await DeliveryNode.StartAsync(time, delivery: o => o.Lease = lease);
        var slot = new TaskCompletionSource();
        var waiting = new TaskCompletionSource();
        node.Pool.Reply = async request =>
        {
            waiting.TrySetResult();
            await slot.Task;
            return RecordingPool.Accepted(request);
        };
        var id = await node.StoreAsync("m1", time.GetUtcNow());
        using var worker = node.Worker();
        await worker.StartAsync(Ct);
        await waiting.Task.WaitAsync(Ct);

        // Three leases later the message still waits, and its lease runs a full lease ahead.
        for (var round = 0; round < 9; round++)
        {
            var before = (await node.RowAsync(id)).LeaseUntil;
            time.Advance(lease / 3);
            // The keeper may set its next timer only after the clock moved (a busy machine): the
            // clock is nudged on until it renews, as real time would go on.
            await Eventually.TrueAsync(
                () =>
                {
                    if (node.RowAsync(id).Result.LeaseUntil > before)
                    {
                        return true;
                    }

                    time.Advance(TimeSpan.FromSeconds(1));
                    return false;
                },
                "the lease renewed");
        }

        // Renewed within the last third of a lease: it runs at least two thirds of a lease ahead.
        var leaseUntil = DateTimeOffset.FromUnixTimeMilliseconds((await node.RowAsync(id)).LeaseUntil!.Value);
        Assert.InRange(leaseUntil - time.GetUtcNow(), lease - (lease / 3), lease);
        Assert.Empty(await node.Outbox.ClaimAsync("node-b", null, 10, time.GetUtcNow(), lease, Ct));

        slot.SetResult();
        await Eventually.TrueAsync(() => node.RecipientStatesAsync(id).Result.Single() == "sent", "sent once the slot came");
        await worker.StopAsync(Ct);
        Assert.Single(node.Pool.Sent);
    }

    [Fact]
    public async Task A_message_stored_through_the_writer_goes_straight_to_the_senders_leased_to_this_node()
    {
        await using var node = await DeliveryNode.StartAsync(TimeProvider.System);
        using var worker = node.Worker();
        await worker.StartAsync(Ct);
        var capacity = node.Services.GetRequiredService<DeliveryCapacity>();
        // The room opens with the send loop's first claim (which tells it the connections it may use).
        NewMessage? probe = null;
        await Eventually.TrueAsync(() => (probe = capacity.Lease([Message("probe")]).Single()).Lease is not null, "the room open");
        capacity.Abandon([probe!]);

        var writer = node.Services.GetRequiredService<OutboxWriter>();
        var stored = await writer.EnqueueAsync([Message("handed")], Ct);

        await Eventually.TrueAsync(() => node.Pool.Sent.Any(r => r.Message.MessageId == "handed@example.org"), "sent");
        await Eventually.TrueAsync(() => node.RecipientStatesAsync(stored[0].Id).Result.Single() == "sent", "recorded");
        await worker.StopAsync(Ct);
    }

    private static NewMessage Message(string id)
    {
        var now = TimeProvider.System.GetUtcNow();
        return new NewMessage(
            id, Herald.Scopes.ScopePath.Root, MessageSource.Api, "herald@example.org", "default", $"<{id}@example.org>",
            System.Text.Encoding.ASCII.GetBytes($"Message-ID: <{id}@example.org>\r\nSubject: {id}\r\n\r\nBody.\r\n"), ["a@example.org"], null, now, now.AddDays(5));
    }
}
