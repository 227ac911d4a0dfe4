using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Rules;

/// <summary>Notification rules of a scope and the scopes below it: which events go to which
/// addresses, users and groups.</summary>
public sealed class IndexModel(RuleService rules, ScopeService scopes, DirectoryCache directory) : ConsolePage
{
    public ScopePath Scope { get; private set; } = ScopePath.Root;

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public IReadOnlyList<NotificationRule> Rules { get; private set; } = [];

    public DirectoryView View { get; private set; } = DirectoryView.Empty;

    public ScopeTreeView Tree => new(Scopes, Scope, Admin.Scope, "/rules");

    public async Task<IActionResult> OnGetAsync(string? scope)
    {
        Scope = ScopePath.TryParse(scope ?? Admin.Scope.Value, out var path, out _) ? path : Admin.Scope;
        var listed = await rules.ListAsync(Caller, Scope.Value, HttpContext.RequestAborted);
        if (listed.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Rules = listed.Value!.OrderBy(r => r.Scope.Value, StringComparer.Ordinal).ThenBy(r => r.Name, StringComparer.Ordinal).ToArray();
        Scopes = await scopes.ListAsync(Caller, HttpContext.RequestAborted);
        View = await directory.GetViewAsync(HttpContext.RequestAborted);
        return Page();
    }

    public IEnumerable<string> RecipientNames(NotificationRule rule) =>
        rule.Addresses.Select(a => a.Value).Concat(rule.Recipients.Select(p => p.Kind == PrincipalKind.User
            ? View.FindUser(p.Id)?.Name ?? p.Id
            : $"{View.FindGroup(p.Id)?.Name ?? p.Id} (group)"));
}
