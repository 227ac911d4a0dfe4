using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.Digests;
using Herald.Notifications.Events;
using Herald.Notifications.FanOut;
using Herald.Outbox;
using Herald.Scopes;
using Microsoft.Extensions.Options;

namespace Herald.Work;

/// <summary>Quarantined items in a scope and the scopes below it, by kind.</summary>
public sealed record FailedCounts(long Messages, long Events, long Digests)
{
    public long Total => Messages + Events + Digests;
}

/// <summary>
/// What administrators do with work that failed for a reason of its own and is quarantined:
/// list it with its reason, count it, and retry it once the cause is fixed (a retried item gets
/// the full number of tries again; a message is retried by <see cref="Outbox.QueueService.RetryAsync"/>, with its deferred recipients). Administrators of an item's scope (or above) may; an item of
/// a scope the caller cannot see answers "not found", exactly as one that does not exist.
/// </summary>
public sealed class FailedWorkService(
    IOutboxStore outbox,
    INotificationEventStore events,
    IDigestStore digests,
    NotificationSignal notificationSignal)
{
    /// <summary>Most items one list returns.</summary>
    public const int MaxList = 1000;

    public async Task<Result<FailedCounts>> CountAsync(Caller caller, ScopePath scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.RefuseUnlessAdministers(scope, $"see the failed work of scope {scope}") is { } refusal)
        {
            return refusal;
        }

        var messages = await outbox.CountFailedAsync(scope, cancellationToken).ConfigureAwait(false);
        var failedEvents = await events.CountFailedAsync(scope, cancellationToken).ConfigureAwait(false);
        var failedDigests = await digests.CountFailedAsync(scope, cancellationToken).ConfigureAwait(false);
        return new FailedCounts(messages, failedEvents, failedDigests);
    }

    public async Task<Result<IReadOnlyList<FailedEvent>>> ListEventsAsync(Caller caller, ScopePath scope, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.RefuseUnlessAdministers(scope, $"list the failed events of scope {scope}") is { } refusal)
        {
            return refusal;
        }

        return Ok<IReadOnlyList<FailedEvent>>(await events.ListFailedAsync(scope, Math.Clamp(limit, 1, MaxList), cancellationToken).ConfigureAwait(false));
    }

    public async Task<Result<IReadOnlyList<MessageSummary>>> ListMessagesAsync(Caller caller, ScopePath scope, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.RefuseUnlessAdministers(scope, $"list the failed messages of scope {scope}") is { } refusal)
        {
            return refusal;
        }

        return Ok<IReadOnlyList<MessageSummary>>(await outbox.ListAsync(new MessageFilter(scope, RecipientState.Failed, Limit: Math.Clamp(limit, 1, MaxList)), cancellationToken).ConfigureAwait(false));
    }

    public async Task<Result<IReadOnlyList<FailedDigest>>> ListDigestsAsync(Caller caller, ScopePath scope, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.RefuseUnlessAdministers(scope, $"list the failed digests of scope {scope}") is { } refusal)
        {
            return refusal;
        }

        return Ok<IReadOnlyList<FailedDigest>>(await digests.ListFailedAsync(scope, Math.Clamp(limit, 1, MaxList), cancellationToken).ConfigureAwait(false));
    }

    /// <summary>A quarantined event, pending again: it is fanned out as if just posted (mails an
    /// earlier try stored are not stored twice).</summary>
    public async Task<Refusal?> RetryEventAsync(Caller caller, EventKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var notFound = Refusal.NotFound($"No event '{key.Id}' in scope {key.Scope} that you may see.");
        if (!caller.Administers(key.Scope))
        {
            return caller.MaySendInto(key.Scope) ? caller.RefuseUnlessAdministers(key.Scope, $"retry event '{key.Id}'") : notFound;
        }

        if (await events.FindAsync(key, cancellationToken).ConfigureAwait(false) is null)
        {
            return notFound;
        }

        if (!await events.RetryAsync(key, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Conflict($"Event '{key.Id}' in scope {key.Scope} has not failed; there is nothing to retry.");
        }

        notificationSignal.Notify();
        return null;
    }

    /// <summary>A quarantined digest, due at the next check.</summary>
    public async Task<Refusal?> RetryDigestAsync(Caller caller, string subscriptionId, string recipient, DateTimeOffset windowEnd, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var failed = await digests.FindFailedAsync(subscriptionId, recipient, windowEnd, cancellationToken).ConfigureAwait(false);
        if (failed is null || !caller.Administers(failed.Scope))
        {
            return Refusal.NotFound($"No failed digest of subscription '{subscriptionId}' for '{recipient}' in the scopes you administer.");
        }

        return await digests.RetryAsync(subscriptionId, recipient, windowEnd, cancellationToken).ConfigureAwait(false)
            ? null
            : Refusal.Conflict($"The digest of subscription '{subscriptionId}' for '{recipient}' has not failed; there is nothing to retry.");
    }

    // The implicit conversion to Result<T> does not apply to a value whose static type is an interface.
    private static Result<TValue> Ok<TValue>(TValue value) => value;
}
