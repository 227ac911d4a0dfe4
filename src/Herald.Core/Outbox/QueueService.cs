using Herald.Access;
using Herald.Scopes;
using Microsoft.Extensions.Options;

namespace Herald.Outbox;

/// <summary>Which messages to list, as a door received it: every field optional and unparsed, so
/// that Core names what is wrong. <see cref="Scope"/> is the scope and its subtree (the door
/// gives the caller's own scope when the request names none).</summary>
public sealed record MessageQuery(string? Scope)
{
    public string? State { get; init; }

    public string? Recipient { get; init; }

    public DateTimeOffset? Since { get; init; }

    public DateTimeOffset? Until { get; init; }

    public int? Limit { get; init; }
}

/// <summary>What retry or cancel changed, and the message afterwards.</summary>
public sealed record QueueChange(int Recipients, MessageDetails Message);

/// <summary>
/// The queue's use cases, for the API, the console and the CLI alike. Showing a message is for
/// the senders and administrators of its scope; listing, retrying and cancelling for its
/// administrators. A message of a scope the caller cannot see answers exactly as a message that
/// does not exist (<see cref="RefusalKind.NotFound"/>), so that ids of other scopes cannot be probed.
/// </summary>
public sealed class QueueService(IOutboxStore outbox, OutboxSignal signal, IOptions<DeliveryOptions> options, TimeProvider time)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const int MaxRecipientLength = 320;
    private const int MaxIdLength = 100;

    public async Task<Result<MessageDetails>> ShowAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var details = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        return details is null ? Missing(id) : details;
    }

    public async Task<Result<IReadOnlyList<MessageSummary>>> ListAsync(Caller caller, MessageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(query);
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(query.Scope, out var scope, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }
        else if (caller.RefuseUnlessAdministers(scope, $"list the messages of {scope}") is { } refusal)
        {
            // A scope is named by the caller: refused as every door refuses a scope it does not hold.
            return refusal;
        }

        RecipientState? state = null;
        if (query.State is not null)
        {
            if (RecipientStateNames.Values.TryParse(query.State, out var stateError, out var parsed))
            {
                state = parsed;
            }
            else
            {
                errors.Add(new("state", $"State {stateError}"));
            }
        }

        var recipient = string.IsNullOrWhiteSpace(query.Recipient) ? null : query.Recipient.Trim();
        if (recipient is { Length: > MaxRecipientLength })
        {
            errors.Add(new("recipient", $"A recipient address is at most {MaxRecipientLength} characters."));
        }

        if (query.Limit is < 1 or > MaxLimit)
        {
            errors.Add(new("limit", $"The limit is a number from 1 to {MaxLimit}."));
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The filter is not valid.");
        }

        var found = await outbox.ListAsync(new MessageFilter(scope, state, recipient, query.Since, query.Until, query.Limit ?? DefaultLimit), cancellationToken).ConfigureAwait(false);
        return found.ToArray();
    }

    /// <summary>Makes the message's deferred and expired recipients due now (an expired one gets a
    /// new maximum age) and wakes this node's delivery worker.</summary>
    public Task<Result<QueueChange>> RetryAsync(Caller caller, string? id, CancellationToken cancellationToken) =>
        AdministerAsync(caller, id, "retry", async (messageId, ct) =>
        {
            var now = time.GetUtcNow();
            var changed = await outbox.RetryAsync(messageId, now, now + options.Value.MaximumAge, ct).ConfigureAwait(false);
            signal.Notify();
            return changed;
        }, cancellationToken);

    /// <summary>Cancels the message's recipients still queued or deferred.</summary>
    public Task<Result<QueueChange>> CancelAsync(Caller caller, string? id, CancellationToken cancellationToken) =>
        AdministerAsync(caller, id, "cancel", (messageId, ct) => outbox.CancelAsync(messageId, time.GetUtcNow(), ct), cancellationToken);

    private async Task<Result<QueueChange>> AdministerAsync(
        Caller caller, string? id, string verb, Func<string, CancellationToken, Task<int>> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (await FindAsync(caller, id, cancellationToken).ConfigureAwait(false) is not { } details)
        {
            return Missing(id);
        }

        var scope = details.Message.Scope;
        if (caller.RefuseUnlessAdministers(scope, $"{verb} messages of {scope}") is { } refusal)
        {
            return refusal;
        }

        var changed = await change(details.Message.Id, cancellationToken).ConfigureAwait(false);
        var after = await outbox.GetAsync(details.Message.Id, cancellationToken).ConfigureAwait(false) ?? details;
        return new QueueChange(changed, after);
    }

    /// <summary>The message when the caller may see it (it may send into its scope); null otherwise.</summary>
    private async Task<MessageDetails?> FindAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
        {
            return null;
        }

        var details = await outbox.GetAsync(id, cancellationToken).ConfigureAwait(false);
        return details is not null && caller.MaySendInto(details.Message.Scope) ? details : null;
    }

    private static Refusal Missing(string? id) =>
        Refusal.NotFound(id is { Length: > 0 and <= MaxIdLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? $"No message '{id}' in the scopes you may see."
            : "No such message in the scopes you may see.");
}
