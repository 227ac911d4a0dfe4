using Herald.Outbox;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Connections;

/// <summary>Every SMTP connection with where it is used and whether it works (administrators of <c>/</c>).</summary>
public sealed class IndexModel(ISettingsStore store, ConnectionHealth health) : ConsolePage
{
    public IReadOnlyList<SmtpConnection> Connections { get; private set; } = [];

    public Dictionary<string, List<string>> UsedBy { get; } = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, ConnectionStatus> Failing => health.Failing;

    public async Task<IActionResult> OnGetAsync()
    {
        if (!Admin.IsGlobal)
        {
            return Refuse("SMTP connections are shared by every scope: only administrators of / manage them.");
        }

        Connections = await store.ListConnectionsAsync(HttpContext.RequestAborted);
        foreach (var scope in await store.ListScopesAsync(HttpContext.RequestAborted))
        {
            var own = (await store.GetOutgoingChainAsync(scope, HttpContext.RequestAborted)).FirstOrDefault(s => s.Scope == scope);
            if (own?.ConnectionName is { } name)
            {
                (UsedBy.TryGetValue(name, out var list) ? list : UsedBy[name] = []).Add(scope.Value);
            }
        }

        return Page();
    }
}
