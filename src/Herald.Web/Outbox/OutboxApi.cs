using Herald.Access;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Web.Security;
using Herald.Work;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Herald.Web.Outbox;

/// <summary><c>/api/v1/messages</c>: submit into the outbox, inspect, retry and cancel.</summary>
public static class OutboxApi
{
    public static RouteGroupBuilder MapOutboxApi(this RouteGroupBuilder api)
    {
        var messages = api.MapGroup("/messages").WithTags("Messages");
        messages.MapPost("/", SubmitAsync).WithSummary("Submit one message; 202 once it is durably stored.");
        messages.MapPost("/batch", SubmitBatchAsync).WithSummary("Submit up to 1,000 messages in one request.");
        messages.MapGet("/{id}", GetAsync).WithSummary("A message with each recipient's state and attempt history.");
        messages.MapGet("/", ListAsync).WithSummary("Messages in the caller's scopes, newest first (administrators).");
        messages.MapPost("/{id}/retry", RetryAsync).WithSummary("Make deferred, expired and failed (quarantined) recipients due now (administrators).");
        messages.MapPost("/{id}/cancel", CancelAsync).WithSummary("Cancel recipients not yet delivered (administrators).");
        return api;
    }

    public sealed record Accepted(string Id, bool Duplicate);

    public sealed record BatchRequest(IReadOnlyList<SubmitRequest>? Messages);

    public sealed record BatchAccepted(IReadOnlyList<Accepted> Messages);

    private static async Task<Results<Accepted<Accepted>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpContext context, SubmitRequest request, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, SubmissionService submissions)
    {
        var keyed = idempotencyKey is null ? request : request with { IdempotencyKey = idempotencyKey };
        var outcome = await SubmitCheckedAsync(context, [keyed], batch: false, submissions).ConfigureAwait(false);
        return outcome switch
        {
            SubmitOutcome.Accepted { Messages: [var stored] } => TypedResults.Accepted($"/api/v1/messages/{stored.Id}", new Accepted(stored.Id, stored.Duplicate)),
            var other => Refusal<Accepted>(other),
        };
    }

    private static async Task<Results<Accepted<BatchAccepted>, ValidationProblem, ProblemHttpResult>> SubmitBatchAsync(
        HttpContext context, BatchRequest request, SubmissionService submissions)
    {
        var outcome = await SubmitCheckedAsync(context, request.Messages ?? [], batch: true, submissions).ConfigureAwait(false);
        return outcome switch
        {
            SubmitOutcome.Accepted accepted => TypedResults.Accepted((string?)null, new BatchAccepted(accepted.Messages.Select(m => new Accepted(m.Id, m.Duplicate)).ToArray())),
            var other => Refusal<BatchAccepted>(other),
        };
    }

    /// <summary>Every message's scope is checked against the key before anything is stored.</summary>
    private static async Task<SubmitOutcome> SubmitCheckedAsync(HttpContext context, IReadOnlyList<SubmitRequest> requests, bool batch, SubmissionService submissions)
    {
        var key = context.ApiKey();
        foreach (var request in requests)
        {
            if (ScopePath.TryParse(request.Scope, out var scope, out _) && !key.Allows(scope, ApiKeyRole.Sender))
            {
                return new Forbidden(scope, key);
            }
        }

        try
        {
            return await submissions.SubmitAsync(requests, MessageSource.Api, batch, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or TimeoutException)
        {
            return new Unavailable(ex.Message);
        }
    }

    private static Results<Accepted<T>, ValidationProblem, ProblemHttpResult> Refusal<T>(SubmitOutcome outcome) => outcome switch
    {
        SubmitOutcome.Invalid invalid => TypedResults.ValidationProblem(invalid.Errors, title: "The message is not valid."),
        SubmitOutcome.InsufficientStorage full => TypedResults.Problem(statusCode: StatusCodes.Status507InsufficientStorage, title: "Insufficient storage", detail: full.Reason),
        Forbidden forbidden => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
            detail: $"This API key ({ApiKeyRoleNames.Values.NameOf(forbidden.Key.Role)} of {forbidden.Key.Scope}) may not send into scope {forbidden.Scope}; nothing was accepted."),
        Unavailable => TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Outbox unavailable",
            detail: "The outbox could not store the message; nothing was accepted. Try again."),
        _ => throw new InvalidOperationException($"Unexpected outcome {outcome}."),
    };

    private static async Task<Results<Ok<MessageDetails>, NotFound<ProblemDetails>>> GetAsync(HttpContext context, string id, IOutboxStore outbox)
    {
        var details = await outbox.GetAsync(id, context.RequestAborted).ConfigureAwait(false);
        // A message outside the key's scopes is reported as missing: its existence is not the caller's business.
        return details is not null && context.ApiKey().Allows(details.Message.Scope, ApiKeyRole.Sender)
            ? TypedResults.Ok(details)
            : NotFound(id);
    }

    private static async Task<Results<Ok<IReadOnlyList<MessageSummary>>, ValidationProblem, ProblemHttpResult>> ListAsync(
        HttpContext context, IOutboxStore outbox, string? scope, string? state, string? recipient, DateTimeOffset? since, DateTimeOffset? until, int? limit)
    {
        var key = context.ApiKey();
        var errors = new Dictionary<string, string[]>();
        var target = key.Scope;
        if (scope is not null && !ScopePath.TryParse(scope, out target, out var scopeError))
        {
            errors["scope"] = [scopeError];
        }

        RecipientState? wanted = null;
        if (state is not null)
        {
            if (RecipientStateNames.Values.TryParse(state, out var error, out var parsed))
            {
                wanted = parsed;
            }
            else
            {
                errors["state"] = [error];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        if (context.Refuse(target, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        var found = await outbox.ListAsync(new MessageFilter(target, wanted, recipient, since, until, limit ?? 100), context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(found);
    }

    private static async Task<Results<Ok<MessageDetails>, NotFound<ProblemDetails>, ProblemHttpResult>> RetryAsync(
        HttpContext context, string id, IOutboxStore outbox, FailedWorkService failed)
    {
        var retried = await failed.RetryMessageAsync(context.Caller(), id, context.RequestAborted).ConfigureAwait(false);
        if (retried.Refusal is { } refusal)
        {
            return refusal.Kind == RefusalKind.NotFound ? NotFound(id) : ApiResults.Refused(refusal);
        }

        return TypedResults.Ok((await outbox.GetAsync(id, context.RequestAborted).ConfigureAwait(false))!);
    }

    private static Task<Results<Ok<MessageDetails>, NotFound<ProblemDetails>, ProblemHttpResult>> CancelAsync(
        HttpContext context, string id, IOutboxStore outbox, TimeProvider time) =>
        AdministerAsync(context, id, outbox, () => outbox.CancelAsync(id, time.GetUtcNow(), context.RequestAborted));

    private static async Task<Results<Ok<MessageDetails>, NotFound<ProblemDetails>, ProblemHttpResult>> AdministerAsync(
        HttpContext context, string id, IOutboxStore outbox, Func<Task> action)
    {
        var details = await outbox.GetAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (details is null || !context.ApiKey().Allows(details.Message.Scope, ApiKeyRole.Sender))
        {
            return NotFound(id);
        }

        if (context.Refuse(details.Message.Scope, ApiKeyRole.Admin) is { } refusal)
        {
            return refusal;
        }

        await action().ConfigureAwait(false);
        return TypedResults.Ok((await outbox.GetAsync(id, context.RequestAborted).ConfigureAwait(false))!);
    }

    private static NotFound<ProblemDetails> NotFound(string id) =>
        TypedResults.NotFound(new ProblemDetails { Status = 404, Title = "Not found", Detail = $"No message '{id}' in the scopes this key may see." });

    private sealed record Forbidden(ScopePath Scope, ApiKey Key) : SubmitOutcome;

    private sealed record Unavailable(string Reason) : SubmitOutcome;
}
