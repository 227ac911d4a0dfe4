using Herald.Notifications;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>/api/v1/access</c>: a scope's access list (View, Edit, Admin for users and groups),
/// for administrator keys of that scope or an ancestor. Entries apply to the scope and every scope below it.</summary>
public static class AccessApi
{
    public static RouteGroupBuilder MapAccessApi(this RouteGroupBuilder api)
    {
        var access = api.MapGroup("/access").WithTags("Access");
        access.MapGet("", GetAsync).WithName("getAccess").WithSummary("Get a scope's access list")
            .WithDescription("A scope's own access entries and the effective ones, each with the scope it is inherited from.");
        access.MapPut("", PutAsync).WithName("grantAccess").WithSummary("Grant access to a scope")
            .WithDescription("Grant a user or group a level (view, edit, admin) on a scope; a second grant changes the level.");
        access.MapDelete("", DeleteAsync).WithName("revokeAccess").WithSummary("Revoke access to a scope")
            .WithDescription("Remove a principal's entry from a scope's access list.");
        return api;
    }

    public sealed record GrantRequest(string? Scope, string? Principal, string? Level);

    public sealed record EntryView(string Scope, string Principal, string Level)
    {
        public static EntryView From(AccessEntry e) => new(e.Scope.Value, e.Principal.ToString(), AccessLevelNames.Values.NameOf(e.Level));
    }

    public sealed record EffectiveView(string Principal, string Level, string From, bool Inherited);

    public sealed record AccessView(string Scope, IReadOnlyList<EntryView> Entries, IReadOnlyList<EffectiveView> Effective);

    private static async Task<Results<Ok<AccessView>, ProblemHttpResult>> GetAsync(HttpContext context, string? scope, DirectoryService service)
    {
        var found = await service.DescribeAccessAsync(context.Caller(), scope, context.RequestAborted).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var access = found.Value!;
        return TypedResults.Ok(new AccessView(
            access.Scope.Value,
            access.Own.Select(EntryView.From).ToArray(),
            access.Effective.Select(e => new EffectiveView(e.Principal.ToString(), AccessLevelNames.Values.NameOf(e.Level), e.From.Value, e.Inherited(access.Scope))).ToArray()));
    }

    private static async Task<Results<Ok<EntryView>, Created<EntryView>, ProblemHttpResult>> PutAsync(HttpContext context, GrantRequest request, DirectoryService service)
    {
        var granted = await service.GrantAsync(context.Caller(), request.Scope, request.Principal, request.Level, context.RequestAborted).ConfigureAwait(false);
        if (granted.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var view = EntryView.From(granted.Value!.Value);
        return granted.Value.Created ? TypedResults.Created($"/api/v1/access?scope={Uri.EscapeDataString(view.Scope)}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(HttpContext context, string? scope, string? principal, DirectoryService service) =>
        await service.RevokeAsync(context.Caller(), scope, principal, context.RequestAborted).ConfigureAwait(false) is { } refusal ? Refused(refusal) : TypedResults.NoContent();
}
