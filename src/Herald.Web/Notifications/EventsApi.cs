using System.Text.Json;
using Herald.Access;
using Herald.Notifications.Events;
using Herald.Notifications.FanOut;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using static Herald.Web.ApiResults;

namespace Herald.Web.Notifications;

/// <summary><c>POST /api/v1/events</c>: one event, or <c>{ "events": [...] }</c> (up to 1,000), from a
/// sender or administrator key of every event's scope. 202 once they are durably stored.</summary>
public static class EventsApi
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static RouteGroupBuilder MapEventsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/events", PostAsync).WithTags("Notifications")
            .WithSummary("Post one event or { events: [...] } (at most 1,000); a repeated id is ignored and reported as a duplicate.");
        return api;
    }

    public sealed record EventAccepted(string Id, bool Duplicate);

    public sealed record EventsAccepted(IReadOnlyList<EventAccepted> Events, IReadOnlyList<string> Duplicates);

    private static async Task<Results<Accepted<EventsAccepted>, ValidationProblem, ProblemHttpResult>> PostAsync(
        HttpContext context, JsonElement body, INotificationEventStore store, ISettingsStore settings, NotificationSignal signal, TimeProvider time)
    {
        var errors = new List<FieldError>();
        JsonElement list = default;
        var batch = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("events", out list);
        var items = new List<(JsonElement Element, string Prefix)>();
        if (!batch)
        {
            items.Add((body, ""));
        }
        else if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() is 0 or > EventLimits.MaxBatch)
        {
            return Invalid([new FieldError("events", $"events is a list of 1 to {EventLimits.MaxBatch} events.")], "The events are not valid; nothing was stored.");
        }
        else
        {
            items.AddRange(list.EnumerateArray().Select((e, i) => (e, $"events[{i}].")));
        }

        var now = time.GetUtcNow();
        var events = new List<Herald.Notifications.NotificationEvent>();
        foreach (var (element, prefix) in items)
        {
            EventSubmission? submission;
            try
            {
                submission = element.ValueKind == JsonValueKind.Object ? element.Deserialize<EventSubmission>(Json) : null;
            }
            catch (JsonException ex)
            {
                errors.Add(new FieldError(prefix + FieldOf(ex), $"Not a valid value: {ex.Message}"));
                continue;
            }

            if (submission is null)
            {
                errors.Add(new FieldError(prefix.TrimEnd('.') is { Length: > 0 } p ? p : "event", "An event is a JSON object."));
                continue;
            }

            if (EventValidation.Check(submission, prefix, now, errors) is { } checkedEvent)
            {
                events.Add(checkedEvent);
            }
        }

        if (errors.Count > 0)
        {
            return Invalid(errors, "The events are not valid; nothing was stored.");
        }

        // Every scope is checked against the key, and must exist, before anything is stored.
        foreach (var scope in events.Select(e => e.Scope).Distinct())
        {
            if (context.Refuse(scope, ApiKeyRole.Sender) is { } refusal)
            {
                return refusal;
            }

            if (!await settings.ScopeExistsAsync(scope, context.RequestAborted).ConfigureAwait(false))
            {
                var index = events.FindIndex(e => e.Scope == scope);
                return Invalid([new FieldError(batch ? $"events[{index}].scope" : "scope", $"Scope {scope} does not exist (create it with 'herald scope add {scope}').")],
                    "The events are not valid; nothing was stored.");
            }
        }

        var duplicates = await store.AddAsync(events, context.RequestAborted).ConfigureAwait(false);
        signal.Notify();
        var accepted = events.Select((e, i) => new EventAccepted(e.Id, duplicates[i])).ToArray();
        return TypedResults.Accepted((string?)null, new EventsAccepted(accepted, accepted.Where(a => a.Duplicate).Select(a => a.Id).ToArray()));
    }

    /// <summary>The property a JSON error is about ($.time → time), for the error's field name.</summary>
    private static string FieldOf(JsonException ex) => ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "event";
}
