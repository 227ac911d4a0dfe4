using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Rules;

/// <summary>Add or change a notification rule (event filter; addresses, users and groups), remove
/// it, and test it, saved or before saving: a sample notification of its first event type goes to
/// each recipient now, and the page shows the server's answer for each. Every rule is
/// <see cref="RuleService"/>'s; this page translates the form and the refusals.</summary>
[RequestFormLimits(ValueCountLimit = PickerLimit + 200, ValueLengthLimit = 65_536)]
public sealed class EditModel(RuleService rules, ScopeService scopes, DirectoryService directory) : ConsolePage
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

    /// <summary>What the saved rule's test did, per recipient.</summary>
    public NotificationTestResult? TestResult { get; private set; }

    /// <summary>What "Test before saving" did with the form as posted, per recipient.</summary>
    public NotificationTestResult? DraftResult { get; private set; }

    /// <summary>The form was posted to be tested, not saved (a refusal then saved nothing and sent nothing).</summary>
    public bool TestingDraft { get; private set; }

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
            Scope = ScopePath.TryParse(scope, out var path, out _) ? path.Value : Admin.Scope.Value;
        }

        await LoadAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync([FromQuery(Name = "id")] string? existing, string? id, string? name, string? scope, string? addresses, string[]? recipients, string? recipientList)
    {
        var errors = new List<FieldError>();
        var request = Read(existing ?? id, name, scope, addresses, recipients, recipientList, errors);
        var saved = errors.Count > 0
            ? Refusal.Invalid(errors, "The rule is not valid; nothing was saved.")
            : existing is null
                ? await rules.CreateAsync(Caller, request, HttpContext.RequestAborted)
                : await rules.PutAsync(Caller, existing, request, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            if (existing is not null && await FindAsync(existing) is { } gone)
            {
                return gone;
            }

            await LoadAsync();
            return Refused(refusal, Page);
        }

        var rule = saved.Value!.Value;
        Notice = $"Saved rule {rule.Name} in {rule.Scope}: {FilterForm.Summary(rule.Filter)} → {rule.Addresses.Count + rule.Recipients.Count} recipient(s). Send a test below.";
        return Redirect($"/rules/edit?id={Uri.EscapeDataString(rule.Id)}");
    }

    /// <summary>"Test before saving": the form as the Save button would post it, tested instead of saved.</summary>
    public async Task<IActionResult> OnPostTestDraftAsync(
        [FromQuery(Name = "id")] string? existing, string? id, string? name, string? scope, string? addresses, string[]? recipients, string? recipientList)
    {
        TestingDraft = true;
        if (existing is not null && await FindAsync(existing) is { } gone)
        {
            return gone;
        }

        var errors = new List<FieldError>();
        var request = Read(existing ?? id, name, scope, addresses, recipients, recipientList, errors);
        var tested = errors.Count > 0
            ? Refusal.Invalid(errors, "The rule is not valid; nothing was sent.")
            : await rules.TestDraftAsync(Caller, request, HttpContext.RequestAborted);
        await LoadAsync();
        if (tested.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        DraftResult = tested.Value;
        return Page();
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "id")] string? id)
    {
        var found = await rules.FindAsync(Caller, id, HttpContext.RequestAborted);
        if ((found.Refusal ?? await rules.RemoveAsync(Caller, id, HttpContext.RequestAborted)) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"Removed rule {found.Value!.Name}.";
        return Redirect($"/rules?scope={Uri.EscapeDataString(found.Value.Scope.Value)}");
    }

    public async Task<IActionResult> OnPostTestAsync([FromQuery(Name = "id")] string? id)
    {
        if (await FindAsync(id ?? "") is { } refused)
        {
            return refused;
        }

        Show(Existing!);
        await LoadAsync();
        var tested = await rules.TestAsync(Caller, id, HttpContext.RequestAborted);
        if (tested.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        TestResult = tested.Value;
        return Page();
    }

    /// <summary>The form as a rule request, kept on the page to show it again.</summary>
    private RuleRequest Read(string? id, string? name, string? scope, string? addresses, string[]? recipients, string? recipientList, List<FieldError> errors)
    {
        (Id, Name, Scope, Addresses) = (id ?? "", name ?? "", scope ?? "", addresses ?? "");
        Chosen = (recipients ?? []).Concat(FilterForm.Split(recipientList)).ToHashSet(StringComparer.Ordinal);
        Filter = FilterForm.Read(Request.Form);
        return Filter.ToRule(Id.Length == 0 ? null : Id, Scope, Name, FilterForm.Split(Addresses).Concat(Chosen).ToArray(), errors);
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

    /// <summary>The rule by id (none for a new one); 404 when the caller may not see it.</summary>
    private async Task<IActionResult?> FindAsync(string? id)
    {
        if (id is null)
        {
            return null;
        }

        var found = await rules.FindAsync(Caller, id, HttpContext.RequestAborted);
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
    }
}
