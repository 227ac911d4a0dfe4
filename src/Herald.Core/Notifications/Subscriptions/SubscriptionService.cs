using Herald.Access;
using Herald.Notifications.Matching;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Subscriptions;

/// <summary>
/// Subscriptions (alerts), for the API, the console and the CLI alike. Senders and administrators
/// of a subscription's scope (or an ancestor) manage it; a subscription of a scope the caller may
/// not manage answers exactly as one that does not exist. The scope must exist, and the owner
/// must be in the directory and hold View on the scope (only people who may see a scope's items
/// may subscribe to them, SharePoint's rule). Every change reaches this node's match index before
/// the use case returns.
/// </summary>
public sealed class SubscriptionService(
    ISubscriptionRegistry store, ISettingsStore settings, IDirectory directory, NotificationMatcher matcher, NotificationTestSender tester, TimeProvider time)
{
    private const string NotValid = "The subscription is not valid; nothing was saved.";
    private const string NotTested = "The subscription is not valid; nothing was sent.";

    /// <summary>Subscriptions the caller may manage, optionally one owner's and one scope's (and below).</summary>
    public async Task<Result<IReadOnlyList<Subscription>>> ListAsync(Caller caller, string? owner, string? scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        var ownerFilter = SubscriptionRequests.OptionalPrincipal(owner, "owner", errors);
        var scopeFilter = SubscriptionRequests.OptionalScope(scope, errors);
        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The filter is not valid.");
        }

        if (scopeFilter is { } path && !MayManage(caller, path))
        {
            return NotAllowed(caller, path);
        }

        var found = await store.ListAsync(ownerFilter, scopeFilter, cancellationToken).ConfigureAwait(false);
        return Result.Of<IReadOnlyList<Subscription>>(found.Where(s => MayManage(caller, s.Scope)).ToArray());
    }

    /// <summary>One subscription; one of a scope the caller may not manage is not found, as one that does not exist.</summary>
    public async Task<Result<Subscription>> FindAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return DirectoryIds.TryCheck(id, out _) && await store.FindAsync(id!, cancellationToken).ConfigureAwait(false) is { } found && MayManage(caller, found.Scope)
            ? found
            : NotFound(id);
    }

    /// <summary>Adds a subscription; its id (a new one when left out) must be free.</summary>
    public Task<Result<Saved<Subscription>>> CreateAsync(Caller caller, SubscriptionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var id = request.Id ?? $"sub-{Guid.CreateVersion7(time.GetUtcNow()):N}";
        return SaveAsync(caller, request with { Id = id }, addOnly: true, cancellationToken);
    }

    /// <summary>Adds the subscription <paramref name="id"/>, or replaces it when the caller may manage it.</summary>
    public Task<Result<Saved<Subscription>>> PutAsync(Caller caller, string id, SubscriptionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Id is not null && request.Id != id
            ? Task.FromResult<Result<Saved<Subscription>>>(Refusal.Invalid("id", "The id in the body differs from the one in the path."))
            : SaveAsync(caller, request with { Id = id }, addOnly: false, cancellationToken);
    }

    public async Task<Refusal?> RemoveAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (found.Value is not { } subscription)
        {
            return found.Refusal;
        }

        if (!await store.RemoveAsync(subscription.Id, subscription.Scope, time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            return NotFound(id);
        }

        await matcher.LearnChangesAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>Who opted out of a subscription (user ids, or addresses in lower case).</summary>
    public async Task<Result<IReadOnlySet<string>>> OptOutsAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        return found.Value is not { } subscription
            ? found.Refusal!
            : Result.Of(await store.OptOutsAsync(NotificationSourceKind.Subscription, subscription.Id, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>A member of a group's subscription opts out of it (<paramref name="optOut"/>) or back in.</summary>
    public async Task<Refusal?> SetOptOutAsync(Caller caller, string? id, string? userId, bool optOut, CancellationToken cancellationToken)
    {
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        return found.Value is not { } subscription
            ? found.Refusal
            : await SetOptOutAsync(subscription, userId, optOut, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Senders and administrators of a scope (or an ancestor) manage its subscriptions.</summary>
    public static bool MayManage(Caller caller, ScopePath scope)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.MaySendInto(scope);
    }

    /// <summary>The one save: by the caller in scopes it manages, or (<paramref name="mine"/>) by a
    /// person for their own alert in any scope where they hold View.</summary>
    internal async Task<Result<Saved<Subscription>>> SaveAsync(
        Caller caller, SubscriptionRequest request, bool addOnly, CancellationToken cancellationToken, DirectoryUser? mine = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        var id = request.Id!;
        if (!SubscriptionRequests.CheckId(id, errors))
        {
            return Refusal.Invalid(errors, NotValid);
        }

        // One's own alert is one's own in any scope one may see; anything else is the caller's to
        // manage only in scopes it sends into or administers.
        bool MayReplace(Subscription stored) =>
            !addOnly && (mine is null ? MayManage(caller, stored.Scope) : stored.Owner == Principal.User(mine.Id));

        var now = time.GetUtcNow();
        var existing = await store.FindAsync(id, cancellationToken).ConfigureAwait(false);
        if (existing is not null && !addOnly && !MayReplace(existing))
        {
            // A subscription the caller may not manage is, to the caller, not there.
            return NotFound(id);
        }

        if (existing is not null && addOnly)
        {
            return Taken(id);
        }

        var checkedSubscription = await CheckAsync(caller, request, existing?.CreatedAt ?? now, now, mine is null, NotValid, cancellationToken).ConfigureAwait(false);
        if (checkedSubscription.Value is not { } subscription)
        {
            return checkedSubscription.Refusal!;
        }

        var outcome = await store.SaveAsync(subscription, stored => !addOnly && (mine is null ? MayManage(caller, stored) : existing is not null && existing.Scope == stored), cancellationToken)
            .ConfigureAwait(false);
        if (outcome == SaveOutcome.Taken)
        {
            return Taken(id);
        }

        await matcher.LearnChangesAsync(cancellationToken).ConfigureAwait(false);
        return new Saved<Subscription>(subscription, outcome == SaveOutcome.Created);
    }

    /// <summary>Sends a sample of a subscription not saved to each of its recipients now, through the
    /// scope's connection: the request the create route takes, checked as it checks it (the
    /// caller, every field, the scope, the owner's View), and nothing stored.</summary>
    public async Task<Result<NotificationTestResult>> TestDraftAsync(Caller caller, SubscriptionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = time.GetUtcNow();
        var checkedSubscription = await CheckAsync(caller, request with { Id = request.Id ?? "draft" }, now, now, checkCaller: true, NotTested, cancellationToken).ConfigureAwait(false);
        return checkedSubscription.Value is not { } subscription
            ? checkedSubscription.Refusal!
            : await tester.TestSubscriptionAsync(subscription, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What a subscription request must be, saved or tested: every field, the caller one
    /// who manages its scope (unless <paramref name="checkCaller"/> is false: one's own alert),
    /// the scope there, and the owner in the directory with View on it.</summary>
    private async Task<Result<Subscription>> CheckAsync(
        Caller caller, SubscriptionRequest request, DateTimeOffset createdAt, DateTimeOffset now, bool checkCaller, string notValid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        if (!SubscriptionRequests.CheckId(request.Id!, errors) || SubscriptionRequests.Check(request, request.Id!, createdAt, now, errors) is not { } subscription)
        {
            return Refusal.Invalid(errors, notValid);
        }

        if (checkCaller && !MayManage(caller, subscription.Scope))
        {
            return NotAllowed(caller, subscription.Scope);
        }

        return await CheckScopeAndOwnerAsync(subscription, notValid, cancellationToken).ConfigureAwait(false) is { } refused ? refused : subscription;
    }

    private async Task<Refusal?> CheckScopeAndOwnerAsync(Subscription subscription, string notValid, CancellationToken cancellationToken)
    {
        if (!await settings.ScopeExistsAsync(subscription.Scope, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Invalid([ScopeService.Missing(subscription.Scope)], notValid);
        }

        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var owner = subscription.Owner;
        var exists = owner.Kind == PrincipalKind.User ? view.FindUser(owner.Id) is not null : view.FindGroup(owner.Id) is not null;
        if (!exists)
        {
            return Refusal.Invalid("owner", $"There is no {owner} in the directory.");
        }

        var access = owner.Kind == PrincipalKind.User ? view.AccessOf(owner.Id, subscription.Scope) : view.GroupAccessOf(owner.Id, subscription.Scope);
        return access is null
            ? Refusal.Invalid("owner",
                $"{owner} has no View permission on {subscription.Scope}: only people and groups who may see a scope's items can subscribe to them. Grant View on the scope first.")
            : null;
    }

    internal async Task<Refusal?> SetOptOutAsync(Subscription subscription, string? userId, bool optOut, CancellationToken cancellationToken)
    {
        if (subscription.Owner.Kind != PrincipalKind.Group)
        {
            return Refusal.Invalid("id", $"Subscription '{subscription.Id}' is {subscription.Owner}'s own: disable or remove it instead of opting out.");
        }

        var origin = new NotificationOrigin(NotificationSourceKind.Subscription, subscription.Id, userId ?? "");
        if (!optOut)
        {
            return await store.RemoveOptOutAsync(origin, cancellationToken).ConfigureAwait(false)
                ? null
                : Refusal.NotFound($"'{DirectoryIds.Printable(userId)}' has not opted out of subscription '{subscription.Id}'.");
        }

        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        if (!view.MembersOf(subscription.Owner.Id).Any(m => m.Id == userId))
        {
            return Refusal.Invalid("userId", $"'{DirectoryIds.Printable(userId)}' is not a member of {subscription.Owner}, so there is nothing to opt out of.");
        }

        await store.AddOptOutAsync(origin, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return null;
    }

    internal static Refusal NotFound(string? id) => Refusal.NotFound($"There is no subscription '{DirectoryIds.Printable(id)}'.");

    private static Refusal Taken(string id) =>
        Refusal.Conflict(new FieldError("id", $"The id '{id}' is taken by another subscription: choose another id, or leave it out for a new one."));

    private static Refusal NotAllowed(Caller caller, ScopePath scope) =>
        Refusal.NotAllowed($"{caller.Description} may not manage the subscriptions of scope {scope}: it is neither a sender nor an administrator of it.");
}
