using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.MyAlerts;

/// <summary>
/// "My alerts": the signed-in administrator as a directory user manages their own subscriptions
/// and how often they arrive, and opts out of (or back into) their groups' subscriptions. The
/// account is linked to the directory user whose id, email or name equals the account's name; the
/// page explains this when there is no such user.
/// </summary>
public sealed class IndexModel(ISubscriptionRegistry registry, SubscriptionEditor editor, ISettingsStore settings, IDirectoryStore directoryStore, DirectoryCache directory, TimeProvider time)
    : ConsolePage
{
    public DirectoryUser? Me { get; private set; }

    /// <summary>More than one directory user has this account's name: none is picked.</summary>
    public int Ambiguous { get; private set; }

    public IReadOnlyList<Subscription> Own { get; private set; } = [];

    public IReadOnlyList<(Subscription Subscription, DirectoryGroup Group, bool OptedOut)> FromGroups { get; private set; } = [];

    /// <summary>Scopes where I hold View: where I may subscribe.</summary>
    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public FilterForm Filter { get; private set; } = new();

    public string NewName { get; private set; } = "";

    public string NewScope { get; private set; } = "";

    public FilterFieldsView FilterFields => new(Filter, this, WithSchedule: true);

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostAddAsync(string? name, string? scope)
    {
        if (await LoadAsync() is not { } me)
        {
            return NotLinked();
        }

        (NewName, NewScope) = (name ?? "", scope ?? "");
        Filter = FilterForm.Read(Request.Form);
        var errors = new List<FieldError>();
        var request = Filter.ToSubscription(null, NewScope, Principal.User(me.Id).ToString(), NewName, errors);
        var (saved, saveErrors) = errors.Count > 0 ? (null, errors) : await editor.SaveAsync(request, null, HttpContext.RequestAborted);
        if (saved is null)
        {
            // The owner is me: a missing View permission is about the scope I picked.
            AddErrors(saveErrors.Select(e => e.Field == "owner" ? e with { Field = "scope" } : e));
            Response.StatusCode = 400;
            return Page();
        }

        Notice = $"Added your alert {saved.Name}: {FilterForm.Summary(saved.Filter)} in {saved.Scope}, {FilterForm.Describe(saved.Schedule)}.";
        return Redirect("/my-alerts");
    }

    public async Task<IActionResult> OnPostFrequencyAsync(string? id, string? frequency, string? at, string? day)
    {
        if (await LoadAsync() is null)
        {
            return NotLinked();
        }

        if (Own.FirstOrDefault(s => s.Id == id) is not { } mine)
        {
            return NotFound();
        }

        var form = FilterForm.From(mine.Filter, mine.Schedule, mine.ExcludeActor, mine.Enabled) with { Frequency = frequency ?? "", At = at ?? "", Day = day ?? "" };
        var errors = new List<FieldError>();
        var (saved, saveErrors) = await editor.SaveAsync(form.ToSubscription(mine.Id, mine.Scope.Value, mine.Owner.ToString(), mine.Name, errors), mine, HttpContext.RequestAborted);
        if (saved is null)
        {
            Notice = null;
            foreach (var error in saveErrors)
            {
                ModelState.AddModelError($"{mine.Id}.{error.Field}", error.Message);
            }

            Response.StatusCode = 400;
            return Page();
        }

        Notice = $"{saved.Name} now arrives {FilterForm.Describe(saved.Schedule)} ({Me!.TimeZone}).";
        return Redirect("/my-alerts");
    }

    public async Task<IActionResult> OnPostRemoveAsync(string? id)
    {
        if (await LoadAsync() is null)
        {
            return NotLinked();
        }

        if (Own.FirstOrDefault(s => s.Id == id) is not { } mine)
        {
            return NotFound();
        }

        await editor.RemoveAsync(mine.Id, HttpContext.RequestAborted);
        Notice = $"Removed your alert {mine.Name}.";
        return Redirect("/my-alerts");
    }

    public async Task<IActionResult> OnPostOptOutAsync(string? id, bool optOut)
    {
        if (await LoadAsync() is not { } me)
        {
            return NotLinked();
        }

        if (FromGroups.FirstOrDefault(g => g.Subscription.Id == id) is not { Subscription: { } subscription })
        {
            return NotFound();
        }

        var origin = new NotificationOrigin(NotificationSourceKind.Subscription, subscription.Id, me.Id);
        if (optOut)
        {
            await registry.AddOptOutAsync(origin, time.GetUtcNow(), HttpContext.RequestAborted);
        }
        else
        {
            await registry.RemoveOptOutAsync(origin, HttpContext.RequestAborted);
        }

        Notice = optOut ? $"You no longer receive {subscription.Name}." : $"You receive {subscription.Name} again.";
        return Redirect("/my-alerts");
    }

    private ContentResult NotLinked() =>
        Refuse($"Your account {Admin.Name} is not linked to a directory user, so it has no alerts of its own.");

    private async Task<DirectoryUser?> LoadAsync()
    {
        var view = await directory.GetViewAsync(HttpContext.RequestAborted);
        var name = Admin.Name;
        Me = view.FindUser(name) ?? (name.Contains('@', StringComparison.Ordinal) ? view.FindUserByEmail(name) : null);
        if (Me is null)
        {
            var byName = (await directoryStore.ListUsersAsync(HttpContext.RequestAborted)).Where(u => string.Equals(u.Name, name, StringComparison.OrdinalIgnoreCase)).ToArray();
            Me = byName.Length == 1 ? byName[0] : null;
            Ambiguous = byName.Length > 1 ? byName.Length : 0;
        }

        if (Me is not { } me)
        {
            return null;
        }

        Own = (await registry.ListAsync(Principal.User(me.Id), null, HttpContext.RequestAborted)).OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();
        var fromGroups = new List<(Subscription, DirectoryGroup, bool)>();
        foreach (var groupId in view.GroupsOf(me.Id))
        {
            if (view.FindGroup(groupId) is not { } group)
            {
                continue;
            }

            foreach (var subscription in await registry.ListAsync(Principal.Group(groupId), null, HttpContext.RequestAborted))
            {
                var optedOut = (await registry.OptOutsAsync(NotificationSourceKind.Subscription, subscription.Id, HttpContext.RequestAborted)).Contains(me.Id);
                fromGroups.Add((subscription, group, optedOut));
            }
        }

        FromGroups = fromGroups;
        Scopes = (await settings.ListScopesAsync(HttpContext.RequestAborted)).Where(s => view.AccessOf(me.Id, s) is not null).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
        return me;
    }
}
