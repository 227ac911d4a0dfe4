using Herald.Work;
using Microsoft.Extensions.Options;

namespace Herald.Outbox;

/// <summary>
/// What the outbox writer and the notification mailer see of this node's delivery: room they may
/// lease messages into as they store them, so that those go straight to the senders (no claim
/// transaction, no reading the MIME back, no parsing it again). at-least-once holds as for a
/// claim: the lease is stored with the message, so if this node dies the lease runs out and any
/// node sends it.
/// </summary>
public interface IDeliveryRoom
{
    /// <summary>The messages as they are to be stored: leased to this node when its delivery has
    /// room for them now, unchanged otherwise (no delivery running, no room, a connection left to
    /// other nodes). A message leased already keeps its lease.</summary>
    NewMessage[] Lease(IEnumerable<NewMessage> messages);

    /// <summary>For one who stores many messages at once (a notification fan-out): waits up to
    /// <paramref name="patience"/> for room and leases as many of <paramref name="messages"/>, from
    /// the first, as there is room for. Empty when no delivery runs here, no room came in time, or
    /// the first message's connection is left to other nodes. Each message returned holds room
    /// until it is handed to the outbox writer, which delivers or abandons it.</summary>
    Task<IReadOnlyList<NewMessage>> LeaseWhenRoomAsync(IReadOnlyList<NewMessage> messages, TimeSpan patience, CancellationToken cancellationToken);

    /// <summary>After the commit: the leased messages go to the senders. A duplicate was not stored
    /// (the original stands), so its room is given back.</summary>
    void Deliver(IReadOnlyList<NewMessage> stored, IReadOnlyList<EnqueueResult> results);

    /// <summary>The commit failed: nothing was stored, and the room is given back.</summary>
    void Abandon(IReadOnlyList<NewMessage> stored);
}

/// <summary>
/// This node's room for messages to deliver: twice the senders, one slot per message from its
/// claim (or its lease at insert) until it has been sent. The send loop claims into it, and the
/// writer and the mailer reserve it through <see cref="IDeliveryRoom"/>; messages handed over
/// reach the send loop through the intake it opens while it runs.
/// </summary>
public sealed class DeliveryCapacity(IOptions<DeliveryOptions> options, NodeIdentity node, TimeProvider time, ConnectionHealth? health = null) : IDeliveryRoom, IDisposable
{
    private Func<ClaimedMessage, bool>? _intake;

    // The connections this node may use (null: all), as of the send loop's last claim; messages
    // for others are never leased here. Unknown (no claim yet) means nothing is leased yet.
    private volatile ConnectionsAllowed? _allowed;

    public WorkRoom Room { get; } = new(options.Value.Concurrency * 2);

    /// <summary>The send loop runs: handed-over messages go to <paramref name="intake"/>, which
    /// answers false when it takes nothing more (the room is then given back here).</summary>
    public void Open(Func<ClaimedMessage, bool> intake) => Volatile.Write(ref _intake, intake);

    /// <summary>The send loop stopped: nothing more is leased here.</summary>
    public void Close()
    {
        Volatile.Write(ref _intake, null);
        _allowed = null;
    }

    /// <summary>The connections this node may use as of now (null: all of them).</summary>
    public void Allow(IReadOnlyCollection<string>? connections) => _allowed = new ConnectionsAllowed(connections);

    public NewMessage[] Lease(IEnumerable<NewMessage> messages) =>
        messages.Select(m => m.Lease is not null || !Accepts(m) || !Room.TryTake() ? m : Leased(m)).ToArray();

    public async Task<IReadOnlyList<NewMessage>> LeaseWhenRoomAsync(IReadOnlyList<NewMessage> messages, TimeSpan patience, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0 || !Accepts(messages[0]))
        {
            return [];
        }

        var room = await Room.ReserveAsync(messages.Count, patience, cancellationToken).ConfigureAwait(false);
        var leased = new List<NewMessage>(room);
        while (leased.Count < room && Accepts(messages[leased.Count]))
        {
            leased.Add(Leased(messages[leased.Count]));
        }

        Room.Release(room - leased.Count);
        return leased;
    }

    public void Deliver(IReadOnlyList<NewMessage> stored, IReadOnlyList<EnqueueResult> results)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(results);
        var intake = Volatile.Read(ref _intake);
        for (var i = 0; i < stored.Count; i++)
        {
            // A send loop stopped meanwhile takes nothing: the lease runs out and a node sends it.
            if (stored[i].Lease is not null && (results[i].Duplicate || intake is null || !intake(Claimed(stored[i]))))
            {
                Room.Release();
            }
        }
    }

    public void Abandon(IReadOnlyList<NewMessage> stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        Room.Release(stored.Count(m => m.Lease is not null));
    }

    /// <summary>Whether the message has a recipient to deliver (one whose every recipient is
    /// suppressed is stored finished), the send loop runs and this node may use the message's connection. A
    /// message whose bytes are not in memory (a spooled relay transfer) is claimed and read back
    /// from the outbox instead: its spool file is gone once the message is stored.</summary>
    private bool Accepts(NewMessage message) =>
        !message.NothingToDeliver && message.Mime.Bytes is not null && Volatile.Read(ref _intake) is not null && _allowed is { } allowed
        && (allowed.Connections is not { } connections || message.ConnectionName is not { } name || connections.Contains(name))
        // Asked at each insert, not only as of the last claim: while submissions keep the room
        // full the send loop claims nothing, and a connection that went down meanwhile must not
        // be handed every new message to fail on.
        && (health is null || message.ConnectionName is not { } connection || !health.IsDown(connection));

    private NewMessage Leased(NewMessage message) =>
        message with { Lease = new MessageLease(node.Name, time.GetUtcNow() + options.Value.Lease) };

    /// <summary>A message stored leased to this node, as the send loop takes a claimed one.</summary>
    private static ClaimedMessage Claimed(NewMessage message) =>
        new(message.Id,
            message.Scope,
            message.EnvelopeSender,
            message.ConnectionName,
            message.Mime,
            Attempts: 0,
            message.CreatedAt,
            message.ExpiresAt,
            message.Recipients.Select((address, ordinal) => new PendingRecipient(ordinal, address, 0))
                .Where(r => !message.Suppressed.Any(s => s.Ordinal == r.Ordinal)).ToArray())
        {
            Content = message.Content,
            LeaseUntil = message.Lease!.Until,
            TraceParent = message.TraceParent,
        };

    public void Dispose() => Room.Dispose();

    private sealed record ConnectionsAllowed(IReadOnlyCollection<string>? Connections);
}
