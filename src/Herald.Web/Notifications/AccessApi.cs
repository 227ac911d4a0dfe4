using Herald.Access;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/access</c>: a scope's access list (View, Edit, Admin for users and groups),
/// for administrator keys of that scope or an ancestor. Entries apply to the scope and every scope below it.</summary>
public static class AccessApi
{
    public static RouteGroupBuilder MapAccessApi(this RouteGroupBuilder api)
    {
        var access = api.MapGroup("/access").WithTags("Access");
        access.MapGet("", GetAsync).WithSummary("A scope's own access entries and the effective ones, each with the scope it is inherited from.");
        access.MapPut("", PutAsync).WithSummary("Grant a user or group a level (view, edit, admin) on a scope; a second grant changes the level.");
        access.MapDelete("", DeleteAsync).WithSummary("Remove a principal's entry from a scope's access list.");
        return api;
    }

    public sealed record GrantRequest(string? Scope, string? Principal, string? Level);

    public sealed record EntryView(string Scope, string Principal, string Level)
    {
        public static EntryView From(AccessEntry e) => new(e.Scope.Value, e.Principal.ToString(), AccessLevelNames.Values.NameOf(e.Level));
    }

    public sealed record EffectiveView(string Principal, string Level, string From, bool Inherited);

    public sealed record AccessView(string Scope, IReadOnlyList<EntryView> Entries, IReadOnlyList<EffectiveView> Effective);

    private static async Task<Results<Ok<AccessView>, ValidationProblem, NotFound<ProblemDetails>, ProblemHttpResult>> GetAsync(
        HttpContext context, string? scope, DirectoryService service, Herald.Settings.ISettingsStore settings)
    {
        if (!ScopePath.TryParse(scope, out var path, out var error))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["scope"] = [error] });
        }

        if (context.Refuse(path, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        if (!await settings.ScopeExistsAsync(path, context.RequestAborted).ConfigureAwait(false))
        {
            return ApiResults.NotFound($"Scope '{path}' does not exist.");
        }

        var access = await service.DescribeAccessAsync(path, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new AccessView(
            path.Value,
            access.Own.Select(EntryView.From).ToArray(),
            access.Effective.Select(e => new EffectiveView(e.Principal.ToString(), AccessLevelNames.Values.NameOf(e.Level), e.From.Value, e.Inherited(path))).ToArray()));
    }

    private static async Task<Results<Ok<EntryView>, Created<EntryView>, ValidationProblem, ProblemHttpResult>> PutAsync(
        HttpContext context, GrantRequest request, DirectoryService service)
    {
        if (!ScopePath.TryParse(request.Scope, out var path, out var error))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["scope"] = [error] });
        }

        if (context.Refuse(path, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var (saved, created, errors) = await service.GrantAsync(request.Scope, request.Principal, request.Level, context.RequestAborted).ConfigureAwait(false);
        if (saved is null)
        {
            return ApiResults.Invalid(errors, "The access entry is not valid; nothing was saved.");
        }

        var view = EntryView.From(saved);
        return created ? TypedResults.Created($"/api/v1/access?scope={Uri.EscapeDataString(view.Scope)}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ValidationProblem, NotFound<ProblemDetails>, ProblemHttpResult>> DeleteAsync(
        HttpContext context, string? scope, string? principal, DirectoryService service)
    {
        if (!ScopePath.TryParse(scope, out var path, out var error))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["scope"] = [error] });
        }

        if (context.Refuse(path, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var (removed, errors) = await service.RevokeAsync(scope, principal, context.RequestAborted).ConfigureAwait(false);
        if (errors.Count > 0)
        {
            return ApiResults.Invalid(errors, "The access entry is not valid.");
        }

        return removed ? TypedResults.NoContent() : ApiResults.NotFound($"Scope {path} has no entry for '{principal}'.");
    }
}
