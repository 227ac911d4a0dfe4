using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.SelfService;

/// <summary>
/// "My alerts": a directory user signed in as themselves, or an administrator as the directory
/// user of their name, manages their own subscriptions
/// and how often they arrive, and opts out of (or back into) their groups' subscriptions. Which
/// user that is, and what is theirs, is <see cref="MyAlertsService"/>'s to say; the page explains
/// when the account is linked to no user.
/// </summary>
public sealed class IndexModel(MyAlertsService alerts) : ConsolePage
{
    public DirectoryUser? Me { get; private set; }

    /// <summary>More than one directory user has this account's name: none is picked.</summary>
    public int Ambiguous { get; private set; }

    public IReadOnlyList<Subscription> Own { get; private set; } = [];

    public IReadOnlyList<GroupAlert> FromGroups { get; private set; } = [];

    /// <summary>Scopes where I hold View: where I may subscribe.</summary>
    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    /// <summary>The daily and weekly summaries on their way to me, and what they hold so far.</summary>
    public IReadOnlyList<DigestPreview> Digests { get; private set; } = [];

    /// <summary>What was typed into the preferences form when it is shown again with a problem.</summary>
    public (string TimeZone, string Language)? Typed { get; private set; }

    /// <summary>Every IANA time zone this machine knows, for the time zone field's suggestions.</summary>
    public static IReadOnlyList<string> TimeZones { get; } =
        [.. TimeZoneInfo.GetSystemTimeZones().Where(z => z.HasIanaId).Select(z => z.Id).Order(StringComparer.Ordinal)];

    /// <summary>The page is an administrator's view of their own alerts, in the console's layout
    /// with its navigation; a person sees the same page with only theirs.</summary>
    public bool ForAdministrator => SignedInAsAdministrator;

    public FilterForm Filter { get; private set; } = new();

    public string NewName { get; private set; } = "";

    public string NewScope { get; private set; } = "";

    public FilterFieldsView FilterFields => new(Filter, this, WithSchedule: true);

    public async Task OnGetAsync() => await LoadAsync();

    public async Task<IActionResult> OnPostAddAsync(string? name, string? scope)
    {
        (NewName, NewScope) = (name ?? "", scope ?? "");
        Filter = FilterForm.Read(Request.Form);
        var errors = new List<FieldError>();
        var request = Filter.ToSubscription(null, NewScope, null, NewName, errors);
        var saved = errors.Count > 0
            ? Refusal.Invalid(errors, "The subscription is not valid; nothing was saved.")
            : await alerts.AddAsync(Caller, request, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadAsync();
            // The owner is me: a missing View permission is about the scope I picked.
            return Refused(refusal with { Errors = [.. refusal.Errors.Select(e => e.Field == "owner" ? e with { Field = "scope" } : e)] }, Page);
        }

        var s = saved.Value!.Value;
        Notice = $"Added your alert {s.Name}: {FilterForm.Summary(s.Filter)} in {s.Scope}, {FilterForm.Describe(s.Schedule)}.";
        return Redirect("/me");
    }

    public async Task<IActionResult> OnPostFrequencyAsync(string? id, string? frequency, string? at, string? day)
    {
        var saved = await alerts.SetScheduleAsync(Caller, id, frequency, at, day, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadAsync();
            // Each alert has its own small form: the problem is shown beside the alert it is about.
            return Refused(refusal with { Errors = [.. refusal.Errors.Select(e => e with { Field = $"{id}.{e.Field}" })] }, Page);
        }

        await LoadAsync();
        var s = saved.Value!.Value;
        Notice = $"{s.Name} now arrives {FilterForm.Describe(s.Schedule)} ({Me?.TimeZone}).";
        return Redirect("/me");
    }

    public async Task<IActionResult> OnPostRemoveAsync(string? id)
    {
        await LoadAsync();
        var name = Own.FirstOrDefault(s => s.Id == id)?.Name;
        if (await alerts.RemoveAsync(Caller, id, HttpContext.RequestAborted) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"Removed your alert {name}.";
        return Redirect("/me");
    }

    public async Task<IActionResult> OnPostEnabledAsync(string? id, bool enabled)
    {
        var saved = await alerts.SetEnabledAsync(Caller, id, enabled, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadAsync();
            return Refused(refusal with { Errors = [.. refusal.Errors.Select(e => e with { Field = $"{id}.{e.Field}" })] }, Page);
        }

        var s = saved.Value!.Value;
        Notice = s.Enabled ? $"{s.Name} arrives again, {FilterForm.Describe(s.Schedule)}." : $"{s.Name} is paused: nothing arrives until you resume it.";
        return Redirect("/me");
    }

    public async Task<IActionResult> OnPostPreferencesAsync(string? timeZone, string? language)
    {
        var saved = await alerts.SetPreferencesAsync(Caller, timeZone, language, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadAsync();
            Typed = (timeZone ?? "", language ?? "");
            return Refused(refusal, Page);
        }

        Notice = $"Your time zone is now {saved.Value!.TimeZone} and your language {saved.Value.Language}.";
        return Redirect("/me");
    }

    public async Task<IActionResult> OnPostOptOutAsync(string? id, bool optOut)
    {
        await LoadAsync();
        var name = FromGroups.FirstOrDefault(g => g.Subscription.Id == id)?.Subscription.Name;
        if (await alerts.SetOptOutAsync(Caller, id, optOut, HttpContext.RequestAborted) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = optOut ? $"You no longer receive {name}." : $"You receive {name} again.";
        return Redirect("/me");
    }

    private async Task LoadAsync()
    {
        var mine = await alerts.ShowAsync(Caller, HttpContext.RequestAborted);
        (Me, Ambiguous, Own, FromGroups, Scopes, Digests) = (mine.User, mine.Ambiguous, mine.Own, mine.FromGroups, mine.Scopes, mine.Digests);
    }
}
