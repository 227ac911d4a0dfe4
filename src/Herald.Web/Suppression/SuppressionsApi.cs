using Herald.Suppression;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Suppression;

/// <summary><c>/api/v1/suppressions</c>: the suppression lists of a scope and the scopes below it.
/// Who may do what is <see cref="SuppressionService"/>'s to decide.</summary>
public static class SuppressionsApi
{
    public static RouteGroupBuilder MapSuppressionsApi(this RouteGroupBuilder api)
    {
        var suppressions = api.MapGroup("/suppressions").WithTags("Suppressions");
        suppressions.MapGet("/", ListAsync).WithName("listSuppressions").WithSummary("List suppressed addresses")
            .WithDescription("Entries of a scope's suppression list and of the scopes below it (default: the key's scope), newest first, a page at a time; filter by address (or @domain) and reason (administrators).");
        suppressions.MapPost("/", AddAsync).WithName("addSuppression").WithSummary("Suppress an address")
            .WithDescription("Put an address on a scope's suppression list: nothing is sent to it from that scope or below until the entry is removed or expires (administrators).");
        suppressions.MapDelete("/{id}", RemoveAsync).WithName("removeSuppression").WithSummary("Remove a suppression entry")
            .WithDescription("Send to the address again from the entry's scope (administrators of that scope).");
        suppressions.MapGet("/export", ExportAsync).WithName("exportSuppressions").WithSummary("Export suppressed addresses")
            .WithDescription("Every entry the filter selects, as CSV (cells that a spreadsheet would read as a formula are prefixed with an apostrophe) or JSON (administrators).")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv").Produces<IReadOnlyList<SuppressionEntry>>(StatusCodes.Status200OK, "application/json");
        return api;
    }

    /// <summary>An entry to add.</summary>
    /// <param name="Scope">The scope whose list it goes on (default: the key's).</param>
    /// <param name="Reason">hard-bounce, complaint, unsubscribe-all or administrator.</param>
    /// <param name="Source">Where it came from, e.g. "ticket 4711" (default: the key).</param>
    /// <param name="ExpiresAt">When it stops applying (default: never).</param>
    public sealed record AddRequest(string? Scope, string? Address, string? Reason, string? Source, DateTimeOffset? ExpiresAt);

    private static async Task<Results<Ok<SuppressionPage>, ProblemHttpResult>> ListAsync(
        HttpContext context, SuppressionService suppressions, string? scope, string? address, string? reason, string? before, int? limit)
    {
        var query = new SuppressionQuery(scope ?? context.ApiKey().Scope.Value, address, reason, before, limit);
        var result = await suppressions.ListAsync(context.Caller(), query, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Created<SuppressionEntry>, ProblemHttpResult>> AddAsync(HttpContext context, AddRequest request, SuppressionService suppressions)
    {
        var result = await suppressions.AddAsync(
            context.Caller(),
            new SuppressionRequest(request.Scope ?? context.ApiKey().Scope.Value, request.Address, request.Reason, request.Source, request.ExpiresAt),
            context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Created($"/api/v1/suppressions/{result.Value!.Id}", result.Value);
    }

    private static async Task<Results<Ok<SuppressionEntry>, ProblemHttpResult>> RemoveAsync(HttpContext context, string id, SuppressionService suppressions)
    {
        var result = await suppressions.RemoveAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static Results<PushStreamHttpResult, ProblemHttpResult> ExportAsync(
        HttpContext context, SuppressionService suppressions, string? format, string? scope, string? address, string? reason)
    {
        var result = suppressions.Export(context.Caller(), new SuppressionQuery(scope ?? context.ApiKey().Scope.Value, address, reason), format);
        if (result.Refusal is { } refusal)
        {
            return ApiResults.Refused(refusal);
        }

        var export = result.Value!;
        return TypedResults.Stream(output => export.WriteAsync(output, context.RequestAborted), export.ContentType, export.FileName);
    }
}
