using Herald.Outbox;
using Herald.Settings;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Connections;

/// <summary>The SMTP connections this administrator may see: those of the scopes they administer
/// (which they change) and those of the scopes above (which their scopes may use), with where
/// each is used and whether it works.</summary>
public sealed class IndexModel(OutgoingSettingsService service, ConnectionHealth health) : ConsolePage
{
    public IReadOnlyList<ConnectionListing> Connections { get; private set; } = [];

    public IReadOnlyDictionary<string, ConnectionStatus> Failing => health.Failing;

    public async Task<IActionResult> OnGetAsync()
    {
        var listed = await service.ListConnectionsAsync(Caller, HttpContext.RequestAborted);
        if (listed.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Connections = listed.Value!;
        return Page();
    }
}
