namespace Herald.Outbox;

/// <summary>
/// Messages this node stores go straight to its own delivery worker, already leased to it,
/// instead of being claimed back from the database: no claim transaction, no reading the MIME
/// back, no parsing it again. Only what the worker has room for is handed over; everything else
/// is stored unleased and claimed as usual. at-least-once holds as for a claim: the lease is
/// stored with the message, so if this node dies the lease runs out and any node sends it.
/// </summary>
public sealed class DeliveryHandoff
{
    // The running worker of this node, if any; it comes and goes with herald serve's host.
    private DeliveryWorker? _worker;

    /// <summary>The messages as they are to be stored: leased to this node when its worker takes
    /// them, unchanged otherwise (no worker running, no room, a connection left to other nodes).
    /// A message leased already (<see cref="LeaseWhenRoomAsync"/>) keeps its lease.</summary>
    public NewMessage[] Lease(IEnumerable<NewMessage> messages)
    {
        var worker = Volatile.Read(ref _worker);
        // A message whose bytes are not in memory (a spooled relay transfer) is claimed and read
        // back from the outbox instead: its spool file is gone once the message is stored.
        return messages.Select(m => m.Lease is not null || m.Mime.Bytes is null ? m : worker?.TryLease(m) ?? m).ToArray();
    }

    /// <summary>
    /// For one who stores many messages at once (a notification fan-out): waits up to
    /// <paramref name="patience"/> until this node's worker has room, and leases to it as many of
    /// <paramref name="messages"/>, from the first, as it has room for. Stored so, they go
    /// straight to the worker; stored faster than it sends, they would wait unleased, to be
    /// claimed, read back and parsed again. Empty when no worker runs here, none of its room
    /// came in time, or the first message's connection is left to other nodes. Each message
    /// returned holds room until it is handed to the outbox writer, which delivers or abandons it.
    /// </summary>
    public async Task<IReadOnlyList<NewMessage>> LeaseWhenRoomAsync(IReadOnlyList<NewMessage> messages, TimeSpan patience, CancellationToken cancellationToken)
    {
        var worker = Volatile.Read(ref _worker);
        if (worker is null || messages.Count == 0 || !worker.Accepts(messages[0]))
        {
            return [];
        }

        var room = await worker.ReserveAsync(messages.Count, patience, cancellationToken).ConfigureAwait(false);
        var leased = new List<NewMessage>(room);
        while (leased.Count < room && worker.Accepts(messages[leased.Count]))
        {
            leased.Add(worker.Leased(messages[leased.Count]));
        }

        for (var unused = room - leased.Count; unused > 0; unused--)
        {
            worker.GiveBack();
        }

        return leased;
    }

    /// <summary>After the commit: the leased messages go to the worker. A duplicate was not
    /// stored (the original stands), so its room is given back.</summary>
    public void Deliver(IReadOnlyList<NewMessage> stored, IReadOnlyList<EnqueueResult> results)
    {
        // A worker stopped meanwhile has no more use for them: their leases run out.
        var worker = Volatile.Read(ref _worker);
        for (var i = 0; i < stored.Count; i++)
        {
            if (stored[i].Lease is not null)
            {
                if (results[i].Duplicate)
                {
                    worker?.GiveBack();
                }
                else
                {
                    worker?.Take(stored[i]);
                }
            }
        }
    }

    /// <summary>The commit failed: nothing was stored, and the room is given back.</summary>
    public void Abandon(IReadOnlyList<NewMessage> stored)
    {
        var worker = Volatile.Read(ref _worker);
        foreach (var message in stored.Where(m => m.Lease is not null))
        {
            worker?.GiveBack();
        }
    }

    internal void Attach(DeliveryWorker worker) => Volatile.Write(ref _worker, worker);

    internal void Detach(DeliveryWorker worker) => Interlocked.CompareExchange(ref _worker, null, worker);
}
