using Herald.Credentials;
using Herald.Scopes;

namespace Herald.Webhooks;

/// <summary>Endpoints, their deliveries (an outbox of their own, filled in the transaction that
/// records each change) and their attempts.</summary>
public interface IWebhookStore
{
    /// <summary>Endpoints of <paramref name="scope"/> and the scopes below it.</summary>
    Task<IReadOnlyList<WebhookEndpoint>> ListAsync(ScopePath scope, CancellationToken cancellationToken);

    Task<WebhookEndpoint?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Stores an endpoint and its sealed secret in one transaction.</summary>
    Task AddAsync(WebhookEndpoint endpoint, EncryptedSecret secret, CancellationToken cancellationToken);

    /// <summary>Changes URL, description, types and whether it is enabled (enabling clears
    /// <see cref="WebhookEndpoint.FailingSince"/> and the reason it was disabled).</summary>
    Task<bool> UpdateAsync(WebhookEndpoint endpoint, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the endpoint, its secret, its deliveries and its log.</summary>
    Task<bool> RemoveAsync(string id, CancellationToken cancellationToken);

    Task<EncryptedSecret?> GetSecretAsync(string endpointId, CancellationToken cancellationToken);

    /// <summary>The endpoint's last <paramref name="attempts"/> attempts and up to
    /// <paramref name="waiting"/> deliveries not yet delivered.</summary>
    Task<(IReadOnlyList<WebhookAttempt> Attempts, IReadOnlyList<WebhookDelivery> Waiting)> LogAsync(string endpointId, int attempts, int waiting, CancellationToken cancellationToken);

    Task<WebhookDelivery?> FindDeliveryAsync(string endpointId, string deliveryId, CancellationToken cancellationToken);

    /// <summary>Makes a delivery due now with every try again (a delivered one is sent again).</summary>
    Task<bool> RetryAsync(string endpointId, string deliveryId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Endpoints of <paramref name="scope"/> and below that Herald disabled.</summary>
    Task<IReadOnlyList<WebhookEndpoint>> ListDisabledAsync(ScopePath scope, CancellationToken cancellationToken);

    /// <summary>Leases up to <paramref name="max"/> due deliveries of enabled endpoints, only the
    /// earliest undelivered one of each message for each endpoint (in order per message).</summary>
    Task<IReadOnlyList<ClaimedWebhookDelivery>> ClaimAsync(string node, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken);

    Task<IReadOnlyCollection<long>> RenewAsync(string node, IReadOnlyList<long> sequences, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>Records attempts in one transaction: the delivery's state, the endpoint's log (its
    /// last <paramref name="logSize"/>), and the endpoint's failing time; an endpoint failing since
    /// before <paramref name="disableBefore"/> is disabled. An outcome whose lease was lost is ignored.</summary>
    Task<int> RecordAsync(IReadOnlyList<WebhookOutcome> outcomes, int logSize, DateTimeOffset disableBefore, CancellationToken cancellationToken);

    /// <summary>Removes deliveries delivered before <paramref name="before"/>; returns how many.</summary>
    Task<int> PruneAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
