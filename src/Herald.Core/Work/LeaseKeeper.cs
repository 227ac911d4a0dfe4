using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Herald.Work;

/// <summary>Renews, in the store, the leases a node still holds among <paramref name="keys"/>,
/// until <paramref name="until"/>; returns those it still held (one recorded meanwhile, or taken
/// over by another node after its lease ran out, is not extended).</summary>
public delegate Task<IReadOnlyCollection<TKey>> RenewLeases<TKey>(IReadOnlyList<TKey> keys, DateTimeOffset until, CancellationToken cancellationToken);

/// <summary>Something that runs beside a loop for as long as it runs.</summary>
public interface IBesideLoop
{
    Task RunAsync(CancellationToken stopping);
}

/// <summary>
/// The leases one kind of item that this node holds, renewed together every third of a lease for
/// as long as the node holds them (Hangfire's heartbeat, written once): from the claim (or the
/// hand-over at insert) until the item's outcome is recorded. at-least-once, not twice: an item
/// waiting here (for a connection slot, behind a long fan-out) keeps its lease, so that no other
/// node works on it meanwhile; only the leases of a node that died (or lost the database) run out.
/// </summary>
public sealed partial class LeaseKeeper<TKey> : IBesideLoop where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, DateTimeOffset> _held;
    private readonly string _kind;
    private readonly TimeSpan _lease;
    private readonly RenewLeases<TKey> _renew;
    private readonly TimeProvider _time;
    private readonly ILogger _log;

    public LeaseKeeper(string kind, TimeSpan lease, RenewLeases<TKey> renew, TimeProvider time, ILogger log, IEqualityComparer<TKey>? comparer = null)
    {
        _kind = kind;
        _lease = lease;
        _renew = renew;
        _time = time;
        _log = log;
        _held = new ConcurrentDictionary<TKey, DateTimeOffset>(comparer);
    }

    public TimeSpan Lease => _lease;

    /// <summary>Leases held now.</summary>
    public int Count => _held.Count;

    /// <summary>Notes a lease this node has just taken, until <paramref name="until"/>; false when
    /// the item is already held here (its lease ran out while renewals failed and the node claimed
    /// it again): the new claim has only renewed the lease, and the item must not be worked on twice.</summary>
    public bool Hold(TKey key, DateTimeOffset until)
    {
        while (true)
        {
            if (_held.TryAdd(key, until))
            {
                return true;
            }

            // Released meanwhile: the next round adds it afresh.
            if (_held.TryGetValue(key, out var known) && _held.TryUpdate(key, until, known))
            {
                return false;
            }
        }
    }

    /// <summary>Whether this node still holds the item's lease as far as it knows: held, and not
    /// run out (renewals failing until it did would let another node take the item).</summary>
    public bool Holds(TKey key) => _held.TryGetValue(key, out var until) && until > _time.GetUtcNow();

    /// <summary>The item's outcome is recorded (or it is given up): nothing more to renew.</summary>
    public void Release(TKey key) => _held.TryRemove(key, out _);

    /// <summary>Renews every lease held, every third of a lease, until <paramref name="stopping"/>.</summary>
    /// <remarks>Rounds keep to a schedule set at the start, not to "a third after the last one
    /// ended": a round that ends late (a slow database, or a clock moved on meanwhile) is followed
    /// at once by the next one that fell due, so the leases never lag a whole round behind; a node
    /// that was suspended for longer skips the rounds it missed and renews once.</remarks>
    public async Task RunAsync(CancellationToken stopping)
    {
        var round = _lease / 3;
        var next = _time.GetUtcNow() + round;
        while (true)
        {
            try
            {
                var wait = next - _time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time, stopping).ConfigureAwait(false);
                }
                else
                {
                    stopping.ThrowIfCancellationRequested();
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await RenewAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                switch (FailurePolicy.Classify(ex, stopping))
                {
                    case FailureKind.Stopping:
                        return;
                    case FailureKind.Fatal:
                        throw;
                    default:
                        // Tried again at the next round; a lease that runs out meanwhile lets
                        // another node take the item, which is what a lease is for.
                        LogRenewFailed(_log, _held.Count, _kind, ex);
                        break;
                }
            }

            next += round;
            var now = _time.GetUtcNow();
            if (now - next > round)
            {
                next = now;
            }
        }
    }

    /// <summary>One round: extends every lease held; forgets those the store no longer gives this node.</summary>
    public async Task RenewAsync(CancellationToken cancellationToken)
    {
        var held = _held.ToArray();
        if (held.Length == 0)
        {
            return;
        }

        var until = _time.GetUtcNow() + _lease;
        var renewed = (await _renew(held.Select(h => h.Key).ToArray(), until, cancellationToken).ConfigureAwait(false)).ToHashSet(_held.Comparer);
        foreach (var entry in held)
        {
            // Each entry changes only if nothing changed it meanwhile (a new claim).
            if (renewed.Contains(entry.Key))
            {
                _held.TryUpdate(entry.Key, until, entry.Value);
            }
            else
            {
                // Recorded meanwhile, or taken over by another node: not ours any more.
                _held.TryRemove(entry);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Renewing the leases of {Count} {Kind}(s) failed; trying again")]
    private static partial void LogRenewFailed(ILogger logger, int count, string kind, Exception exception);
}
