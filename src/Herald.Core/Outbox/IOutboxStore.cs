namespace Herald.Outbox;

/// <summary>The durable outbox.</summary>
public interface IOutboxStore
{
    /// <summary>Stores messages in ONE transaction: when this returns, every one is on disk.
    /// A message whose idempotency key already exists in its scope is not stored again.</summary>
    Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken);

    /// <summary>Leases up to <paramref name="max"/> due messages to <paramref name="node"/>.
    /// Null <paramref name="connections"/> means any connection; otherwise only messages for those
    /// connections (or for none yet).</summary>
    Task<IReadOnlyList<ClaimedMessage>> ClaimAsync(string node, IReadOnlyCollection<string>? connections, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Extends <paramref name="node"/>'s leases on <paramref name="ids"/> to <paramref name="until"/>;
    /// returns the ids it still held (a message recorded meanwhile, or taken over by another node
    /// after the lease expired, is not extended).</summary>
    Task<IReadOnlyList<string>> RenewAsync(string node, IReadOnlyList<string> ids, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>Records attempts and releases their leases, in one transaction. An outcome whose
    /// lease was lost (it expired and another node took the message) is ignored; returns how many were recorded.</summary>
    Task<int> RecordAsync(IReadOnlyList<AttemptOutcome> outcomes, CancellationToken cancellationToken);

    /// <summary>A connection that was down answers again: its waiting messages that were deferred
    /// to later (by attempts made before it was found down) are due now, so that its whole backlog
    /// drains at once. Returns how many were brought forward.</summary>
    Task<int> ResumeAsync(string connection, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>A scope's email was turned back on: the waiting messages of <paramref name="scope"/>
    /// and the scopes below it that were deferred to later (by attempts made while it was off) are
    /// due now. Returns how many were brought forward.</summary>
    Task<int> ResumeScopeAsync(Scopes.ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>How many messages wait to be sent through each of <paramref name="connections"/>.</summary>
    Task<IReadOnlyDictionary<string, long>> CountWaitingAsync(IReadOnlyCollection<string> connections, CancellationToken cancellationToken);

    Task<MessageDetails?> GetAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<MessageSummary>> ListAsync(MessageFilter filter, CancellationToken cancellationToken);

    /// <summary>Makes deferred, expired and failed (quarantined) recipients due now (an expired one
    /// gets a new maximum age); the message's failures are forgotten, so it gets every try again.</summary>
    Task<int> RetryAsync(string id, DateTimeOffset now, DateTimeOffset newExpiry, CancellationToken cancellationToken);

    /// <summary>Cancels recipients still queued, deferred or failed.</summary>
    Task<int> CancelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Quarantined messages of <paramref name="scope"/> and the scopes below it.</summary>
    Task<long> CountFailedAsync(Scopes.ScopePath scope, CancellationToken cancellationToken);

    /// <summary>Recipients per state, for metrics.</summary>
    Task<IReadOnlyDictionary<RecipientState, long>> CountByStateAsync(CancellationToken cancellationToken);
}
