using System.Text.Json;
using Herald.Access;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/templates</c>: the Liquid templates of notifications per scope and event
/// type (or <c>digest</c>), for administrator keys of the scope. A template is checked when saved
/// (422 with the problem per field: subject, text, html) and can be previewed unsaved.</summary>
public static class TemplatesApi
{
    public static RouteGroupBuilder MapTemplatesApi(this RouteGroupBuilder api)
    {
        var templates = api.MapGroup("/templates").WithTags("Templates");
        templates.MapGet("/", ListAsync).WithSummary("The template that applies to each type in the scope: default, inherited (from which scope) or the scope's own.");
        templates.MapPost("/preview", PreviewAsync).WithSummary("Render a type's template (or an unsaved one) with a sample event, or the given event values over it.");
        templates.MapGet("/{type}", GetAsync).WithSummary("The template that applies to the type in the scope.");
        templates.MapPut("/{type}", PutAsync).WithSummary("Set the scope's own template for the type; checked before it is saved.");
        templates.MapDelete("/{type}", DeleteAsync).WithSummary("Remove the scope's own template: the inherited one or the default applies again.");
        return api;
    }

    public sealed record TemplateRequest(string? Subject, string? Text, string? Html);

    public sealed record TemplateView(string Type, string Scope, string Origin, string? DefinedAt, string Subject, string Text, string? Html, DateTimeOffset? UpdatedAt)
    {
        public static TemplateView From(ScopePath scope, EffectiveTemplate t) => new(
            t.EventType, scope.Value, TemplateOriginNames.Values.NameOf(t.Origin), t.DefinedAt?.Value, t.Sources.Subject, t.Sources.Text, t.Sources.Html, t.UpdatedAt);
    }

    public sealed record PreviewRequest(string? Scope, string? Type, TemplateRequest? Template, PreviewEventRequest? Event);

    public sealed record PreviewEventRequest(string? Id, string? Title, string? ResourcePath, string? Actor, string? Link, JsonElement? Data, DateTimeOffset? Time);

    public sealed record PreviewView(string Subject, string Text, string? Html);

    private static async Task<Results<Ok<TemplateView[]>, ValidationProblem, ProblemHttpResult>> ListAsync(HttpContext context, string? scope, TemplateService service)
    {
        var (path, invalid, forbidden) = Scope(context, scope);
        if (invalid is not null)
        {
            return invalid;
        }

        if (forbidden is not null)
        {
            return forbidden;
        }

        var effective = await service.ListEffectiveAsync(path, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(effective.Select(t => TemplateView.From(path, t)).ToArray());
    }

    private static async Task<Results<Ok<TemplateView>, ValidationProblem, ProblemHttpResult>> GetAsync(HttpContext context, string type, string? scope, TemplateService service)
    {
        var (path, invalid, forbidden) = Scope(context, scope);
        if (invalid is not null)
        {
            return invalid;
        }

        if (forbidden is not null)
        {
            return forbidden;
        }

        if (!TemplateService.TryCheckType(type, out var typeError))
        {
            return Invalid([new("type", typeError)]);
        }

        return TypedResults.Ok(TemplateView.From(path, await service.GetEffectiveAsync(path, type, context.RequestAborted).ConfigureAwait(false)));
    }

    private static async Task<Results<Ok<TemplateView>, ValidationProblem, UnprocessableEntity<HttpValidationProblemDetails>, ProblemHttpResult>> PutAsync(
        HttpContext context, string type, string? scope, TemplateRequest request, TemplateService service)
    {
        var (path, invalid, forbidden) = Scope(context, scope);
        if (invalid is not null)
        {
            return invalid;
        }

        if (forbidden is not null)
        {
            return forbidden;
        }

        var (saved, errors) = await service.SaveAsync(path, type, new TemplateSources(request.Subject ?? "", request.Text ?? "", request.Html), context.RequestAborted).ConfigureAwait(false);
        if (saved is null)
        {
            // A wrong type or scope is a bad request; a template that does not compile or render is unprocessable.
            return errors.Any(e => e.Field is "type" or "scope") ? Invalid(errors) : TypedResults.UnprocessableEntity(Problem(errors, StatusCodes.Status422UnprocessableEntity));
        }

        return TypedResults.Ok(TemplateView.From(path, await service.GetEffectiveAsync(path, type, context.RequestAborted).ConfigureAwait(false)));
    }

    private static async Task<Results<NoContent, NotFound<ProblemDetails>, ValidationProblem, ProblemHttpResult>> DeleteAsync(
        HttpContext context, string type, string? scope, TemplateService service)
    {
        var (path, invalid, forbidden) = Scope(context, scope);
        if (invalid is not null)
        {
            return invalid;
        }

        if (forbidden is not null)
        {
            return forbidden;
        }

        if (!TemplateService.TryCheckType(type, out var typeError))
        {
            return Invalid([new("type", typeError)]);
        }

        return await service.RemoveAsync(path, type, context.RequestAborted).ConfigureAwait(false)
            ? TypedResults.NoContent()
            : TypedResults.NotFound(new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Not found", Detail = $"Scope {path} has no template of its own for '{type}'." });
    }

    private static async Task<Results<Ok<PreviewView>, ValidationProblem, UnprocessableEntity<HttpValidationProblemDetails>, ProblemHttpResult>> PreviewAsync(
        HttpContext context, PreviewRequest request, TemplateService service)
    {
        var (path, invalid, forbidden) = Scope(context, request.Scope);
        if (invalid is not null)
        {
            return invalid;
        }

        if (forbidden is not null)
        {
            return forbidden;
        }

        var sources = request.Template is { } t ? new TemplateSources(t.Subject ?? "", t.Text ?? "", t.Html) : null;
        var overrides = request.Event is { } e ? new PreviewEvent(e.Id, e.Title, e.ResourcePath, e.Actor, e.Link, e.Data, e.Time) : null;
        var (rendered, errors) = await service.PreviewAsync(path, request.Type, sources, overrides, context.RequestAborted).ConfigureAwait(false);
        if (rendered is null)
        {
            return errors.Any(x => x.Field == "type") ? Invalid(errors) : TypedResults.UnprocessableEntity(Problem(errors, StatusCodes.Status422UnprocessableEntity));
        }

        return TypedResults.Ok(new PreviewView(rendered.Subject, rendered.Text, rendered.Html));
    }

    /// <summary>The scope (default '/'): 400 when malformed, 403 unless the key administers it.</summary>
    private static (ScopePath Path, ValidationProblem? Invalid, ProblemHttpResult? Forbidden) Scope(HttpContext context, string? scope) =>
        !ScopePath.TryParse(scope ?? "/", out var path, out var error)
            ? (path, Invalid([new("scope", error)]), null)
            : (path, null, context.Refuse(path, ApiKeyRole.Admin));

    private static HttpValidationProblemDetails Problem(IReadOnlyList<FieldError> errors, int status) =>
        new(errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()))
        {
            Status = status,
            Title = "The template is not valid; nothing was saved.",
        };

    private static ValidationProblem Invalid(IReadOnlyList<FieldError> errors) =>
        ApiResults.Invalid(errors, "The request is not valid; nothing was saved.");
}
