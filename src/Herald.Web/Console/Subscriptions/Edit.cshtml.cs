using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Subscriptions;

/// <summary>Add or change a subscription for a user or a group: scope, event filter, frequency,
/// exclude actor; test it before saving (a sample to each recipient now, with the server's answer
/// for each); remove it; for a group's, each member's opt-out. Every rule is
/// <see cref="SubscriptionService"/>'s; this page translates the form and the refusals.</summary>
public sealed class EditModel(SubscriptionService subscriptions, ScopeService scopes, DirectoryService directory) : ConsolePage
{
    public const int PickerLimit = 1000;

    public Subscription? Existing { get; private set; }

    public bool IsNew => Existing is null;

    public string Id { get; private set; } = "";

    public string Name { get; private set; } = "";

    public string Scope { get; private set; } = "/";

    public string Owner { get; private set; } = "";

    public FilterForm Filter { get; private set; } = new();

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public IReadOnlyList<DirectoryUser> Users { get; private set; } = [];

    public IReadOnlyList<DirectoryGroup> Groups { get; private set; } = [];

    public bool UsesPicker { get; private set; } = true;

    /// <summary>For a group's subscription: every member, and who opted out.</summary>
    public IReadOnlyList<DirectoryUser> Members { get; private set; } = [];

    public IReadOnlySet<string> OptedOut { get; private set; } = new HashSet<string>();

    public async Task<IActionResult> OnGetAsync(string? id, string? scope)
    {
        if (await FindAsync(id) is { } refused)
        {
            return refused;
        }

        if (Existing is { } s)
        {
            (Id, Name, Scope, Owner) = (s.Id, s.Name, s.Scope.Value, s.Owner.ToString());
            Filter = FilterForm.From(s.Filter, s.Schedule, s.ExcludeActor, s.Enabled);
        }
        else
        {
            Scope = ScopePath.TryParse(scope, out var path, out _) ? path.Value : Admin.Scope.Value;
        }

        await LoadAsync();
        return Page();
    }

    /// <summary>What "Test before saving" did with the form as posted, per recipient.</summary>
    public NotificationTestResult? DraftResult { get; private set; }

    /// <summary>The form was posted to be tested, not saved (a refusal then saved nothing and sent nothing).</summary>
    public bool TestingDraft { get; private set; }

    public async Task<IActionResult> OnPostSaveAsync([FromQuery(Name = "id")] string? existing, string? id, string? name, string? scope, string? owner)
    {
        var errors = new List<FieldError>();
        var request = Read(existing ?? id, name, scope, owner, errors);
        if (errors.Count > 0)
        {
            return await RedisplayAsync(Refusal.Invalid(errors, "The subscription is not valid; nothing was saved."), existing);
        }

        var saved = existing is null
            ? await subscriptions.CreateAsync(Caller, request, HttpContext.RequestAborted)
            : await subscriptions.PutAsync(Caller, existing, request, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            return await RedisplayAsync(refusal, existing);
        }

        var s = saved.Value!.Value;
        Notice = $"Saved subscription {s.Name} of {s.Owner} in {s.Scope}: {FilterForm.Summary(s.Filter)}, {FilterForm.Describe(s.Schedule)}.";
        return Redirect($"/subscriptions?scope={Uri.EscapeDataString(s.Scope.Value)}");
    }

    /// <summary>"Test before saving": the form as the Save button would post it, tested instead of saved.</summary>
    public async Task<IActionResult> OnPostTestDraftAsync([FromQuery(Name = "id")] string? existing, string? id, string? name, string? scope, string? owner)
    {
        TestingDraft = true;
        var errors = new List<FieldError>();
        var request = Read(existing ?? id, name, scope, owner, errors);
        var tested = errors.Count > 0
            ? Refusal.Invalid(errors, "The subscription is not valid; nothing was sent.")
            : await subscriptions.TestDraftAsync(Caller, request, HttpContext.RequestAborted);
        if (tested.Refusal is { } refusal)
        {
            return await RedisplayAsync(refusal, existing);
        }

        if (existing is not null && await FindAsync(existing) is { } gone)
        {
            return gone;
        }

        await LoadAsync();
        DraftResult = tested.Value;
        return Page();
    }

    /// <summary>The form as a subscription request, kept on the page to show it again.</summary>
    private SubscriptionRequest Read(string? id, string? name, string? scope, string? owner, List<FieldError> errors)
    {
        (Id, Name, Scope, Owner) = (id ?? "", name ?? "", scope ?? "", owner ?? "");
        Filter = FilterForm.Read(Request.Form);
        return Filter.ToSubscription(Id.Length == 0 ? null : Id, Scope, Owner, Name, errors);
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "id")] string? id)
    {
        var found = await subscriptions.FindAsync(Caller, id, HttpContext.RequestAborted);
        var refusal = found.Refusal ?? await subscriptions.RemoveAsync(Caller, id, HttpContext.RequestAborted);
        if (refusal is not null)
        {
            return Refused(refusal, Page);
        }

        Notice = $"Removed subscription {found.Value!.Name}.";
        return Redirect($"/subscriptions?scope={Uri.EscapeDataString(found.Value.Scope.Value)}");
    }

    public async Task<IActionResult> OnPostOptOutAsync([FromQuery(Name = "id")] string? id, string? userId, bool optOut)
    {
        if (await FindAsync(id) is { } refused)
        {
            return refused;
        }

        if (await subscriptions.SetOptOutAsync(Caller, id, userId, optOut, HttpContext.RequestAborted) is { } refusal)
        {
            // Only members are listed to opt out: any refusal is of something not on the page.
            return refusal.Kind == RefusalKind.NotAllowed ? Refused(refusal, Page) : NotFound();
        }

        Notice = optOut ? $"{userId} no longer receives {Existing!.Name}." : $"{userId} receives {Existing!.Name} again.";
        return Redirect($"/subscriptions/edit?id={Uri.EscapeDataString(Existing.Id)}#opt-outs");
    }

    public PrincipalPickerView OwnerPicker => new(this, "owner", Owner, UsesPicker, Users, Groups);

    public FilterFieldsView FilterFields => new(Filter, this, WithSchedule: true);

    public string Describe(Principal principal) => principal.Kind == PrincipalKind.User
        ? Users.FirstOrDefault(u => u.Id == principal.Id)?.Name ?? principal.Id
        : Groups.FirstOrDefault(g => g.Id == principal.Id)?.Name ?? principal.Id;

    /// <summary>The form again, with the refusal's sentences next to their fields.</summary>
    private async Task<IActionResult> RedisplayAsync(Refusal refusal, string? existing)
    {
        if (existing is not null && await FindAsync(existing) is { } gone)
        {
            return gone;
        }

        await LoadAsync();
        return Refused(refusal, Page);
    }

    /// <summary>The subscription by id (none for a new one); 404 when the caller may not see it.</summary>
    private async Task<IActionResult?> FindAsync(string? id)
    {
        if (id is null)
        {
            return null;
        }

        var found = await subscriptions.FindAsync(Caller, id, HttpContext.RequestAborted);
        if (found.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Existing = found.Value;
        return null;
    }

    private async Task LoadAsync()
    {
        var ct = HttpContext.RequestAborted;
        Scopes = await scopes.ListAsync(Caller, ct);
        Groups = (await directory.ListGroupsAsync(Caller, ct)).Value ?? [];
        var users = (await directory.ListUsersAsync(Caller, ct)).Value ?? [];
        UsesPicker = users.Count + Groups.Count <= PickerLimit;
        Users = UsesPicker ? users : [];
        if (Existing is { Owner.Kind: PrincipalKind.Group } s)
        {
            Members = ((await directory.ExpandGroupAsync(Caller, s.Owner.Id, ct)).Value ?? []).Take(500).ToArray();
            OptedOut = (await subscriptions.OptOutsAsync(Caller, s.Id, ct)).Value ?? new HashSet<string>();
        }
    }
}
