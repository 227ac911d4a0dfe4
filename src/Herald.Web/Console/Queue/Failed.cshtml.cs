using System.Globalization;
using Herald.Notifications;
using Herald.Notifications.Digests;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Work;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Queue;

/// <summary>Work quarantined in the administrator's scopes — messages, events and digests that
/// failed for a reason of their own — each with its reason and a Retry button.</summary>
public sealed class FailedModel(FailedWorkService failed, QueueService queue) : ConsolePage
{
    public const int PageSize = 100;

    public IReadOnlyList<MessageSummary> Messages { get; private set; } = [];

    public IReadOnlyList<FailedEvent> Events { get; private set; } = [];

    public IReadOnlyList<FailedDigest> Digests { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync()
    {
        var ct = HttpContext.RequestAborted;
        var messages = await failed.ListMessagesAsync(Caller, Admin.Scope, PageSize, ct);
        var events = await failed.ListEventsAsync(Caller, Admin.Scope, PageSize, ct);
        var digests = await failed.ListDigestsAsync(Caller, Admin.Scope, PageSize, ct);
        if ((messages.Refusal ?? events.Refusal ?? digests.Refusal) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        (Messages, Events, Digests) = (messages.Value!, events.Value!, digests.Value!);
        return Page();
    }

    public async Task<IActionResult> OnPostRetryEventAsync(string? scope, string? id)
    {
        if (!ScopePath.TryParse(scope, out var eventScope, out _) || string.IsNullOrEmpty(id))
        {
            return NotFound();
        }

        return Done(await failed.RetryEventAsync(Caller, new EventKey(eventScope, id), HttpContext.RequestAborted), $"Event {id} of {eventScope} will be fanned out again now.");
    }

    public async Task<IActionResult> OnPostRetryMessageAsync(string? id)
    {
        var retried = await queue.RetryAsync(Caller, id, HttpContext.RequestAborted);
        return Done(retried.Refusal, $"{retried.Value?.Recipients} recipient(s) of message {id} will be tried again now.");
    }

    public async Task<IActionResult> OnPostRetryDigestAsync(string? subscription, string? recipient, long? windowEnd)
    {
        if (string.IsNullOrEmpty(subscription) || string.IsNullOrEmpty(recipient) || windowEnd is null)
        {
            return NotFound();
        }

        var end = DateTimeOffset.FromUnixTimeMilliseconds(windowEnd.Value);
        return Done(
            await failed.RetryDigestAsync(Caller, subscription, recipient, end, HttpContext.RequestAborted),
            $"The digest of {subscription} for {recipient} (window ending {end.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC) will be sent at the next check.");
    }

    private IActionResult Done(Refusal? refusal, string notice)
    {
        if (refusal is { Kind: RefusalKind.NotAllowed or RefusalKind.NotFound })
        {
            return Refused(refusal, Page);
        }

        // Retried meanwhile (another administrator, another tab): the list says what is left.
        Notice = refusal?.Sentence ?? notice;
        return Redirect("/queue/failed");
    }
}
