using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Web.Console.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Subscriptions;

/// <summary>The subscriptions (alerts) of a scope and the scopes below it: owner, what they
/// filter, how often they send. A scope administrator sees their scopes only.</summary>
public sealed class IndexModel(SubscriptionService subscriptions, ScopeService scopes, DirectoryCache directory) : ConsolePage
{
    public ScopePath Scope { get; private set; } = ScopePath.Root;

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public IReadOnlyList<Subscription> Subscriptions { get; private set; } = [];

    public DirectoryView View { get; private set; } = DirectoryView.Empty;

    public async Task<IActionResult> OnGetAsync(string? scope)
    {
        Scope = ScopePath.TryParse(scope ?? Admin.Scope.Value, out var path, out _) ? path : Admin.Scope;
        var listed = await subscriptions.ListAsync(Caller, null, Scope.Value, HttpContext.RequestAborted);
        if (listed.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Subscriptions = listed.Value!.OrderBy(s => s.Scope.Value, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal).ToArray();
        Scopes = await scopes.ListAsync(Caller, HttpContext.RequestAborted);
        View = await directory.GetViewAsync(HttpContext.RequestAborted);
        return Page();
    }

    public ScopeTreeView Tree => new(Scopes, Scope, Admin.Scope, "/subscriptions");

    public string OwnerName(Principal owner) => owner.Kind == PrincipalKind.User
        ? View.FindUser(owner.Id)?.Name ?? owner.Id
        : View.FindGroup(owner.Id)?.Name ?? owner.Id;
}
