using Herald.Work;
using Microsoft.Extensions.Logging;

namespace Herald.Outbox;

/// <summary>
/// Records delivery outcomes in batches, as submissions are stored, so that a busy node commits
/// once per batch rather than once per message; a message's lease is let go (no longer renewed)
/// only once its outcome is recorded (<see cref="BatchRecorder{TOutcome, TKey}"/>).
/// </summary>
public sealed class OutcomeRecorder(IOutboxStore outbox, LeaseKeeper<string> leases, TimeProvider time, ILogger<OutcomeRecorder> log)
{
    /// <summary>Most outcomes written in one transaction.</summary>
    public const int MaxBatch = BatchRecorder<AttemptOutcome, string>.MaxBatch;

    private readonly BatchRecorder<AttemptOutcome, string> _recorder = new(
        "message", outcomes => outbox.RecordAsync(outcomes, CancellationToken.None), o => o.MessageId, leases, time, log);

    /// <summary>Outcomes waiting to be written.</summary>
    public int Waiting => _recorder.Waiting;

    /// <summary>Queues an outcome for the next batch.</summary>
    public void Add(AttemptOutcome outcome) => _recorder.Add(outcome);

    /// <summary>Nothing more will be added: <see cref="RunAsync"/> ends once everything is written.</summary>
    public void Complete() => _recorder.Complete();

    /// <summary>Writes what is added, batch by batch, until <see cref="Complete"/>.</summary>
    public Task RunAsync() => _recorder.RunAsync();
}
