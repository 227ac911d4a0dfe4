using Herald.Access;
using Herald.Notifications.Events;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Explain;

/// <summary>
/// "Why did (or didn't) this person get mail about this event?": every source that matched the
/// event and every candidate recipient's outcome with its reason, each mailed one linked to its
/// message's delivery. For administrators of the event's scope (or above it); to anyone else an
/// event of another scope does not exist.
/// </summary>
public sealed class ExplainService(INotificationEventStore events, IExplainStore explanations, IOptions<NotificationOptions> options)
{
    /// <summary>Candidates listed at most; the counts cover them all.</summary>
    public const int MaxCandidates = 1_000;

    public async Task<Result<EventExplanation>> ExplainAsync(Caller caller, EventKey key, ExplainRecipient? recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var notFound = Refusal.NotFound($"No event '{DirectoryIds.Printable(key.Id)}' in scope {key.Scope} that you may see.");
        // Who gets mail about what is the administrators' to see: to anyone else (a sender key of
        // the scope too) the event is not there, exactly as one that does not exist.
        if (!caller.Administers(key.Scope) || await events.FindAsync(key, cancellationToken).ConfigureAwait(false) is not { } notificationEvent)
        {
            return notFound;
        }

        var stored = await explanations.FindAsync(key, recipient?.Value, MaxCandidates, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            var settings = options.Value;
            return Refusal.NotFound(settings.RecordExplanations
                ? $"Event '{DirectoryIds.Printable(key.Id)}' of {key.Scope} has no explanation: it has not been fanned out yet, or it was more than {settings.ExplainRetention.TotalDays:0.##} days ago."
                : $"Event '{DirectoryIds.Printable(key.Id)}' of {key.Scope} has no explanation: this node records none (Notifications:RecordExplanations is off).");
        }

        return new EventExplanation(notificationEvent, stored.RecordedAt, stored.Sources, stored.Counts, stored.Candidates, recipient?.Value) { Disabled = stored.Disabled };
    }
}
