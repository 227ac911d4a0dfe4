using System.Text.Json;
using Herald.Notifications.Events;
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
            .WithName("postEvents").WithSummary("Post events")
            .WithDescription("Post one event or { events: [...] } (at most 1,000); an id already stored in the event's scope is ignored and reported as a duplicate.");
        return api;
    }

    /// <summary>An event as stored, named by its id and scope; a duplicate is an id already stored in that scope.</summary>
    public sealed record EventAccepted(string Id, string Scope, bool Duplicate);

    /// <summary>Several events in one request (the body is read by hand; this names its shape in the OpenAPI document).</summary>
    public sealed record EventBatch(IReadOnlyList<EventSubmission> Events);

    public sealed record EventsAccepted(IReadOnlyList<EventAccepted> Events, IReadOnlyList<string> Duplicates);

    private static async Task<Results<Accepted<EventsAccepted>, ProblemHttpResult>> PostAsync(HttpContext context, JsonElement body, EventService service)
    {
        // The door reads JSON; whether the events may be stored is EventService's to say.
        JsonElement list = default;
        var batch = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("events", out list);
        // One more than a batch may hold is enough for EventService to refuse the rest unread.
        var items = !batch ? [body] : list.ValueKind == JsonValueKind.Array ? list.EnumerateArray().Take(EventLimits.MaxBatch + 1).ToArray() : [];
        var unreadable = new List<FieldError>();
        var submissions = new List<EventSubmission?>(items.Length);
        foreach (var (element, i) in items.Select((e, i) => (e, i)))
        {
            var prefix = batch ? $"events[{i}]." : "";
            try
            {
                submissions.Add(element.ValueKind == JsonValueKind.Object ? element.Deserialize<EventSubmission>(Json) : null);
                if (submissions[^1] is null)
                {
                    unreadable.Add(new FieldError(batch ? $"events[{i}]" : "event", "An event is a JSON object."));
                }
            }
            catch (JsonException ex)
            {
                submissions.Add(null);
                unreadable.Add(new FieldError(prefix + FieldOf(ex), $"Not a valid value: {ex.Message}"));
            }
        }

        var submitted = await service.SubmitAsync(context.Caller(), submissions, batch, unreadable, context.RequestAborted).ConfigureAwait(false);
        if (submitted.Refusal is { } refusal)
        {
            return Refused(refusal);
        }

        var accepted = submitted.Value!.Select(e => new EventAccepted(e.Key.Id, e.Key.Scope.Value, e.Duplicate)).ToArray();
        return TypedResults.Accepted((string?)null, new EventsAccepted(accepted, accepted.Where(a => a.Duplicate).Select(a => a.Id).ToArray()));
    }

    /// <summary>The property a JSON error is about ($.time → time), for the error's field name.</summary>
    private static string FieldOf(JsonException ex) => ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "event";
}
