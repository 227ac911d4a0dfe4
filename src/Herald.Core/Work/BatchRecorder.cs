using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Herald.Work;

/// <summary>
/// Records outcomes in batches, so that a busy node commits once per batch rather than once per
/// item; an item's lease is let go (no longer renewed) only once its outcome is recorded. Written
/// once for every leased kind of item (messages, webhook deliveries).
/// </summary>
public sealed partial class BatchRecorder<TOutcome, TKey>(
    string kind,
    Func<IReadOnlyList<TOutcome>, Task> write,
    Func<TOutcome, TKey> keyOf,
    LeaseKeeper<TKey> leases,
    TimeProvider time,
    ILogger log) where TKey : notnull
{
    /// <summary>Most outcomes written in one transaction.</summary>
    public const int MaxBatch = 512;

    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(5);

    private readonly Channel<TOutcome> _outcomes = Channel.CreateUnbounded<TOutcome>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Outcomes waiting to be written.</summary>
    public int Waiting => _outcomes.Reader.Count;

    /// <summary>Queues an outcome for the next batch.</summary>
    public void Add(TOutcome outcome) => _outcomes.Writer.TryWrite(outcome);

    /// <summary>Nothing more will be added: <see cref="RunAsync"/> ends once everything is written.</summary>
    public void Complete() => _outcomes.Writer.TryComplete();

    /// <summary>Writes what is added, batch by batch, until <see cref="Complete"/>.</summary>
    public async Task RunAsync()
    {
        var batch = new List<TOutcome>(MaxBatch);
        while (await _outcomes.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < MaxBatch && _outcomes.Reader.TryRead(out var outcome))
            {
                batch.Add(outcome);
            }

            await RecordAsync(batch).ConfigureAwait(false);
            batch.Clear();
        }
    }

    /// <summary>
    /// Never given up while the database fails: these outcomes exist nowhere else, and the work
    /// was done. They are written again (every five seconds at most) and their leases renewed
    /// meanwhile, so that no node does the work again. An outcome the database refuses for
    /// itself (the failure policy says it is that outcome's fault) is written alone and, if it
    /// fails alone, dropped: its lease runs out and the item is tried again (at-least-once),
    /// instead of one outcome holding up every other.
    /// </summary>
    private async Task RecordAsync(List<TOutcome> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await write(batch).ConfigureAwait(false);
                Release(batch);
                return;
            }
            catch (Exception ex)
            {
                switch (FailurePolicy.Classify(ex, CancellationToken.None))
                {
                    case FailureKind.Fatal:
                        throw;
                    case FailureKind.Item when batch.Count > 1:
                        foreach (var outcome in batch)
                        {
                            await RecordAsync([outcome]).ConfigureAwait(false);
                        }

                        return;
                    case FailureKind.Item:
                        LogOutcomeDropped(log, kind, keyOf(batch[0])?.ToString() ?? "", ex);
                        Release(batch);
                        return;
                    default:
                        LogRecordFailed(log, batch.Count, kind, ex);
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(200 * attempt, LongestPause.TotalMilliseconds)), time, CancellationToken.None).ConfigureAwait(false);
                        break;
                }
            }
        }
    }

    private void Release(IReadOnlyList<TOutcome> recorded)
    {
        foreach (var outcome in recorded)
        {
            leases.Release(keyOf(outcome));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording {Count} {Kind} outcome(s) failed; retrying")]
    private static partial void LogRecordFailed(ILogger logger, int count, string kind, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "The outcome of {Kind} {Name} cannot be recorded; its lease runs out and it is tried again")]
    private static partial void LogOutcomeDropped(ILogger logger, string kind, string name, Exception exception);
}
