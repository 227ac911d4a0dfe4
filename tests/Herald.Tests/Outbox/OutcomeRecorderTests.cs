using Herald.Outbox;
using Herald.Scopes;
using Herald.Tests.Work;
using Herald.Work;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Tests.Outbox;

/// <summary>The outcome recorder with a store in memory (its twin: the outbox store on both
/// engines, and every delivery test of herald serve).</summary>
public sealed class OutcomeRecorderTests
{
    [Fact]
    public async Task Outcomes_waiting_are_recorded_in_one_batch_and_only_then_are_their_leases_let_go()
    {
        var time = Eventually.Clock();
        var store = new BatchStore();
        var leases = Leases(time, "a", "b", "c");
        var recorder = new OutcomeRecorder(store, leases, time, NullLogger<OutcomeRecorder>.Instance);
        foreach (var id in new[] { "a", "b", "c" })
        {
            recorder.Add(Outcome(id));
        }

        Assert.Equal(3, leases.Count);
        recorder.Complete();
        await recorder.RunAsync();

        Assert.Equal([["a", "b", "c"]], store.Batches);
        Assert.Equal(0, leases.Count);
    }

    [Fact]
    public async Task A_batch_the_database_refuses_is_written_again_with_nothing_lost()
    {
        var time = Eventually.Clock();
        var attempts = 0;
        var store = new BatchStore { Fail = _ => Interlocked.Increment(ref attempts) <= 2 ? new UnreachableDatabaseException() : null };
        var leases = Leases(time, "a");
        var recorder = new OutcomeRecorder(store, leases, time, NullLogger<OutcomeRecorder>.Instance);
        recorder.Add(Outcome("a"));
        recorder.Complete();

        var running = recorder.RunAsync();
        await Eventually.TrueAsync(() => { time.Advance(TimeSpan.FromSeconds(1)); return running.IsCompleted; }, "recorded after the database came back");
        await running;

        Assert.Equal([["a"]], store.Batches);
        Assert.Equal(0, leases.Count);
    }

    [Fact]
    public async Task An_outcome_the_store_refuses_for_itself_is_dropped_alone_and_the_others_are_recorded()
    {
        var time = Eventually.Clock();
        var store = new BatchStore { Fail = batch => batch.Any(o => o.MessageId == "poison") ? new InvalidOperationException("cannot store this reply") : null };
        var leases = Leases(time, "a", "poison", "c");
        var recorder = new OutcomeRecorder(store, leases, time, NullLogger<OutcomeRecorder>.Instance);
        foreach (var id in new[] { "a", "poison", "c" })
        {
            recorder.Add(Outcome(id));
        }

        recorder.Complete();
        await recorder.RunAsync();

        Assert.Equal([["a"], ["c"]], store.Batches);
        // Let go too: its lease runs out and the message is tried again (at-least-once).
        Assert.Equal(0, leases.Count);
    }

    private static LeaseKeeper<string> Leases(TimeProvider time, params string[] ids)
    {
        var keeper = new LeaseKeeper<string>("message", TimeSpan.FromMinutes(2), (held, _, _) => Task.FromResult<IReadOnlyCollection<string>>(held.ToArray()), time, NullLogger.Instance);
        foreach (var id in ids)
        {
            keeper.Hold(id, time.GetUtcNow().AddMinutes(2));
        }

        return keeper;
    }

    private static AttemptOutcome Outcome(string id) =>
        new(id, "node-a", DateTimeOffset.UnixEpoch, [new RecipientUpdate(0, RecipientState.Sent, 250, "250 ok")], DateTimeOffset.UnixEpoch);

    private sealed class BatchStore : IOutboxStore
    {
        public List<string[]> Batches { get; } = [];

        public Func<IReadOnlyList<AttemptOutcome>, Exception?> Fail { get; init; } = _ => null;

        public Task<int> RecordAsync(IReadOnlyList<AttemptOutcome> outcomes, CancellationToken cancellationToken)
        {
            if (Fail(outcomes) is { } error)
            {
                throw error;
            }

            Batches.Add(outcomes.Select(o => o.MessageId).ToArray());
            return Task.FromResult(outcomes.Count);
        }

        public Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<ClaimedMessage>> ClaimAsync(string node, IReadOnlyCollection<string>? connections, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<int> ResumeAsync(string connection, DateTimeOffset now, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<int> ResumeScopeAsync(Herald.Scopes.ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyDictionary<string, long>> CountWaitingAsync(IReadOnlyCollection<string> connections, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<string>> RenewAsync(string node, IReadOnlyList<string> ids, DateTimeOffset until, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<MessageDetails?> GetAsync(string id, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyList<MessageSummary>> ListAsync(MessageFilter filter, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<int> RetryAsync(string id, DateTimeOffset now, DateTimeOffset newExpiry, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<int> CancelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<long> CountFailedAsync(ScopePath scope, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IReadOnlyDictionary<RecipientState, long>> CountByStateAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
