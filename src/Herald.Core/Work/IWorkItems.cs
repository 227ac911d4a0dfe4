namespace Herald.Work;

/// <summary>
/// One kind of item a node works on in the background (messages to deliver, events to fan out,
/// digests to send; later bounces to read and webhooks to call): how they are claimed, worked on
/// and recorded. <see cref="WorkLoop{TItem}"/> runs it and decides, with one
/// <see cref="FailurePolicy"/>, what an exception means.
/// </summary>
public interface IWorkItems<TItem>
{
    /// <summary>The kind in logs and failures: <c>message</c>, <c>event</c>, <c>digest</c>.</summary>
    string Kind { get; }

    /// <summary>The item in a log line (its id).</summary>
    string NameOf(TItem item);

    /// <summary>How often the item has failed for a reason of its own so far.</summary>
    int FailuresOf(TItem item);

    /// <summary>Up to <paramref name="most"/> items due now, leased to this node (and held by its
    /// lease keeper); only those this node is to work on now.</summary>
    Task<IReadOnlyList<TItem>> ClaimAsync(int most, CancellationToken cancellationToken);

    /// <summary>Does the item's work and records its outcome.</summary>
    Task ProcessAsync(TItem item, CancellationToken cancellationToken);

    /// <summary>Records a failure of the item's own: counted, retried at
    /// <see cref="ItemFailure.RetryAt"/>, or quarantined.</summary>
    Task FailAsync(TItem item, ItemFailure failure, CancellationToken cancellationToken);

    /// <summary>Gives the item back to be worked on from <paramref name="retryAt"/>, without
    /// counting a failure against it (the database or the disk failed, not the item).</summary>
    Task PostponeAsync(TItem item, DateTimeOffset retryAt, CancellationToken cancellationToken);
}
