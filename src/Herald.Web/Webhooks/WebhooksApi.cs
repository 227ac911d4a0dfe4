using Herald.Web.Security;
using Herald.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Webhooks;

/// <summary><c>/api/v1/webhooks</c>: the webhook endpoints of a scope and the scopes below it,
/// their delivery logs and retries. Who may do what is <see cref="WebhookService"/>'s to decide.</summary>
public static class WebhooksApi
{
    public static RouteGroupBuilder MapWebhooksApi(this RouteGroupBuilder api)
    {
        var webhooks = api.MapGroup("/webhooks").WithTags("Webhooks");
        webhooks.MapGet("/", ListAsync).WithName("listWebhooks").WithSummary("List webhooks")
            .WithDescription("The webhook endpoints of a scope and the scopes below it (default: the key's scope); the signing secrets are never shown (administrators).");
        webhooks.MapPost("/", CreateAsync).WithName("createWebhook").WithSummary("Add a webhook")
            .WithDescription("Add an endpoint (https://, or http:// to loopback only) that is told, signed as Standard Webhooks says, about recipient state changes and finished events of the scope and below; the answer holds the signing secret, shown this once (administrators).");
        webhooks.MapPatch("/{id}", UpdateAsync).WithName("updateWebhook").WithSummary("Change a webhook")
            .WithDescription("Change an endpoint's URL, description or event types, or enable it again after Herald disabled it for failing (administrators of its scope).");
        webhooks.MapDelete("/{id}", RemoveAsync).WithName("removeWebhook").WithSummary("Remove a webhook")
            .WithDescription("Remove an endpoint with its secret, its waiting deliveries and its log (administrators of its scope).");
        webhooks.MapGet("/{id}/deliveries", LogAsync).WithName("listWebhookDeliveries").WithSummary("A webhook's delivery log")
            .WithDescription("The endpoint's last attempts (status, time, the start of the reply), newest first, and the deliveries still waiting (administrators of its scope).");
        webhooks.MapPost("/{id}/deliveries/{deliveryId}/retry", RetryAsync).WithName("retryWebhookDelivery").WithSummary("Retry a webhook delivery")
            .WithDescription("Send a delivery again now, with every try again; a delivered one is delivered once more, with the same webhook-id (administrators of its scope).");
        return api;
    }

    /// <summary>An endpoint to add.</summary>
    /// <param name="Scope">Whose changes it hears, with the scopes below (default: the key's).</param>
    /// <param name="Url">https://…, or http:// to 127.0.0.1, ::1 or localhost.</param>
    /// <param name="EventTypes">message.recipient.sent, .deferred, .bounced, .expired, .suppressed,
    /// .complained, .failed, event.finished; none means all.</param>
    public sealed record CreateRequest(string? Scope, string? Url, string? Description, IReadOnlyList<string>? EventTypes);

    /// <summary>A change; what is left out stays.</summary>
    /// <param name="Enabled">true enables an endpoint again (its failures forgotten).</param>
    public sealed record UpdateRequest(string? Url, string? Description, IReadOnlyList<string>? EventTypes, bool? Enabled);

    private static async Task<Results<Ok<IReadOnlyList<WebhookEndpoint>>, ProblemHttpResult>> ListAsync(HttpContext context, WebhookService webhooks, string? scope)
    {
        var result = await webhooks.ListAsync(context.Caller(), scope ?? context.ApiKey().Scope.Value, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Created<CreatedWebhook>, ProblemHttpResult>> CreateAsync(HttpContext context, CreateRequest request, WebhookService webhooks)
    {
        var result = await webhooks.CreateAsync(
            context.Caller(), new WebhookRequest(request.Scope ?? context.ApiKey().Scope.Value, request.Url, request.Description, request.EventTypes), context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Created($"/api/v1/webhooks/{result.Value!.Endpoint.Id}", result.Value);
    }

    private static async Task<Results<Ok<WebhookEndpoint>, ProblemHttpResult>> UpdateAsync(HttpContext context, string id, UpdateRequest request, WebhookService webhooks)
    {
        var result = await webhooks.UpdateAsync(
            context.Caller(), id, new WebhookChange(request.Url, request.Description, request.EventTypes, request.Enabled), context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Ok<WebhookEndpoint>, ProblemHttpResult>> RemoveAsync(HttpContext context, string id, WebhookService webhooks)
    {
        var result = await webhooks.RemoveAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Ok<WebhookLog>, ProblemHttpResult>> LogAsync(HttpContext context, string id, WebhookService webhooks, int? limit)
    {
        var result = await webhooks.LogAsync(context.Caller(), id, limit, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Ok<WebhookDelivery>, ProblemHttpResult>> RetryAsync(HttpContext context, string id, string deliveryId, WebhookService webhooks)
    {
        var result = await webhooks.RetryAsync(context.Caller(), id, deliveryId, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }
}
