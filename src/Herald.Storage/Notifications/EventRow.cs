using System.Text.Json;
using Herald.Notifications;

namespace Herald.Storage.Notifications;

/// <summary>A row of <c>notification_events</c>, as the event store writes and claims it and the
/// digest store reads the events of a window.</summary>
internal sealed class EventRow
{
    /// <summary>The columns this row maps, in <c>notification_events</c>.</summary>
    public const string Columns = "id, scope_path, type, resource_path, actor, title, link, data, occurred_at, received_at, trace_parent";

    public string Id { get; set; } = "";
    public string ScopePath { get; set; } = "";
    public string Type { get; set; } = "";
    public string ResourcePath { get; set; } = "";
    public string? Actor { get; set; }
    public string Title { get; set; } = "";
    public string? Link { get; set; }
    public string? Data { get; set; }
    public long OccurredAt { get; set; }
    public long ReceivedAt { get; set; }
    public string? TraceParent { get; set; }

    /// <summary>Read by the claim only (other queries leave it 0).</summary>
    public long Failures { get; set; }

    public static EventRow From(NotificationEvent e) => new()
    {
        Id = e.Id,
        ScopePath = e.Scope.Value,
        Type = e.Type,
        ResourcePath = e.ResourcePath,
        Actor = e.Actor,
        Title = e.Title,
        Link = e.Link,
        Data = e.Data?.GetRawText(),
        OccurredAt = e.OccurredAt.ToUnixTimeMilliseconds(),
        ReceivedAt = e.ReceivedAt.ToUnixTimeMilliseconds(),
        TraceParent = e.TraceParent,
    };

    public NotificationEvent ToEvent() => new(
        Id, Type, Scopes.ScopePath.Parse(ScopePath), ResourcePath, Actor, Title, Link,
        ParseData(Data), DateTimeOffset.FromUnixTimeMilliseconds(OccurredAt), DateTimeOffset.FromUnixTimeMilliseconds(ReceivedAt))
    {
        Failures = (int)Failures,
        TraceParent = TraceParent,
    };

    private static JsonElement? ParseData(string? data)
    {
        if (data is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(data);
        return document.RootElement.Clone();
    }
}
