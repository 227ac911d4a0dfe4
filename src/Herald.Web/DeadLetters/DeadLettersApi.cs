using Herald.Outbox.DeadLetters;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.DeadLetters;

/// <summary><c>/api/v1/dead-letters</c>: expired, bounced, failed and suppressed recipients of a
/// scope and the scopes below it. Who may do what is <see cref="DeadLetterService"/>'s to decide.</summary>
public static class DeadLettersApi
{
    public static RouteGroupBuilder MapDeadLettersApi(this RouteGroupBuilder api)
    {
        var deadLetters = api.MapGroup("/dead-letters").WithTags("Dead letters");
        deadLetters.MapGet("/", ListAsync).WithName("listDeadLetters").WithSummary("List dead letters")
            .WithDescription("Recipients that are expired, bounced, failed (quarantined) or suppressed, of a scope and the scopes below it (default: the key's), newest first, a page at a time; filter by state, recipient domain and when they reached their state (administrators).");
        deadLetters.MapPost("/retry", RetryAsync).WithName("retryDeadLetters").WithSummary("Retry dead letters")
            .WithDescription("Make exactly the selected recipients (or every one a filter selects, up to 10,000) due again; the other recipients of their messages stay as they are. A recipient retried already, sent since, or still suppressed is skipped and counted (administrators).");
        deadLetters.MapPost("/suppress", SuppressAsync).WithName("suppressDeadLetters").WithSummary("Suppress dead letters' addresses")
            .WithDescription("Put the selected recipients' addresses on the suppression list of their message's scope, reason administrator (administrators).");
        deadLetters.MapGet("/export", Export).WithName("exportDeadLetters").WithSummary("Export dead letters")
            .WithDescription("Every dead letter the filter selects, as CSV (cells that a spreadsheet would read as a formula are prefixed with an apostrophe) or JSON (administrators).")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv").Produces<IReadOnlyList<DeadLetter>>(StatusCodes.Status200OK, "application/json");
        return api;
    }

    /// <summary>Which dead letters a bulk action takes when it names no recipients.</summary>
    /// <param name="Scope">The scope and its subtree (default: the key's).</param>
    /// <param name="State">expired, bounced, failed or suppressed, or several comma-separated (default: all).</param>
    /// <param name="Domain">The recipient's domain, exactly (case-insensitive).</param>
    public sealed record FilterRequest(string? Scope, string? State, string? Domain, DateTimeOffset? Since, DateTimeOffset? Until);

    /// <summary>A recipient as the list shows it.</summary>
    public sealed record RecipientRequest(string? MessageId, string? Recipient);

    /// <summary>What a bulk action takes: <c>recipients</c> (at most 10,000), or a <c>filter</c>
    /// that selects at most 10,000; one of the two.</summary>
    public sealed record SelectionRequest(IReadOnlyList<RecipientRequest>? Recipients, FilterRequest? Filter);

    private static async Task<Results<Ok<DeadLetterPage>, ProblemHttpResult>> ListAsync(
        HttpContext context, DeadLetterService deadLetters, string? scope, string? state, string? domain, DateTimeOffset? since, DateTimeOffset? until, string? after, int? limit)
    {
        var query = new DeadLetterQuery(scope ?? context.ApiKey().Scope.Value, state, domain, since, until, after, limit);
        var result = await deadLetters.ListAsync(context.Caller(), query, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Ok<DeadLetterOutcome>, ProblemHttpResult>> RetryAsync(HttpContext context, SelectionRequest request, DeadLetterService deadLetters)
    {
        var result = await deadLetters.RetryAsync(context.Caller(), Selection(context, request), context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Ok<DeadLetterOutcome>, ProblemHttpResult>> SuppressAsync(HttpContext context, SelectionRequest request, DeadLetterService deadLetters)
    {
        var result = await deadLetters.SuppressAsync(context.Caller(), Selection(context, request), context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static Results<PushStreamHttpResult, ProblemHttpResult> Export(
        HttpContext context, DeadLetterService deadLetters, string? format, string? scope, string? state, string? domain, DateTimeOffset? since, DateTimeOffset? until)
    {
        var result = deadLetters.Export(context.Caller(), new DeadLetterQuery(scope ?? context.ApiKey().Scope.Value, state, domain, since, until), format);
        if (result.Refusal is { } refusal)
        {
            return ApiResults.Refused(refusal);
        }

        var export = result.Value!;
        return TypedResults.Stream(output => export.WriteAsync(output, context.RequestAborted), export.ContentType, export.FileName);
    }

    private static DeadLetterSelection Selection(HttpContext context, SelectionRequest request) => new(
        request.Recipients?.Select(r => new DeadLetterRecipient(r?.MessageId, r?.Recipient)).ToArray(),
        request.Filter is { } filter
            ? new DeadLetterQuery(filter.Scope ?? context.ApiKey().Scope.Value, filter.State, filter.Domain, filter.Since, filter.Until)
            : null);
}
