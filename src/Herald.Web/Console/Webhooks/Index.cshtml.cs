using Herald.Scopes;
using Herald.Settings;
using Herald.Webhooks;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Webhooks;

/// <summary>The webhooks of the administrator's scopes (<see cref="WebhookService"/>): add one
/// (its secret shown on this response only, never stored in a cookie or shown again), remove,
/// enable again; with <c>?id=</c>, one endpoint's delivery log with Retry.</summary>
public sealed class IndexModel(WebhookService webhooks, ISettingsStore settings) : ConsolePage
{
    public IReadOnlyList<WebhookEndpoint> Endpoints { get; private set; } = [];

    public IReadOnlyList<ScopePath> Scopes { get; private set; } = [];

    public string Scope { get; private set; } = "/";

    /// <summary>The endpoint whose log is shown.</summary>
    public WebhookLog? Log { get; private set; }

    /// <summary>The endpoint just created and its secret: this response is the only place it appears.</summary>
    public CreatedWebhook? Created { get; private set; }

    public WebhookRequest? Draft { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? scope, string? id)
    {
        if (!string.IsNullOrEmpty(id))
        {
            var log = await webhooks.LogAsync(Caller, id, null, HttpContext.RequestAborted);
            if (log.Refusal is { } refusal)
            {
                return Refused(refusal, Page);
            }

            Log = log.Value;
            scope = Log!.Endpoint.Scope.Value;
        }

        return await ShowAsync(scope);
    }

    public async Task<IActionResult> OnPostAddAsync(string? scope, string? url, string? description, string[]? eventTypes)
    {
        Draft = new WebhookRequest(scope, url, description, eventTypes);
        var created = await webhooks.CreateAsync(Caller, Draft, HttpContext.RequestAborted);
        if (created.Refusal is { } refusal)
        {
            if (refusal.Kind is not (RefusalKind.NotAllowed or RefusalKind.NotFound))
            {
                await ShowAsync(scope);
            }

            return Refused(refusal, Page);
        }

        // Rendered, not redirected: a redirect would carry the secret through TempData's cookie.
        Created = created.Value;
        Draft = null;
        return await ShowAsync(Created!.Endpoint.Scope.Value);
    }

    public async Task<IActionResult> OnPostRemoveAsync(string? id)
    {
        var removed = await webhooks.RemoveAsync(Caller, id, HttpContext.RequestAborted);
        if (removed.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"The webhook to {removed.Value!.Url} is removed, with its waiting deliveries and its log.";
        return Redirect($"/webhooks?scope={Uri.EscapeDataString(removed.Value.Scope.Value)}");
    }

    public async Task<IActionResult> OnPostEnableAsync(string? id, bool enabled)
    {
        var changed = await webhooks.UpdateAsync(Caller, id, new WebhookChange(Enabled: enabled), HttpContext.RequestAborted);
        if (changed.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = enabled ? $"The webhook to {changed.Value!.Url} is enabled; its waiting deliveries go out." : $"The webhook to {changed.Value!.Url} is disabled; its deliveries wait.";
        return Redirect($"/webhooks?id={Uri.EscapeDataString(changed.Value.Id)}");
    }

    public async Task<IActionResult> OnPostRetryAsync(string? id, string? delivery)
    {
        var retried = await webhooks.RetryAsync(Caller, id, delivery, HttpContext.RequestAborted);
        if (retried.Refusal is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"Delivery {retried.Value!.Id} ({retried.Value.Type}) goes out again now.";
        return Redirect($"/webhooks?id={Uri.EscapeDataString(id!)}");
    }

    private async Task<IActionResult> ShowAsync(string? scope)
    {
        Scopes = await AdministeredScopesAsync(settings);
        Scope = string.IsNullOrEmpty(scope) ? Admin.Scope.Value : scope;
        var found = await webhooks.ListAsync(Caller, Scope, HttpContext.RequestAborted);
        if (found.Refusal is { } refusal)
        {
            return Refused(refusal, () =>
            {
                Response.StatusCode = 400;
                return Page();
            });
        }

        Endpoints = found.Value!;
        return Page();
    }
}
