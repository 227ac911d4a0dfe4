using Herald.Outbox;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Outbox;

/// <summary><c>/api/v1/messages</c>: submit into the outbox, inspect, retry and cancel. Who may do
/// what is <see cref="SubmissionService"/>'s and <see cref="QueueService"/>'s to decide.</summary>
public static class OutboxApi
{
    public static RouteGroupBuilder MapOutboxApi(this RouteGroupBuilder api)
    {
        var messages = api.MapGroup("/messages").WithTags("Messages");
        messages.MapPost("/", SubmitAsync).WithName("submitMessage").ProducesProblem(StatusCodes.Status503ServiceUnavailable).WithSummary("Submit a message")
            .WithDescription("Submit one message; 202 once it is durably stored.");
        messages.MapPost("/batch", SubmitBatchAsync).WithName("submitMessages").ProducesProblem(StatusCodes.Status503ServiceUnavailable).WithSummary("Submit a batch of messages")
            .WithDescription("Submit up to 1,000 messages in one request.");
        messages.MapGet("/{id}", GetAsync).WithName("getMessage").WithSummary("Get a message and its delivery state")
            .WithDescription("A message with each recipient's state and attempt history (senders and administrators of its scope).");
        messages.MapGet("/", ListAsync).WithName("listMessages").WithSummary("List messages")
            .WithDescription("Messages of a scope and its subtree (default: the key's), newest first (administrators).");
        messages.MapPost("/{id}/retry", RetryAsync).WithName("retryMessage").WithSummary("Retry a message now")
            .WithDescription("Make deferred, expired and failed (quarantined) recipients due now (administrators).");
        messages.MapPost("/{id}/cancel", CancelAsync).WithName("cancelMessage").WithSummary("Cancel a message")
            .WithDescription("Cancel recipients not yet delivered (administrators).");
        return api;
    }

    public sealed record Accepted(string Id, bool Duplicate);

    public sealed record BatchRequest(IReadOnlyList<SubmitRequest>? Messages);

    public sealed record BatchAccepted(IReadOnlyList<Accepted> Messages);

    private static async Task<Results<Accepted<Accepted>, ProblemHttpResult>> SubmitAsync(
        HttpContext context, SubmitRequest request, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, SubmissionService submissions)
    {
        var keyed = idempotencyKey is null ? request : request with { IdempotencyKey = idempotencyKey };
        var result = await submissions.SubmitAsync(context.Caller(), [keyed], batch: false, context.RequestAborted).ConfigureAwait(false);
        if (result.Refusal is { } refusal)
        {
            return ApiResults.Refused(refusal);
        }

        var stored = result.Value![0];
        return TypedResults.Accepted($"/api/v1/messages/{stored.Id}", new Accepted(stored.Id, stored.Duplicate));
    }

    private static async Task<Results<Accepted<BatchAccepted>, ProblemHttpResult>> SubmitBatchAsync(
        HttpContext context, BatchRequest request, SubmissionService submissions)
    {
        var result = await submissions.SubmitAsync(context.Caller(), request.Messages ?? [], batch: true, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal
            ? ApiResults.Refused(refusal)
            : TypedResults.Accepted((string?)null, new BatchAccepted(result.Value!.Select(m => new Accepted(m.Id, m.Duplicate)).ToArray()));
    }

    private static async Task<Results<Ok<MessageDetails>, ProblemHttpResult>> GetAsync(HttpContext context, string id, QueueService queue)
    {
        var result = await queue.ShowAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Ok<IReadOnlyList<MessageSummary>>, ProblemHttpResult>> ListAsync(
        HttpContext context, QueueService queue, string? scope, string? state, string? recipient, DateTimeOffset? since, DateTimeOffset? until, int? limit)
    {
        var query = new MessageQuery(scope ?? context.ApiKey().Scope.Value) { State = state, Recipient = recipient, Since = since, Until = until, Limit = limit };
        var result = await queue.ListAsync(context.Caller(), query, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!);
    }

    private static async Task<Results<Ok<MessageDetails>, ProblemHttpResult>> RetryAsync(HttpContext context, string id, QueueService queue)
    {
        var result = await queue.RetryAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!.Message);
    }

    private static async Task<Results<Ok<MessageDetails>, ProblemHttpResult>> CancelAsync(HttpContext context, string id, QueueService queue)
    {
        var result = await queue.CancelAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        return result.Refusal is { } refusal ? ApiResults.Refused(refusal) : TypedResults.Ok(result.Value!.Message);
    }
}
