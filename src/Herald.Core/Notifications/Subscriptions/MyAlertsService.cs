using Herald.Access;
using Herald.Notifications.Matching;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Subscriptions;

/// <summary>A group's subscription that reaches the user, and whether they opted out of it.</summary>
public sealed record GroupAlert(Subscription Subscription, DirectoryGroup Group, bool OptedOut);

/// <summary>What "My alerts" shows: the user the caller is (null when none, with how many users
/// share the caller's name when that is why), their own alerts, their groups' alerts, and the
/// scopes where they hold View, where they may subscribe.</summary>
public sealed record MyAlerts(DirectoryUser? User, int Ambiguous, IReadOnlyList<Subscription> Own, IReadOnlyList<GroupAlert> FromGroups, IReadOnlyList<ScopePath> Scopes);

/// <summary>
/// A person's own alerts, whatever they administer: a signed-in directory user
/// (<see cref="Caller.Person"/>) is the user of that exact id and nobody else; an administrator as
/// a person (their <see cref="Caller.PersonName"/>) is the directory user whose id is that name, or
/// whose email is (a name with '@'), or the only one whose display name is. They add alerts of their own in any
/// scope where they hold View, change how often they arrive, remove them, and opt out of (or back
/// into) the subscriptions of their groups. Anything that is not theirs is not found.
/// </summary>
public sealed class MyAlertsService(
    SubscriptionService subscriptions, ISubscriptionRegistry store, ISettingsStore settings, DirectoryCache directory, NotificationMatcher matcher, TimeProvider time)
{
    public async Task<MyAlerts> ShowAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var view = await directory.GetViewAsync(cancellationToken).ConfigureAwait(false);
        var (me, ambiguous) = Me(caller, view);
        if (me is null)
        {
            return new MyAlerts(null, ambiguous, [], [], []);
        }

        var own = (await store.ListAsync(Principal.User(me.Id), null, cancellationToken).ConfigureAwait(false)).OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();
        var fromGroups = new List<GroupAlert>();
        foreach (var groupId in view.GroupsOf(me.Id))
        {
            if (view.FindGroup(groupId) is not { } group)
            {
                continue;
            }

            foreach (var subscription in await store.ListAsync(Principal.Group(groupId), null, cancellationToken).ConfigureAwait(false))
            {
                var optedOut = await store.OptOutsAsync(NotificationSourceKind.Subscription, subscription.Id, cancellationToken).ConfigureAwait(false);
                fromGroups.Add(new GroupAlert(subscription, group, optedOut.Contains(me.Id)));
            }
        }

        var scopes = (await settings.ListScopesAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => view.AccessOf(me.Id, s) is not null).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
        return new MyAlerts(me, 0, own, fromGroups, scopes);
    }

    /// <summary>Adds an alert of the caller's own: the owner is them, whatever the request says.</summary>
    public async Task<Result<Saved<Subscription>>> AddAsync(Caller caller, SubscriptionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (await MeAsync(caller, cancellationToken).ConfigureAwait(false) is not { } me)
        {
            return NotLinked(caller);
        }

        var id = $"sub-{Guid.CreateVersion7(time.GetUtcNow()):N}";
        return await subscriptions.SaveAsync(caller, request with { Id = id, Owner = Principal.User(me.Id).ToString() }, addOnly: true, cancellationToken, mine: me)
            .ConfigureAwait(false);
    }

    /// <summary>Changes how often one of the caller's own alerts arrives.</summary>
    public async Task<Result<Saved<Subscription>>> SetScheduleAsync(Caller caller, string? id, string? frequency, string? at, string? day, CancellationToken cancellationToken)
    {
        var (me, mine) = await MineAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (mine.Value is not { } s)
        {
            return mine.Refusal!;
        }

        var request = new SubscriptionRequest(
            s.Id, s.Scope.Value, s.Owner.ToString(), s.Name, s.Filter.EventTypes, s.Filter.PathPrefixes, s.Filter.ChangeKinds,
            s.Filter.Conditions.Select(c => new ConditionRequest(c.Field, ConditionOperatorNames.Values.NameOf(c.Operator), c.Values)).ToArray(),
            frequency, at, day, s.ExcludeActor, s.Enabled);
        return await subscriptions.SaveAsync(caller, request, addOnly: false, cancellationToken, mine: me).ConfigureAwait(false);
    }

    public async Task<Refusal?> RemoveAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        var (_, mine) = await MineAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (mine.Value is not { } subscription)
        {
            return mine.Refusal;
        }

        if (!await store.RemoveAsync(subscription.Id, subscription.Scope, time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            return SubscriptionService.NotFound(id);
        }

        await matcher.LearnChangesAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>The caller opts out of (or back into) a subscription of a group they are in.</summary>
    public async Task<Refusal?> SetOptOutAsync(Caller caller, string? id, bool optOut, CancellationToken cancellationToken)
    {
        var view = await directory.GetViewAsync(cancellationToken).ConfigureAwait(false);
        if (Me(caller, view).User is not { } me)
        {
            return NotLinked(caller);
        }

        if (!DirectoryIds.TryCheck(id, out _) || await store.FindAsync(id!, cancellationToken).ConfigureAwait(false) is not { Owner.Kind: PrincipalKind.Group } subscription
            || !view.GroupsOf(me.Id).Contains(subscription.Owner.Id, StringComparer.Ordinal))
        {
            return SubscriptionService.NotFound(id);
        }

        return await subscriptions.SetOptOutAsync(subscription, me.Id, optOut, cancellationToken).ConfigureAwait(false);
    }

    private async Task<(DirectoryUser? Me, Result<Subscription> Mine)> MineAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (await MeAsync(caller, cancellationToken).ConfigureAwait(false) is not { } me)
        {
            return (null, NotLinked(caller));
        }

        return DirectoryIds.TryCheck(id, out _) && await store.FindAsync(id!, cancellationToken).ConfigureAwait(false) is { } found && found.Owner == Principal.User(me.Id)
            ? (me, found)
            : (me, SubscriptionService.NotFound(id));
    }

    private async Task<DirectoryUser?> MeAsync(Caller caller, CancellationToken cancellationToken) =>
        Me(caller, await directory.GetViewAsync(cancellationToken).ConfigureAwait(false)).User;

    private static (DirectoryUser? User, int Ambiguous) Me(Caller caller, DirectoryView view)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller is Caller.Person person)
        {
            // Signed in as this very user: an email or a display name that happens to equal the id
            // must never lead to somebody else's alerts.
            return (view.FindUser(person.UserId), 0);
        }

        if (caller.PersonName is not { } name)
        {
            return (null, 0);
        }

        if ((view.FindUser(name) ?? (name.Contains('@', StringComparison.Ordinal) ? view.FindUserByEmail(name) : null)) is { } user)
        {
            return (user, 0);
        }

        var byName = view.FindUsersByName(name);
        return byName.Count == 1 ? (byName[0], 0) : (null, byName.Count);
    }

    private static Refusal NotLinked(Caller caller) =>
        Refusal.NotAllowed($"{caller.Description} is not linked to a directory user, so it has no alerts of its own.");
}
