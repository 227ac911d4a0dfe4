using System.Text.Json;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/templates</c>: the Liquid templates of notifications per scope and event
/// type (or <c>digest</c>), for administrator keys of the scope. A template is checked when saved
/// (422 with the problem per field: subject, text, html) and can be previewed unsaved.</summary>
public static class TemplatesApi
{
    public static RouteGroupBuilder MapTemplatesApi(this RouteGroupBuilder api)
    {
        var templates = api.MapGroup("/templates").WithTags("Templates");
        templates.MapGet("/", ListAsync).WithName("listTemplates").WithSummary("List templates of a scope")
            .WithDescription("The template that applies to each type in the scope: default, inherited (from which scope) or the scope's own.");
        templates.MapPost("/preview", PreviewAsync).WithName("previewTemplate").WithSummary("Preview a template")
            .WithDescription("Render a type's template (or an unsaved one) with a sample event, or the given event values over it.");
        templates.MapGet("/{type}", GetAsync).WithName("getTemplate").WithSummary("Get the template of an event type")
            .WithDescription("The template that applies to the type in the scope.");
        templates.MapPut("/{type}", PutAsync).WithName("putTemplate").WithSummary("Set a scope's template for an event type")
            .WithDescription("Set the scope's own template for the type; checked before it is saved.");
        templates.MapDelete("/{type}", DeleteAsync).WithName("deleteTemplate").WithSummary("Remove a scope's template")
            .WithDescription("Remove the scope's own template: the inherited one or the default applies again.");
        return api;
    }

    public sealed record TemplateRequest(string? Subject, string? Text, string? Html);

    public sealed record TemplateView(string Type, string Scope, string Origin, string? DefinedAt, string Subject, string Text, string? Html, DateTimeOffset? UpdatedAt)
    {
        public static TemplateView From(string? scope, EffectiveTemplate t) => new(
            t.EventType, ScopePath.Parse(scope ?? "/").Value, TemplateOriginNames.Values.NameOf(t.Origin), t.DefinedAt?.Value, t.Sources.Subject, t.Sources.Text, t.Sources.Html, t.UpdatedAt);
    }

    public sealed record PreviewRequest(string? Scope, string? Type, TemplateRequest? Template, PreviewEventRequest? Event);

    public sealed record PreviewEventRequest(string? Id, string? Title, string? ResourcePath, string? Actor, string? Link, JsonElement? Data, DateTimeOffset? Time);

    public sealed record PreviewView(string Subject, string Text, string? Html);

    private static async Task<Results<Ok<TemplateView[]>, ProblemHttpResult>> ListAsync(HttpContext context, string? scope, TemplateService service)
    {
        var listed = await service.ListAsync(context.Caller(), scope, context.RequestAborted).ConfigureAwait(false);
        return listed.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(listed.Value!.Select(t => TemplateView.From(scope, t)).ToArray());
    }

    private static async Task<Results<Ok<TemplateView>, ProblemHttpResult>> GetAsync(HttpContext context, string type, string? scope, TemplateService service)
    {
        var shown = await service.ShowAsync(context.Caller(), scope, type, context.RequestAborted).ConfigureAwait(false);
        return shown.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(TemplateView.From(scope, shown.Value!));
    }

    private static async Task<Results<Ok<TemplateView>, ProblemHttpResult>> PutAsync(HttpContext context, string type, string? scope, TemplateRequest request, TemplateService service)
    {
        var saved = await service.SaveAsync(context.Caller(), scope, type, new TemplateSources(request.Subject ?? "", request.Text ?? "", request.Html), context.RequestAborted)
            .ConfigureAwait(false);
        return saved.Refusal is { } refusal ? Refused(refusal) : await GetAsync(context, type, scope, service).ConfigureAwait(false);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, string type, string? scope, TemplateService service) =>
        await service.RevertAsync(context.Caller(), scope, type, context.RequestAborted).ConfigureAwait(false) is { } refusal ? Refused(refusal) : TypedResults.NoContent();

    private static async Task<Results<Ok<PreviewView>, ProblemHttpResult>> PreviewAsync(HttpContext context, PreviewRequest request, TemplateService service)
    {
        var sources = request.Template is { } t ? new TemplateSources(t.Subject ?? "", t.Text ?? "", t.Html) : null;
        var overrides = request.Event is { } e ? new PreviewEvent(e.Id, e.Title, e.ResourcePath, e.Actor, e.Link, e.Data, e.Time) : null;
        var rendered = await service.PreviewAsync(context.Caller(), request.Scope, request.Type, sources, overrides, context.RequestAborted).ConfigureAwait(false);
        return rendered.Refusal is { } refusal ? Refused(refusal) : TypedResults.Ok(new PreviewView(rendered.Value!.Subject, rendered.Value.Text, rendered.Value.Html));
    }
}
