using System.Globalization;
using System.Text.Json;
using Fluid;
using Fluid.Values;

namespace Herald.Notifications.Templates;

/// <summary>
/// What a template sees. <c>event</c>: id, type, change_kind, scope, resource_path, actor, title,
/// link, data (the event's JSON as nested objects), time (in the recipient's time zone).
/// <c>recipient</c>: name, email, time_zone. <c>source_name</c>: the alert or rule that sent it.
/// <c>unsubscribe_url</c>; <c>manage_url</c> (the recipient's "Manage your alerts" page, only for a
/// directory user). A digest adds <c>digest</c>: events, count, window_start, window_end
/// (local), frequency (daily, weekly), subscription_name.
/// </summary>
internal static class TemplateModel
{
    /// <summary>The last event's model: a fan-out renders one event for many recipients in a row,
    /// and the model (read-only once built) is the same for every recipient in one time zone.</summary>
    private static EventModel? s_lastEvent;

    public static void SetEvent(TemplateContext context, NotificationEvent notificationEvent, TimeZoneInfo zone)
    {
        var last = Volatile.Read(ref s_lastEvent);
        if (last is null || !ReferenceEquals(last.Event, notificationEvent) || last.Zone != zone || last.Options != context.Options)
        {
            last = new EventModel(notificationEvent, zone, context.Options, FluidValue.Create(Event(notificationEvent, zone), context.Options));
            Volatile.Write(ref s_lastEvent, last);
        }

        context.SetValue("event", last.Value);
    }

    public static void SetRecipient(TemplateContext context, NotificationRecipient recipient, TimeZoneInfo zone) =>
        context.SetValue("recipient", FluidValue.Create(
            new Dictionary<string, object?>
            {
                ["name"] = recipient.User?.Name ?? recipient.Address.Value,
                ["email"] = recipient.Address.Value,
                ["time_zone"] = zone.Id,
            },
            context.Options));

    public static void SetDigest(
        TemplateContext context, string subscriptionName, IReadOnlyList<NotificationEvent> events, DigestWindow window, TimeZoneInfo zone) =>
        context.SetValue("digest", FluidValue.Create(
            new Dictionary<string, object?>
            {
                ["events"] = events.Select(e => Event(e, zone)).ToList(),
                ["count"] = events.Count,
                ["window_start"] = TimeZoneInfo.ConvertTime(window.Start, zone),
                ["window_end"] = TimeZoneInfo.ConvertTime(window.End, zone),
                ["frequency"] = NotificationFrequencyNames.Values.NameOf(window.Frequency),
                ["subscription_name"] = subscriptionName,
            },
            context.Options));

    /// <summary>The recipient's time zone, or UTC when they have none Herald knows.</summary>
    public static TimeZoneInfo ZoneOf(NotificationRecipient recipient) =>
        recipient.User?.TimeZone is { Length: > 0 } id && TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : TimeZoneInfo.Utc;

    private static Dictionary<string, object?> Event(NotificationEvent e, TimeZoneInfo zone) => new()
    {
        ["id"] = e.Id,
        ["type"] = e.Type,
        ["change_kind"] = e.ChangeKind,
        ["scope"] = e.Scope.Value,
        ["resource_path"] = e.ResourcePath,
        ["actor"] = e.Actor,
        ["title"] = e.Title,
        ["link"] = e.Link,
        ["data"] = e.Data is { } data ? Json(data) : new Dictionary<string, object?>(),
        ["time"] = TimeZoneInfo.ConvertTime(e.OccurredAt, zone),
    };

    /// <summary>JSON as plain objects that Fluid walks (it does not read <see cref="JsonElement"/>).</summary>
    private static object? Json(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().GroupBy(p => p.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => Json(g.Last().Value), StringComparer.Ordinal),
        JsonValueKind.Array => element.EnumerateArray().Select(Json).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetDecimal(out var number) ? number : double.Parse(element.GetRawText(), CultureInfo.InvariantCulture),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private sealed record EventModel(NotificationEvent Event, TimeZoneInfo Zone, TemplateOptions Options, FluidValue Value);
}
