using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Web.Console.Rules;

/// <summary>Add or change a notification rule (event filter; addresses, users and groups), remove
/// it, and <b>Test</b> it: a sample notification of its first event type goes to its recipients
/// through the outbox, and the page says how many were queued.</summary>
[RequestFormLimits(ValueCountLimit = PickerLimit + 200, ValueLengthLimit = 65_536)]
public sealed class EditModel(ISubscriptionRegistry registry, SubscriptionEditor editor, ISettingsStore settings, IDirectoryStore directoryStore, DirectoryCache directory, TimeProvider time)
    : ConsolePage
{
    public const int PickerLimit = 1000;

    public NotificationRule? Existing { get; private set; }

    public bool IsNew => Existing is null;

    public string Id { get; private set; } = "";

    public string Name { get; private set; } = "";

    public string Scope { get; private set; } = "/";

    public string Addresses { get; private set; } = "";

    public HashSet<string> Chosen { get; private set; } = new(StringComparer.Ordinal);

    public FilterForm Filter { get; private set; } = new();

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public IReadOnlyList<DirectoryUser> Users { get; private set; } = [];

    public IReadOnlyList<DirectoryGroup> Groups { get; private set; } = [];

    public bool UsesPicker { get; private set; } = true;

    /// <summary>What Test did: how many samples were queued, or why nothing was.</summary>
    public FanOutResult? TestResult { get; private set; }

    public string? TestProblem { get; private set; }

    public FilterFieldsView FilterFields => new(Filter, this, WithSchedule: false);

    public async Task<IActionResult> OnGetAsync(string? id, string? scope)
    {
        if (await FindAsync(id) is { } refused)
        {
            return refused;
        }

        if (Existing is not null)
        {
            Show(Existing);
        }
        else
        {
            Scope = ScopePath.TryParse(scope, out var path, out _) && Admin.Administers(path) ? path.Value : Admin.Scope.Value;
        }

        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync([FromQuery(Name = "id")] string? existing, string? id, string? name, string? scope, string? addresses, string[]? recipients, string? recipientList)
    {
        if (await FindAsync(existing) is { } refused)
        {
            return refused;
        }

        if (ScopePath.TryParse(scope, out var path, out _) && !Admin.Administers(path))
        {
            return RefuseScope(path);
        }

        (Id, Name, Scope, Addresses) = (Existing?.Id ?? id?.Trim() ?? "", name ?? "", scope ?? "", addresses ?? "");
        Chosen = (recipients ?? []).Concat(FilterForm.Split(recipientList)).ToHashSet(StringComparer.Ordinal);
        Filter = FilterForm.Read(Request.Form);
        var errors = new List<FieldError>();
        var all = FilterForm.Split(Addresses).Concat(Chosen).ToArray();
        var request = Filter.ToRule(Id.Length == 0 ? null : Id, Scope, Name, all, errors);
        var (saved, saveErrors) = errors.Count > 0 ? (null, errors) : await editor.SaveRuleAsync(request, Existing, HttpContext.RequestAborted);
        if (saved is null)
        {
            AddErrors(saveErrors);
            await LoadAsync();
            Response.StatusCode = 400;
            return Page();
        }

        Notice = $"Saved rule {saved.Name} in {saved.Scope}: {FilterForm.Summary(saved.Filter)} → {saved.Addresses.Count + saved.Recipients.Count} recipient(s). Send a test below.";
        return Redirect($"/rules/edit?id={Uri.EscapeDataString(saved.Id)}");
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

        await editor.RemoveRuleAsync(Existing!.Id, HttpContext.RequestAborted);
        Notice = $"Removed rule {Existing.Name}.";
        return Redirect($"/rules?scope={Uri.EscapeDataString(Existing.Scope.Value)}");
    }

    public async Task<IActionResult> OnPostTestAsync([FromQuery(Name = "id")] string? id)
    {
        if (id is null)
        {
            return NotFound();
        }

        if (await FindAsync(id) is { } refused)
        {
            return refused;
        }

        Show(Existing!);
        await LoadAsync();
        // The fan-out needs the whole pipeline (templates, unsubscribe links, digests); a build without it says so.
        var services = HttpContext.RequestServices;
        if (services.GetService<INotificationTemplates>() is null || services.GetService<IUnsubscribeLinks>() is null || services.GetService<IDigestInbox>() is null)
        {
            TestProblem = "This Herald node cannot compose notifications yet (templates or unsubscribe links are missing): nothing was sent.";
            return Page();
        }

        var result = await services.GetRequiredService<NotificationFanOut>().TestRuleAsync(Existing!, time.GetUtcNow(), HttpContext.RequestAborted);
        if (result.Problem is not null)
        {
            TestProblem = result.Problem;
        }
        else
        {
            TestResult = result;
        }

        return Page();
    }

    public string Describe(Principal principal) => principal.Kind == PrincipalKind.User
        ? Users.FirstOrDefault(u => u.Id == principal.Id)?.Name ?? principal.Id
        : Groups.FirstOrDefault(g => g.Id == principal.Id)?.Name ?? principal.Id;

    /// <summary>Principals typed in the list (not shown as check boxes), one per line.</summary>
    public string RecipientListText => string.Join('\n', Chosen.Where(c => !UsesPicker
        || (!Users.Any(u => "user:" + u.Id == c) && !Groups.Any(g => "group:" + g.Id == c))));

    private void Show(NotificationRule rule)
    {
        (Id, Name, Scope) = (rule.Id, rule.Name, rule.Scope.Value);
        Addresses = string.Join('\n', rule.Addresses.Select(a => a.Value));
        Chosen = rule.Recipients.Select(p => p.ToString()).ToHashSet(StringComparer.Ordinal);
        Filter = FilterForm.From(rule.Filter, null, rule.ExcludeActor, rule.Enabled);
    }

    private async Task<IActionResult?> FindAsync(string? id)
    {
        if (id is null)
        {
            return null;
        }

        if (await registry.FindRuleAsync(id, HttpContext.RequestAborted) is not { } found)
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
    }
}
