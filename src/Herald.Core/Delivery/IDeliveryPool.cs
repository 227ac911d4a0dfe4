namespace Herald.Delivery;

/// <summary>Delivery for the outbox's workers: pooled, authenticated connections per SMTP
/// connection, bounded by its connection limit and paced by its rate limit.</summary>
public interface IDeliveryPool
{
    Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken);

    /// <summary>Tests a connection without sending anything: connect, TLS and authentication.
    /// The result has no recipients; <see cref="DeliveryResult.FailedAt"/> is null when it works.</summary>
    Task<DeliveryResult> ProbeAsync(OpenedConnection connection, CancellationToken cancellationToken);
}
