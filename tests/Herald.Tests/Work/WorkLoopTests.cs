using System.Threading.Channels;
using Herald.Work;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Tests.Work;

/// <summary>The one background loop, with items in memory and a fake clock (Hangfire's
/// WorkerFacts): what each kind of exception does to the item, to the others and to the loop.</summary>
public sealed class WorkLoopTests
{
    private static readonly WorkOptions ThreeTries = new() { MaxAttempts = 3, RetryDelays = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5)], InfrastructurePause = TimeSpan.FromSeconds(10) };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_item_that_keeps_throwing_is_retried_with_backoff_and_quarantined_after_the_configured_tries_while_the_others_are_done()
    {
        var time = Eventually.Clock();
        var poison = new FakeItem("poison", _ => throw new DivideByZeroException());
        var items = new FakeItems(time, new FakeItem("a"), poison, new FakeItem("c"));
        var loop = Loop(items, time);

        Assert.Equal(3, await loop.RunOnceAsync(Ct));
        Assert.Equal(["done", "pending", "done"], items.All.Select(i => i.State));
        Assert.Equal((1, time.GetUtcNow().AddMinutes(1)), (poison.Failures, poison.DueAt));

        // Not before its backoff; then a minute, then five (the last delay repeats).
        Assert.Equal(0, await loop.RunOnceAsync(Ct));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await loop.RunOnceAsync(Ct));
        Assert.Equal((2, time.GetUtcNow().AddMinutes(5)), (poison.Failures, poison.DueAt));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, await loop.RunOnceAsync(Ct));

        Assert.Equal("failed", poison.State);
        Assert.Equal(3, poison.Failures);
        Assert.Equal("DivideByZeroException: Attempted to divide by zero.", poison.LastError);
        time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(0, await loop.RunOnceAsync(Ct));
        Assert.Equal(3, poison.Runs);
    }

    [Fact]
    public async Task An_infrastructure_failure_postpones_the_item_without_counting_it()
    {
        var time = Eventually.Clock();
        var flaky = new FakeItem("flaky", run => run == 0 ? throw new UnreachableDatabaseException() : Task.CompletedTask);
        var items = new FakeItems(time, flaky);
        var loop = Loop(items, time);

        await loop.RunOnceAsync(Ct);

        Assert.Equal([(flaky, time.GetUtcNow().AddSeconds(10))], items.Postponed);
        Assert.Equal((0, "pending"), (flaky.Failures, flaky.State));
        time.Advance(TimeSpan.FromSeconds(10));
        await loop.RunOnceAsync(Ct);
        Assert.Equal((0, "done"), (flaky.Failures, flaky.State));
    }

    [Fact]
    public async Task One_items_exception_stops_neither_the_others_nor_the_running_loop()
    {
        var time = Eventually.Clock();
        var others = Enumerable.Range(0, 20).Select(i => new FakeItem($"ok-{i}")).ToArray();
        var poison = new FakeItem("poison", _ => throw new OverflowException("Arithmetic operation resulted in an overflow."));
        var items = new FakeItems(time, [poison, .. others]);
        using var stop = new CancellationTokenSource();
        var running = Loop(items, time, processors: 4).RunAsync(stop.Token);

        await Eventually.TrueAsync(() => others.All(i => i.State == "done") && poison.Failures == 1, "every other item done, the poison counted once");
        Assert.False(running.IsCompleted);
        // The loop goes on claiming: the poison, due again, fails again. The clock moves on while
        // the test waits: one step taken before the loop started its idle wait would be lost on
        // a wait begun after it (a loaded CI machine did that once).
        await Eventually.TrueAsync(() =>
        {
            time.Advance(TimeSpan.FromMinutes(1));
            return poison.Failures >= 2;
        }, "the poison tried again");
        Assert.False(running.IsCompleted);

        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task A_claim_that_fails_makes_the_loop_wait_and_claim_again()
    {
        var time = Eventually.Clock();
        var item = new FakeItem("a");
        var failures = 0;
        var items = new FakeItems(time, item) { ClaimFails = () => Interlocked.Increment(ref failures) == 1 ? new UnreachableDatabaseException() : null };
        using var stop = new CancellationTokenSource();
        var running = Loop(items, time).RunAsync(stop.Token);

        await Eventually.TrueAsync(() => Volatile.Read(ref failures) == 1, "the first claim failed");
        Assert.Equal("pending", item.State);
        // The loop waits out its pause on the clock before it claims again.
        await Eventually.TrueAsync(() => { time.Advance(TimeSpan.FromSeconds(10)); return item.State == "done"; }, "claimed after the pause");
        Assert.False(running.IsCompleted);
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task A_fatal_runtime_error_ends_the_loop_and_reaches_the_host()
    {
        var time = Eventually.Clock();
        var items = new FakeItems(time, new FakeItem("broken", _ => throw new InvalidProgramException("Common Language Runtime detected an invalid program.")));

        await Assert.ThrowsAsync<InvalidProgramException>(() => Loop(items, time).RunAsync(Ct));
    }

    [Fact]
    public async Task Stopping_the_node_ends_the_loop_without_counting_the_item_under_way()
    {
        var time = Eventually.Clock();
        var started = new TaskCompletionSource();
        using var stop = new CancellationTokenSource();
        var item = new FakeItem("slow", async _ =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, stop.Token);
        });
        var items = new FakeItems(time, item);
        var running = Loop(items, time).RunAsync(stop.Token);

        await started.Task;
        await stop.CancelAsync();
        await running;
        Assert.Equal((0, "claimed"), (item.Failures, item.State));
        Assert.Empty(items.Postponed);
    }

    [Theory]
    [InlineData(typeof(DivideByZeroException), FailureKind.Item)]
    [InlineData(typeof(OverflowException), FailureKind.Item)]
    [InlineData(typeof(InvalidOperationException), FailureKind.Item)]
    [InlineData(typeof(FormatException), FailureKind.Item)]
    [InlineData(typeof(OutOfMemoryException), FailureKind.Item)]
    [InlineData(typeof(UnreachableDatabaseException), FailureKind.Infrastructure)]
    [InlineData(typeof(IOException), FailureKind.Infrastructure)]
    [InlineData(typeof(TimeoutException), FailureKind.Infrastructure)]
    [InlineData(typeof(ChannelClosedException), FailureKind.Infrastructure)]
    [InlineData(typeof(OperationCanceledException), FailureKind.Infrastructure)]
    [InlineData(typeof(InvalidProgramException), FailureKind.Fatal)]
    [InlineData(typeof(TypeLoadException), FailureKind.Fatal)]
    [InlineData(typeof(MissingMethodException), FailureKind.Fatal)]
    public void The_failure_policy_names_what_each_exception_means(Type type, FailureKind expected)
    {
        var exception = (Exception)Activator.CreateInstance(type)!;

        Assert.Equal(expected, FailurePolicy.Classify(exception, CancellationToken.None));
    }

    [Fact]
    public void A_cancellation_while_the_node_stops_is_stopping_and_the_most_severe_inner_exception_decides()
    {
        using var stopped = new CancellationTokenSource();
        stopped.Cancel();

        Assert.Equal(FailureKind.Stopping, FailurePolicy.Classify(new OperationCanceledException(stopped.Token), stopped.Token));
        Assert.Equal(FailureKind.Infrastructure, FailurePolicy.Classify(new AggregateException(new DivideByZeroException(), new TimeoutException()), CancellationToken.None));
        Assert.Equal(FailureKind.Item, FailurePolicy.Classify(new AggregateException(new DivideByZeroException()), CancellationToken.None));
    }

    [Fact]
    public void A_failure_reason_is_one_line_of_bounded_length()
    {
        var reason = FailurePolicy.Describe(new InvalidOperationException("first line\nsecond line " + new string('x', 5000)));

        Assert.StartsWith("InvalidOperationException: first line second line", reason, StringComparison.Ordinal);
        Assert.Equal(FailurePolicy.MaxReasonLength, reason.Length);
        Assert.DoesNotContain('\n', reason);
    }

    private static WorkLoop<FakeItem> Loop(FakeItems items, TimeProvider time, int processors = 1) =>
        new(items, new WorkRoom(8), new WorkLoopSettings(8, processors, TimeSpan.FromMilliseconds(20)), signal: null, leases: null, ThreeTries, time, NullLogger.Instance);
}
