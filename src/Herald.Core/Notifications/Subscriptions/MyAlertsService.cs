using Herald.Access;
using Herald.Notifications.Digests;
using Herald.Notifications.Matching;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Subscriptions;

/// <summary>A group's subscription that reaches the user, and whether they opted out of it.</summary>
public sealed record GroupAlert(Subscription Subscription, DirectoryGroup Group, bool OptedOut);

/// <summary>What "My alerts" shows: the user the caller is (null when none, with how many users
/// share the caller's name when that is why), their own alerts, their groups' alerts, the
/// scopes where they hold View, where they may subscribe, and what their next summaries hold so far.</summary>
public sealed record MyAlerts(
    DirectoryUser? User, int Ambiguous, IReadOnlyList<Subscription> Own, IReadOnlyList<GroupAlert> FromGroups, IReadOnlyList<ScopePath> Scopes, IReadOnlyList<DigestPreview> Digests);

/// <summary>A daily or weekly summary that will reach the user: the events it holds so far (at most
/// <see cref="MyAlertsService.PreviewEvents"/>, and how many in all up to that many and one more),
/// gathered since <see cref="Since"/>, to go out at <see cref="Due"/>.</summary>
public sealed record DigestPreview(Subscription Subscription, DateTimeOffset Since, DateTimeOffset Due, IReadOnlyList<NotificationEvent> Events, bool More);

/// <summary>
/// A person's own alerts, whatever they administer: a signed-in directory user
/// (<see cref="Caller.Person"/>) is the user of that exact id and nobody else; an administrator as
/// a person (their <see cref="Caller.PersonName"/>) is the directory user whose id is that name, or
/// whose email is (a name with '@'), or the only one whose display name is. They add alerts of their own in any
/// scope where they hold View, change how often they arrive, remove them, and opt out of (or back
/// into) the subscriptions of their groups. Anything that is not theirs is not found.
/// </summary>
public sealed class MyAlertsService(
    SubscriptionService subscriptions,
    ISubscriptionRegistry store,
    ISettingsStore settings,
    DirectoryCache directory,
    IDirectoryStore directoryStore,
    IDigestStore digests,
    NotificationMatcher matcher,
    TimeProvider time)
{
    /// <summary>Events a digest preview lists at most.</summary>
    public const int PreviewEvents = 20;

    public async Task<MyAlerts> ShowAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var view = await directory.GetViewAsync(cancellationToken).ConfigureAwait(false);
        var (me, ambiguous) = Me(caller, view);
        if (me is null)
        {
            return new MyAlerts(null, ambiguous, [], [], [], []);
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
        var receiving = own.Where(s => s.Enabled).Concat(fromGroups.Where(g => !g.OptedOut && g.Subscription.Enabled).Select(g => g.Subscription))
            .Where(s => s.Schedule.Frequency != NotificationFrequency.Immediate && view.AccessOf(me.Id, s.Scope) is not null)
            .DistinctBy(s => s.Id)
            .ToArray();
        var previews = new List<DigestPreview>();
        foreach (var subscription in receiving)
        {
            previews.Add(await PreviewAsync(subscription, me, cancellationToken).ConfigureAwait(false));
        }

        return new MyAlerts(me, 0, own, fromGroups, scopes, [.. previews.OrderBy(p => p.Due)]);
    }

    /// <summary>What the user's next summary of <paramref name="subscription"/> holds so far: the
    /// events kept for it since its last run for them (or the window's start), as the digest
    /// scheduler will read them when the window ends.</summary>
    private async Task<DigestPreview> PreviewAsync(Subscription subscription, DirectoryUser me, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var zone = TemplateModel.ZoneOf(new NotificationRecipient(me.Email, me));
        var lastEnd = DigestCalendar.LatestWindowEnd(subscription.Schedule, zone, now);
        var runs = await digests.LastRunsAsync(subscription.Id, cancellationToken).ConfigureAwait(false);
        var since = runs.TryGetValue(me.Id, out var ran) && ran > lastEnd ? ran : lastEnd;
        // The first window end after now: a week at most ahead, found from the week after.
        var due = DigestCalendar.LatestWindowEnd(subscription.Schedule, zone, now + TimeSpan.FromDays(8));
        while (DigestCalendar.PreviousWindowEnd(subscription.Schedule, zone, due) is var earlier && earlier > now)
        {
            due = earlier;
        }

        var events = await digests.EventsAsync(subscription.Id, since, due, PreviewEvents + 1, cancellationToken).ConfigureAwait(false);
        return new DigestPreview(subscription, since, due, [.. events.Take(PreviewEvents)], events.Count > PreviewEvents);
    }

    /// <summary>The caller's own time zone and language (their summaries follow the zone): a person
    /// changes these two of their own, and nothing else of their directory entry.</summary>
    public async Task<Result<DirectoryUser>> SetPreferencesAsync(Caller caller, string? timeZone, string? language, CancellationToken cancellationToken)
    {
        if (await MeAsync(caller, cancellationToken).ConfigureAwait(false) is not { } me)
        {
            return NotLinked(caller);
        }

        var errors = new List<FieldError>();
        foreach (var (field, value) in new[] { ("timeZone", timeZone), ("language", language) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                errors.Add(new(field, field == "timeZone" ? "Choose a time zone, such as Europe/Berlin." : "Choose a language, such as en or de-CH."));
            }
        }

        // Read again from the database: an administrator's change of the name or the email
        // meanwhile is kept, not written back over.
        var current = await directoryStore.FindUserAsync(me.Id, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            return NotLinked(caller);
        }

        var changed = errors.Count == 0
            ? DirectoryService.ApplyUser(current, new UserUpdate(current.Id) { TimeZone = timeZone, Language = language }, "", errors)
            : null;
        if (changed is null)
        {
            return Refusal.Invalid(errors, "Your time zone and language were not changed.");
        }

        await directoryStore.SaveUserAsync(changed, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        directory.Invalidate();
        return changed;
    }

    /// <summary>Pauses one of the caller's own alerts, or lets it arrive again.</summary>
    public Task<Result<Saved<Subscription>>> SetEnabledAsync(Caller caller, string? id, bool enabled, CancellationToken cancellationToken) =>
        ChangeAsync(caller, id, s => RequestOf(s) with { Enabled = enabled }, cancellationToken);

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
    public Task<Result<Saved<Subscription>>> SetScheduleAsync(Caller caller, string? id, string? frequency, string? at, string? day, CancellationToken cancellationToken) =>
        ChangeAsync(caller, id, s => RequestOf(s) with { Frequency = frequency, At = at, Day = day }, cancellationToken);

    private async Task<Result<Saved<Subscription>>> ChangeAsync(
        Caller caller, string? id, Func<Subscription, SubscriptionRequest> change, CancellationToken cancellationToken)
    {
        var (me, mine) = await MineAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (mine.Value is not { } s)
        {
            return mine.Refusal!;
        }

        return await subscriptions.SaveAsync(caller, change(s), addOnly: false, cancellationToken, mine: me).ConfigureAwait(false);
    }

    /// <summary>The request that saves <paramref name="s"/> as it is.</summary>
    private static SubscriptionRequest RequestOf(Subscription s) => new(
        s.Id, s.Scope.Value, s.Owner.ToString(), s.Name, s.Filter.EventTypes, s.Filter.PathPrefixes, s.Filter.ChangeKinds,
        s.Filter.Conditions.Select(c => new ConditionRequest(c.Field, ConditionOperatorNames.Values.NameOf(c.Operator), c.Values)).ToArray(),
        NotificationFrequencyNames.Values.NameOf(s.Schedule.Frequency),
        s.Schedule.Frequency == NotificationFrequency.Immediate ? null : s.Schedule.At.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
        s.Schedule.Frequency == NotificationFrequency.Weekly ? s.Schedule.Day.ToString().ToLowerInvariant() : null,
        s.ExcludeActor, s.Enabled);

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
