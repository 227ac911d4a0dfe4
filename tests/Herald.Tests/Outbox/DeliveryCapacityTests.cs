using System.Collections.Concurrent;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Tests.Work;
using Microsoft.Extensions.Options;

namespace Herald.Tests.Outbox;

/// <summary>The room the writer and the mailer lease messages into, through its narrow interface.</summary>
public sealed class DeliveryCapacityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Nothing_is_leased_before_the_send_loop_opens_the_room_nor_after_it_closes()
    {
        using var capacity = Capacity(out _);
        Assert.Null(capacity.Lease([Message("before")]).Single().Lease);

        Open(capacity, new ConcurrentQueue<ClaimedMessage>());
        Assert.NotNull(capacity.Lease([Message("open")]).Single().Lease);

        capacity.Close();
        Assert.Null(capacity.Lease([Message("after")]).Single().Lease);
    }

    [Fact]
    public void Messages_are_leased_to_this_node_while_there_is_room_and_the_rest_are_stored_unleased()
    {
        using var capacity = Capacity(out var time);
        Open(capacity, new ConcurrentQueue<ClaimedMessage>());

        var leased = capacity.Lease([Message("1"), Message("2"), Message("3")]);

        // Room for twice the senders (one): two messages.
        Assert.Equal([true, true, false], leased.Select(m => m.Lease is not null));
        Assert.Equal(new MessageLease("node-a", time.GetUtcNow() + TimeSpan.FromMinutes(2)), leased[0].Lease);
        Assert.Equal(0, capacity.Room.Free);
    }

    [Fact]
    public void A_message_for_a_connection_this_node_may_not_use_is_not_leased()
    {
        using var capacity = Capacity(out _);
        Open(capacity, new ConcurrentQueue<ClaimedMessage>(), allowed: ["eu"]);

        var leased = capacity.Lease([Message("us", connection: "us"), Message("eu", connection: "eu")]);

        Assert.Equal([false, true], leased.Select(m => m.Lease is not null));
    }

    [Fact]
    public void Stored_messages_reach_the_send_loop_and_a_duplicate_or_an_abandoned_commit_gives_its_room_back()
    {
        using var capacity = Capacity(out _);
        var taken = new ConcurrentQueue<ClaimedMessage>();
        Open(capacity, taken);
        var leased = capacity.Lease([Message("new"), Message("duplicate")]);

        capacity.Deliver(leased, [new EnqueueResult("new", false), new EnqueueResult("original", true)]);

        var claimed = Assert.Single(taken);
        Assert.Equal("new", claimed.Id);
        Assert.Equal(leased[0].Lease!.Until, claimed.LeaseUntil);
        Assert.Equal(1, capacity.Room.Free);

        capacity.Abandon(capacity.Lease([Message("lost")]));
        Assert.Equal(1, capacity.Room.Free);
    }

    [Fact]
    public async Task A_fan_out_waits_for_room_and_leases_what_there_is_room_for()
    {
        using var capacity = Capacity(out _);
        Open(capacity, new ConcurrentQueue<ClaimedMessage>());
        var first = capacity.Lease([Message("1"), Message("2")]);

        // No room: nothing within the patience.
        Assert.Empty(await capacity.LeaseWhenRoomAsync([Message("3")], TimeSpan.Zero, Ct));

        capacity.Deliver(first, [new EnqueueResult("1", false), new EnqueueResult("2", false)]);
        capacity.Room.Release(2); // the senders sent both
        var part = await capacity.LeaseWhenRoomAsync([Message("3"), Message("4"), Message("5")], TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(["3", "4"], part.Select(m => m.Id));
        Assert.All(part, m => Assert.NotNull(m.Lease));
    }

    private static DeliveryCapacity Capacity(out TimeProvider time)
    {
        time = Eventually.Clock();
        return new DeliveryCapacity(Options.Create(new DeliveryOptions { Concurrency = 1 }), new NodeIdentity("node-a", []), time);
    }

    private static void Open(DeliveryCapacity capacity, ConcurrentQueue<ClaimedMessage> taken, IReadOnlyCollection<string>? allowed = null)
    {
        capacity.Open(message =>
        {
            taken.Enqueue(message);
            return true;
        });
        capacity.Allow(allowed);
    }

    private static NewMessage Message(string id, string? connection = null) =>
        new(id, ScopePath.Root, MessageSource.Api, "herald@example.org", connection, $"<{id}@example.org>", MimeData.FromBytes([]), ["a@example.org"], null,
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(5));
}
