using System.Text.Json;
using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Scopes;

namespace Herald.Webhooks;

/// <summary>
/// The JSON bodies endpoints receive, <c>{ "type", "timestamp", "data" }</c> as the Standard
/// Webhooks specification suggests, built as the change is recorded so that every retry sends the
/// same bytes.
/// </summary>
public static class WebhookPayloads
{
    /// <summary>Longest reply excerpt a payload carries.</summary>
    public const int MaxReply = 1000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>A recipient of a message changed state (<c>message.recipient.sent</c>, …); null
    /// when no endpoint hears of that state.</summary>
    /// <param name="attempt">The delivery attempt that made the change (0 when none did: suppressed as stored).</param>
    public static WebhookEvent? RecipientChanged(
        string messageId, ScopePath scope, string recipient, string state, int attempt, int? code, string? reply, DateTimeOffset at)
    {
        if (WebhookEventTypes.OfRecipientState(state) is not { } type)
        {
            return null;
        }

        var data = new RecipientData(messageId, scope.Value, recipient, state, attempt, code, Excerpt(reply));
        return new WebhookEvent(messageId, scope, type, $"{messageId} {recipient}", at, Body(type, at, data));
    }

    /// <summary>An event's fan-out finished: the recipients it reached, the messages it stored,
    /// those another subscription had reached already, the digest entries it made, and what it
    /// dropped (and why) when the scope could not send.</summary>
    public static WebhookEvent EventFinished(NotificationEvent notificationEvent, FanOutResult result, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(notificationEvent);
        ArgumentNullException.ThrowIfNull(result);
        var scope = notificationEvent.Scope;
        var data = new EventData(
            scope.Value, notificationEvent.Id, notificationEvent.Type, result.Recipients, result.Stored, result.Duplicates, result.DigestEntries,
            result.Dropped is { } dropped ? dropped.Immediate + dropped.Digest : 0, result.Dropped?.Because);
        return new WebhookEvent(
            $"event {scope.Value} {notificationEvent.Id}", scope, WebhookEventTypes.EventFinished, $"event {notificationEvent.Id}", at, Body(WebhookEventTypes.EventFinished, at, data));
    }

    private static string Body<TData>(string type, DateTimeOffset at, TData data) =>
        JsonSerializer.Serialize(new Envelope<TData>(type, at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture), data), Json);

    private static string? Excerpt(string? reply) => reply is { Length: > MaxReply } ? reply[..(MaxReply - 1)] + "…" : reply;

    private sealed record Envelope<TData>(string Type, string Timestamp, TData Data);

    private sealed record RecipientData(string MessageId, string Scope, string Recipient, string State, int Attempt, int? Code, string? Reply);

    private sealed record EventData(
        string Scope, string EventId, string EventType, int Recipients, int Messages, int Duplicates, int DigestEntries, int Dropped, string? DroppedBecause);
}
