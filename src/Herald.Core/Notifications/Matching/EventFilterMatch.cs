using System.Text.Json;

namespace Herald.Notifications.Matching;

/// <summary>The checks left after the index has found a candidate: change kinds and conditions on
/// the event's data. (Scope, type and path prefix are what the index is keyed by.)</summary>
public static class EventFilterMatch
{
    public static bool RemainingFiltersMatch(EventFilter filter, NotificationEvent notificationEvent)
    {
        if (filter.ChangeKinds.Count > 0 && !filter.ChangeKinds.Contains(notificationEvent.ChangeKind, StringComparer.Ordinal))
        {
            return false;
        }

        foreach (var condition in filter.Conditions)
        {
            if (!Holds(condition, notificationEvent.Data))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Values compare as text: a string as itself, a number as written, true/false. A
    /// field that is missing (or null) equals nothing, so only not-equals holds for it; contains
    /// means a substring of a string or an element of an array.</summary>
    public static bool Holds(EventCondition condition, JsonElement? data)
    {
        var value = Find(data, condition.Field);
        var text = value is { } v ? AsText(v) : null;
        return condition.Operator switch
        {
            ConditionOperator.Equals => text is not null && condition.Values.Contains(text, StringComparer.Ordinal),
            ConditionOperator.NotEquals => text is null || !condition.Values.Contains(text, StringComparer.Ordinal),
            ConditionOperator.In => text is not null && condition.Values.Contains(text, StringComparer.Ordinal),
            ConditionOperator.Contains => value is { } found && Contains(found, condition.Values),
            _ => false,
        };
    }

    /// <summary>Follows a dotted path (<c>pipeline.branch</c>) through nested objects.</summary>
    public static JsonElement? Find(JsonElement? data, string field)
    {
        if (data is not { ValueKind: JsonValueKind.Object } current)
        {
            return null;
        }

        foreach (var name in field.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
            {
                return null;
            }
        }

        return current.ValueKind == JsonValueKind.Null ? null : current;
    }

    private static string? AsText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    private static bool Contains(JsonElement value, IReadOnlyList<string> wanted) => value.ValueKind switch
    {
        JsonValueKind.String => wanted.Any(w => value.GetString()!.Contains(w, StringComparison.Ordinal)),
        JsonValueKind.Array => value.EnumerateArray().Any(item => AsText(item) is { } text && wanted.Contains(text, StringComparer.Ordinal)),
        _ => false,
    };
}
