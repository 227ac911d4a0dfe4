using System.Collections.Concurrent;
using Herald.Work;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Tests.Work;

/// <summary>The lease keeper, written once for every kind of item, on a fake clock.</summary>
public sealed class LeaseKeeperTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(3);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Held_leases_are_renewed_together_every_third_of_a_lease_until_released()
    {
        var time = Eventually.Clock();
        var renewals = new ConcurrentQueue<(string[] Ids, DateTimeOffset Until)>();
        var keeper = Keeper(time, (ids, until) => { renewals.Enqueue((ids.Order().ToArray(), until)); return ids; });
        keeper.Hold("a", time.GetUtcNow() + Lease);
        keeper.Hold("b", time.GetUtcNow() + Lease);
        using var stop = new CancellationTokenSource();
        var running = keeper.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => { time.Advance(TimeSpan.FromSeconds(1)); return !renewals.IsEmpty; }, "a renewal");
        Assert.True(renewals.TryDequeue(out var first));
        Assert.Equal(["a", "b"], first.Ids);
        Assert.Equal(time.GetUtcNow() + Lease, first.Until);
        Assert.True(time.GetUtcNow() - Eventually.Clock().GetUtcNow() >= Lease / 3);

        keeper.Release("a");
        await Eventually.TrueAsync(() => { time.Advance(TimeSpan.FromSeconds(10)); return !renewals.IsEmpty; }, "a second renewal");
        Assert.True(renewals.TryDequeue(out var second));
        Assert.Equal(["b"], second.Ids);
        Assert.True(keeper.Holds("b"));

        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task A_lease_the_store_no_longer_gives_this_node_is_forgotten()
    {
        var time = Eventually.Clock();
        var keeper = Keeper(time, (ids, _) => ids.Where(id => id != "taken").ToArray());
        keeper.Hold("kept", time.GetUtcNow() + Lease);
        keeper.Hold("taken", time.GetUtcNow() + Lease);

        await keeper.RenewAsync(Ct);

        Assert.True(keeper.Holds("kept"));
        Assert.False(keeper.Holds("taken"));
        Assert.Equal(1, keeper.Count);
    }

    [Fact]
    public async Task A_renewal_that_fails_is_tried_again_at_the_next_round()
    {
        var time = Eventually.Clock();
        var calls = 0;
        var keeper = Keeper(time, (ids, _) => Interlocked.Increment(ref calls) == 1 ? throw new UnreachableDatabaseException() : ids);
        keeper.Hold("a", time.GetUtcNow() + Lease);
        using var stop = new CancellationTokenSource();
        var running = keeper.RunAsync(stop.Token);

        await Eventually.TrueAsync(() => { time.Advance(TimeSpan.FromSeconds(10)); return Volatile.Read(ref calls) >= 2; }, "a second round after the failure");
        Assert.False(running.IsCompleted);
        Assert.True(keeper.Holds("a"));

        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task A_round_that_ends_after_the_next_one_fell_due_is_followed_at_once()
    {
        var time = Eventually.Clock();
        var gate = new SemaphoreSlim(0);
        var renewals = new ConcurrentQueue<DateTimeOffset>();
        var keeper = new LeaseKeeper<string>("item", Lease, async (ids, until, ct) =>
        {
            renewals.Enqueue(until);
            if (renewals.Count == 1)
            {
                await gate.WaitAsync(ct);
            }

            return ids;
        }, time, NullLogger.Instance, StringComparer.Ordinal);
        keeper.Hold("a", time.GetUtcNow() + Lease);
        using var stop = new CancellationTokenSource();
        var running = keeper.RunAsync(stop.Token);

        time.Advance(Lease / 3);
        await Eventually.TrueAsync(() => renewals.Count == 1, "the first round");
        // The clock passes the second round's time while the first is still in the store.
        time.Advance(Lease / 3);
        gate.Release();

        await Eventually.TrueAsync(() => renewals.Count == 2, "the second round, without the clock moving again");
        Assert.Equal(time.GetUtcNow() + Lease, renewals.Last());

        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public void Holding_an_item_already_held_only_renews_it_and_a_lease_that_ran_out_is_not_held()
    {
        var time = Eventually.Clock();
        var keeper = Keeper(time, (ids, _) => ids);

        Assert.True(keeper.Hold("a", time.GetUtcNow() + TimeSpan.FromMinutes(1)));
        Assert.False(keeper.Hold("a", time.GetUtcNow() + TimeSpan.FromMinutes(2)));
        time.Advance(TimeSpan.FromSeconds(90));
        Assert.True(keeper.Holds("a"));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(keeper.Holds("a"));
    }

    private static LeaseKeeper<string> Keeper(TimeProvider time, Func<IReadOnlyList<string>, DateTimeOffset, IReadOnlyCollection<string>> renew) =>
        new("item", Lease, (ids, until, _) => Task.FromResult(renew(ids, until)), time, NullLogger.Instance, StringComparer.Ordinal);
}
