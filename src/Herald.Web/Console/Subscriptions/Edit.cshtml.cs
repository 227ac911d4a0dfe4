using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Subscriptions;

/// <summary>Add or change a subscription for a user or a group: scope, event filter, frequency,
/// exclude actor; remove it; for a group's, each member's opt-out. The administrator must
/// administer the subscription's scope before and after the change.</summary>
public sealed class EditModel(ISubscriptionRegistry registry, SubscriptionEditor editor, ISettingsStore settings, IDirectoryStore directoryStore, DirectoryCache directory, TimeProvider time) : ConsolePage
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
            Scope = ScopePath.TryParse(scope, out var path, out _) && Admin.Administers(path) ? path.Value : Admin.Scope.Value;
        }

        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync([FromQuery(Name = "id")] string? existing, string? id, string? name, string? scope, string? owner)
    {
        if (await FindAsync(existing) is { } refused)
        {
            return refused;
        }

        if (ScopePath.TryParse(scope, out var path, out _) && !Admin.Administers(path))
        {
            return RefuseScope(path);
        }

        (Id, Name, Scope, Owner) = (Existing?.Id ?? id?.Trim() ?? "", name ?? "", scope ?? "", owner ?? "");
        Filter = FilterForm.Read(Request.Form);
        var errors = new List<FieldError>();
        var request = Filter.ToSubscription(Id.Length == 0 ? null : Id, Scope, Owner, Name, errors);
        var (saved, saveErrors) = errors.Count > 0 ? (null, errors) : await editor.SaveAsync(request, Existing, HttpContext.RequestAborted);
        if (saved is null)
        {
            AddErrors(saveErrors);
            await LoadAsync();
            Response.StatusCode = 400;
            return Page();
        }

        Notice = $"Saved subscription {saved.Name} of {saved.Owner} in {saved.Scope}: {FilterForm.Summary(saved.Filter)}, {FilterForm.Describe(saved.Schedule)}.";
        return Redirect($"/subscriptions?scope={Uri.EscapeDataString(saved.Scope.Value)}");
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "id")] string? id)
    {
        if (id is null)
        {
            return NotFound();
        }

        if (await FindAsync(id) is { } refused)
        {
            return refused;
        }

        await editor.RemoveAsync(Existing!.Id, HttpContext.RequestAborted);
        Notice = $"Removed subscription {Existing.Name}.";
        return Redirect($"/subscriptions?scope={Uri.EscapeDataString(Existing.Scope.Value)}");
    }

    public async Task<IActionResult> OnPostOptOutAsync([FromQuery(Name = "id")] string? id, string? userId, bool optOut)
    {
        if (id is null || userId is null)
        {
            return NotFound();
        }

        if (await FindAsync(id) is { } refused)
        {
            return refused;
        }

        var view = await directory.GetViewAsync(HttpContext.RequestAborted);
        if (Existing!.Owner.Kind != PrincipalKind.Group || !view.MembersOf(Existing.Owner.Id).Any(m => m.Id == userId))
        {
            return NotFound();
        }

        var origin = new NotificationOrigin(NotificationSourceKind.Subscription, Existing.Id, userId);
        if (optOut)
        {
            await registry.AddOptOutAsync(origin, time.GetUtcNow(), HttpContext.RequestAborted);
        }
        else
        {
            await registry.RemoveOptOutAsync(origin, HttpContext.RequestAborted);
        }

        Notice = optOut ? $"{userId} no longer receives {Existing.Name}." : $"{userId} receives {Existing.Name} again.";
        return Redirect($"/subscriptions/edit?id={Uri.EscapeDataString(Existing.Id)}#opt-outs");
    }

    public PrincipalPickerView OwnerPicker => new(this, "owner", Owner, UsesPicker, Users, Groups);

    public FilterFieldsView FilterFields => new(Filter, this, WithSchedule: true);

    public string Describe(Principal principal) => principal.Kind == PrincipalKind.User
        ? Users.FirstOrDefault(u => u.Id == principal.Id)?.Name ?? principal.Id
        : Groups.FirstOrDefault(g => g.Id == principal.Id)?.Name ?? principal.Id;

    /// <summary>Finds the subscription by id (none for a new one); 404 or 403 when it cannot be edited here.</summary>
    private async Task<IActionResult?> FindAsync(string? id)
    {
        if (id is null)
        {
            return null;
        }

        if (await registry.FindAsync(id, HttpContext.RequestAborted) is not { } found)
        {
            return NotFound();
        }

        if (!Admin.Administers(found.Scope))
        {
            return RefuseScope(found.Scope);
        }

        Existing = found;
        return null;
    }

    private async Task LoadAsync()
    {
        Scopes = (await settings.ListScopesAsync(HttpContext.RequestAborted)).Where(Admin.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();
        var view = await directory.GetViewAsync(HttpContext.RequestAborted);
        Groups = await directoryStore.ListGroupsAsync(HttpContext.RequestAborted);
        UsesPicker = view.UserCount + Groups.Count <= PickerLimit;
        Users = UsesPicker ? await directoryStore.ListUsersAsync(HttpContext.RequestAborted) : [];
        if (Existing is { Owner.Kind: PrincipalKind.Group } s)
        {
            Members = view.MembersOf(s.Owner.Id).Take(500).ToArray();
            OptedOut = await registry.OptOutsAsync(NotificationSourceKind.Subscription, s.Id, HttpContext.RequestAborted);
        }
    }
}
