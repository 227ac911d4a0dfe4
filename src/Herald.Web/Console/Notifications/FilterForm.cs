using System.Globalization;
using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Settings;
using Microsoft.AspNetCore.Http;

namespace Herald.Web.Console.Notifications;

/// <summary>
/// The event filter and schedule as the console's forms write them: built-in event types as check
/// boxes plus custom types typed, path prefixes one per line, change kinds separated by commas,
/// conditions one per line (<c>status in failed, cancelled</c>, <c>branch equals main</c>), and a
/// frequency with its time (HH:mm) and weekday.
/// </summary>
public sealed record FilterForm
{
    private static readonly char[] ListSeparators = [',', ' ', '\n', '\r', '\t', ';'];

    public IReadOnlyList<string> EventTypes { get; init; } = [];

    public string CustomTypes { get; init; } = "";

    public string PathPrefixes { get; init; } = "";

    public string ChangeKinds { get; init; } = "";

    public string Conditions { get; init; } = "";

    public string Frequency { get; init; } = "immediate";

    public string At { get; init; } = "08:00";

    public string Day { get; init; } = "monday";

    public bool ExcludeActor { get; init; }

    public bool Enabled { get; init; } = true;

    public static readonly IReadOnlyList<string> Weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

    public IEnumerable<string> AllTypes => EventTypes.Concat(Split(CustomTypes)).Distinct(StringComparer.Ordinal);

    public static FilterForm Read(IFormCollection form)
    {
        ArgumentNullException.ThrowIfNull(form);
        return new FilterForm
        {
            EventTypes = form["eventTypes"].Select(v => v ?? "").Where(v => v.Length > 0).ToArray(),
            CustomTypes = form["customTypes"].ToString(),
            PathPrefixes = form["pathPrefixes"].ToString(),
            ChangeKinds = form["changeKinds"].ToString(),
            Conditions = form["conditions"].ToString(),
            Frequency = form["frequency"].ToString() is { Length: > 0 } f ? f : "immediate",
            At = form["at"].ToString(),
            Day = form["day"].ToString(),
            ExcludeActor = form["excludeActor"].Contains("true"),
            Enabled = form["enabled"].Contains("true"),
        };
    }

    public static FilterForm From(EventFilter filter, NotificationSchedule? schedule, bool excludeActor, bool enabled)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var builtIn = filter.EventTypes.Where(Herald.Notifications.EventTypes.BuiltIn.Contains).ToArray();
        return new FilterForm
        {
            EventTypes = builtIn,
            CustomTypes = string.Join(", ", filter.EventTypes.Except(builtIn)),
            PathPrefixes = string.Join('\n', filter.PathPrefixes),
            ChangeKinds = string.Join(", ", filter.ChangeKinds),
            Conditions = string.Join('\n', filter.Conditions.Select(c => $"{c.Field} {ConditionOperatorNames.Values.NameOf(c.Operator)} {string.Join(", ", c.Values)}")),
            Frequency = schedule is null ? "immediate" : NotificationFrequencyNames.Values.NameOf(schedule.Frequency),
            At = schedule is null || schedule.Frequency == NotificationFrequency.Immediate ? "08:00" : schedule.At.ToString("HH:mm", CultureInfo.InvariantCulture),
            Day = schedule is null ? "monday" : schedule.Day.ToString().ToLowerInvariant(),
            ExcludeActor = excludeActor,
            Enabled = enabled,
        };
    }

    /// <summary>The conditions as requests; a line that is not "field operator value" is an error on <c>conditions</c>.</summary>
    public IReadOnlyList<ConditionRequest> ConditionRequests(List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var lines = Conditions.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new List<ConditionRequest>();
        for (var i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length < 3)
            {
                errors.Add(new FieldError("conditions", $"Line {i + 1}, '{lines[i]}': write the data field, an operator (equals, not-equals, in, contains) and the value, e.g. status in failed, cancelled."));
                continue;
            }

            var values = parts[1] == "in" ? parts[2].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [parts[2]];
            result.Add(new ConditionRequest(parts[0], parts[1], values));
        }

        return result;
    }

    public SubscriptionRequest ToSubscription(string? id, string? scope, string? owner, string? name, List<FieldError> errors) =>
        new(id, scope, owner, name, AllTypes.ToArray(), Lines(PathPrefixes), Split(ChangeKinds), ConditionRequests(errors),
            Frequency, Frequency == "immediate" ? null : At, Frequency == "weekly" ? Day : null, ExcludeActor, Enabled);

    public RuleRequest ToRule(string? id, string? scope, string? name, IReadOnlyList<string> recipients, List<FieldError> errors) =>
        new(id, scope, name, AllTypes.ToArray(), Lines(PathPrefixes), Split(ChangeKinds), ConditionRequests(errors), recipients, ExcludeActor, Enabled);

    /// <summary>"item.changed, item.added under /Shared Documents; when status in failed".</summary>
    public static string Summary(EventFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var parts = new List<string> { filter.EventTypes.Count == 0 ? "every event" : string.Join(", ", filter.EventTypes) };
        if (filter.PathPrefixes.Count > 0)
        {
            parts.Add("under " + string.Join(", ", filter.PathPrefixes));
        }

        if (filter.ChangeKinds.Count > 0)
        {
            parts.Add("changes: " + string.Join(", ", filter.ChangeKinds));
        }

        if (filter.Conditions.Count > 0)
        {
            parts.Add("when " + string.Join(" and ", filter.Conditions.Select(c => $"{c.Field} {ConditionOperatorNames.Values.NameOf(c.Operator)} {string.Join(", ", c.Values)}")));
        }

        return string.Join("; ", parts);
    }

    public static string Describe(NotificationSchedule schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var at = schedule.At.ToString("HH:mm", CultureInfo.InvariantCulture);
        return schedule.Frequency switch
        {
            NotificationFrequency.Daily => $"daily at {at}",
            NotificationFrequency.Weekly => $"weekly on {schedule.Day} at {at}",
            _ => "immediately",
        };
    }

    public static string[] Lines(string? text) =>
        (text ?? "").Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static string[] Split(string? text) =>
        (text ?? "").Split(ListSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
