using Herald.Access;
using Herald.Notifications.FanOut;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Events;

/// <summary>One event as stored: its name, and whether its scope held that id already.</summary>
public sealed record SubmittedEvent(EventKey Key, bool Duplicate);

/// <summary>
/// Events posted by producers: senders and administrators of each event's scope (or an ancestor)
/// may post them. Every event is checked, then every scope against the caller, then that each
/// scope exists, before anything is stored: one refusal stores nothing. An id already stored in
/// the event's scope is a duplicate, ignored; the same id in another scope is another event, and
/// the answer never says whether another scope has it.
/// </summary>
public sealed class EventService(INotificationEventStore store, ISettingsStore settings, NotificationSignal signal, TimeProvider time)
{
    private const string NotValid = "The events are not valid; nothing was stored.";

    /// <summary>Stores the events (202 once durable). <paramref name="batch"/> names fields
    /// <c>events[3].type</c> instead of <c>type</c>; <paramref name="unreadable"/> are problems a
    /// door met reading its input (a null event), reported with the others.</summary>
    public async Task<Result<IReadOnlyList<SubmittedEvent>>> SubmitAsync(
        Caller caller, IReadOnlyList<EventSubmission?> events, bool batch, IReadOnlyList<FieldError> unreadable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(unreadable);
        if (events.Count is 0 or > EventLimits.MaxBatch)
        {
            return Refusal.Invalid([new FieldError("events", $"events is a list of 1 to {EventLimits.MaxBatch} events.")], NotValid);
        }

        var now = time.GetUtcNow();
        var errors = new List<FieldError>(unreadable);
        var checkedEvents = new List<NotificationEvent>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var prefix = batch ? $"events[{i}]." : "";
            if (events[i] is not { } submission)
            {
                if (unreadable.Count == 0)
                {
                    errors.Add(new FieldError(batch ? $"events[{i}]" : "event", "An event is a JSON object."));
                }
            }
            else if (EventValidation.Check(submission, prefix, now, errors) is { } valid)
            {
                checkedEvents.Add(valid);
            }
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, NotValid);
        }

        foreach (var scope in checkedEvents.Select(e => e.Scope).Distinct())
        {
            if (!caller.MaySendInto(scope))
            {
                return caller.RefuseUnlessMaySendInto(scope)!;
            }
        }

        foreach (var scope in checkedEvents.Select(e => e.Scope).Distinct())
        {
            if (!await settings.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
            {
                var index = checkedEvents.FindIndex(e => e.Scope == scope);
                return Refusal.Invalid([ScopeService.Missing(scope) with { Field = batch ? $"events[{index}].scope" : "scope" }], NotValid);
            }
        }

        var duplicates = await store.AddAsync(checkedEvents, cancellationToken).ConfigureAwait(false);
        signal.Notify();
        return Result.Of<IReadOnlyList<SubmittedEvent>>(checkedEvents.Select((e, i) => new SubmittedEvent(e.Key, duplicates[i])).ToArray());
    }
}
