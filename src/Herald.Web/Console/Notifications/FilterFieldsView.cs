namespace Herald.Web.Console.Notifications;

/// <summary>What the shared filter fields render: the values, the page (for field errors), and
/// whether the subscription schedule is part of the form (rules are always immediate).</summary>
public sealed record FilterFieldsView(FilterForm Form, ConsolePage Page, bool WithSchedule);

/// <summary>The scope picker beside a per-scope list: each scope links to <see cref="Path"/>?scope=….</summary>
public sealed record ScopeTreeView(IReadOnlyList<Herald.Scopes.ScopePath> Scopes, Herald.Scopes.ScopePath Current, Herald.Scopes.ScopePath AdminScope, string Path)
{
    public static int Depth(Herald.Scopes.ScopePath scope) => scope.IsRoot ? 0 : scope.Value.Count(ch => ch == '/');
}
