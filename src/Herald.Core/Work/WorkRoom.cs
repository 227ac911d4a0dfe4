namespace Herald.Work;

/// <summary>
/// Room for items on this node: one slot per item from the moment it is claimed (or reserved
/// for a hand-over) until it has been worked on. Claims ask for what is free, so that a node
/// never takes more than it can work on while other nodes could.
/// </summary>
public sealed class WorkRoom(int size) : IDisposable
{
    // How long a claim waits for one more slot while the processors are busy (see GatherAsync).
    private static readonly TimeSpan GatherWait = TimeSpan.FromMilliseconds(5);

    private readonly SemaphoreSlim _slots = new(size, size);

    public int Size { get; } = size;

    /// <summary>Slots free now.</summary>
    public int Free => _slots.CurrentCount;

    /// <summary>One slot if one is free now.</summary>
    public bool TryTake() => _slots.Wait(0, CancellationToken.None);

    /// <summary>Waits for one slot.</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _slots.WaitAsync(cancellationToken);

    /// <summary>
    /// More room for the claim that is about to run, up to <paramref name="most"/> slots: all that
    /// is free now and, while the processors still have items queued (<paramref name="queued"/>;
    /// so waiting costs them nothing), what they free within a few milliseconds, until a quarter
    /// of <paramref name="most"/> is gathered. A backlog (a 100,000-member fan-out) is then
    /// claimed in transactions of dozens of items, not one transaction per freed slot: the
    /// database's writer is what such a backlog waits on.
    /// </summary>
    public async Task<int> GatherAsync(int most, Func<int> queued, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queued);
        var gathered = 0;
        while (gathered < most)
        {
            if (TryTake())
            {
                gathered++;
            }
            else if (gathered >= most / 4 || queued() == 0 || !await _slots.WaitAsync(GatherWait, cancellationToken).ConfigureAwait(false))
            {
                break;
            }
            else
            {
                gathered++;
            }
        }

        return gathered;
    }

    /// <summary>Room for up to <paramref name="most"/> items, waiting up to <paramref name="patience"/>
    /// for the first slot and taking what else is free then; 0 when none came in time. Each slot
    /// is filled or given back with <see cref="Release"/>.</summary>
    public async Task<int> ReserveAsync(int most, TimeSpan patience, CancellationToken cancellationToken)
    {
        if (most <= 0 || !await _slots.WaitAsync(patience, cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        var reserved = 1;
        while (reserved < most && TryTake())
        {
            reserved++;
        }

        return reserved;
    }

    /// <summary>Gives slots back (an item worked on, a claim that found less than it asked for).</summary>
    public void Release(int count = 1)
    {
        // SemaphoreSlim refuses a release of 0.
        if (count > 0)
        {
            _slots.Release(count);
        }
    }

    public void Dispose() => _slots.Dispose();
}
