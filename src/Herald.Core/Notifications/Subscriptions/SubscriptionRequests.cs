using System.Globalization;
using Herald.Notifications.Events;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Subscriptions;

/// <summary>A condition as written by a client: <c>{ "field": "status", "operator": "in", "values": ["a","b"] }</c>.</summary>
public sealed record ConditionRequest(string? Field, string? Operator, IReadOnlyList<string>? Values);

/// <summary>A subscription as a client writes it; frequency <c>immediate</c>, <c>daily</c> (at
/// <c>HH:mm</c>) or <c>weekly</c> (on a day, at <c>HH:mm</c>), in the owner's time zone.</summary>
public sealed record SubscriptionRequest(
    string? Id, string? Scope, string? Owner, string? Name, IReadOnlyList<string>? EventTypes, IReadOnlyList<string>? PathPrefixes,
    IReadOnlyList<string>? ChangeKinds, IReadOnlyList<ConditionRequest>? Conditions, string? Frequency, string? At, string? Day,
    bool? ExcludeActor, bool? Enabled);

/// <summary>A rule as a client writes it: recipients are addresses, <c>user:…</c> or <c>group:…</c>.</summary>
public sealed record RuleRequest(
    string? Id, string? Scope, string? Name, IReadOnlyList<string>? EventTypes, IReadOnlyList<string>? PathPrefixes,
    IReadOnlyList<string>? ChangeKinds, IReadOnlyList<ConditionRequest>? Conditions, IReadOnlyList<string>? Recipients, bool? ExcludeActor, bool? Enabled);

/// <summary>Checks requests field by field; nothing is stored unless every field is right.</summary>
public static class SubscriptionRequests
{
    public const int MaxListItems = 50;
    public const int MaxConditions = 20;
    public const int MaxValues = 100;
    public const int MaxNameLength = 200;
    public const int MaxRecipients = 1000;

    public static Subscription? Check(SubscriptionRequest r, string id, DateTimeOffset createdAt, DateTimeOffset now, List<FieldError> errors)
    {
        var scope = Scope(r.Scope, errors);
        Principal owner = default;
        if (!Principal.TryParse(r.Owner, out owner, out var ownerError))
        {
            errors.Add(new FieldError("owner", ownerError));
        }

        var name = Name(r.Name, id, errors);
        var filter = Filter(r.EventTypes, r.PathPrefixes, r.ChangeKinds, r.Conditions, errors);
        var schedule = Schedule(r.Frequency, r.At, r.Day, errors);
        return errors.Count > 0
            ? null
            : new Subscription(id, scope, owner, name, filter, schedule!, r.ExcludeActor ?? false, r.Enabled ?? true, createdAt, now);
    }

    public static NotificationRule? Check(RuleRequest r, string id, DateTimeOffset createdAt, DateTimeOffset now, List<FieldError> errors)
    {
        var scope = Scope(r.Scope, errors);
        var name = Name(r.Name, id, errors);
        var filter = Filter(r.EventTypes, r.PathPrefixes, r.ChangeKinds, r.Conditions, errors);
        var addresses = new List<EmailAddress>();
        var principals = new List<Principal>();
        var recipients = r.Recipients ?? [];
        if (recipients.Count is 0 or > MaxRecipients)
        {
            errors.Add(new FieldError("recipients", $"A rule needs 1 to {MaxRecipients} recipients: addresses, user:<id> or group:<id>."));
        }

        for (var i = 0; i < Math.Min(recipients.Count, MaxRecipients); i++)
        {
            var text = recipients[i];
            if (text is not null && (text.StartsWith("user:", StringComparison.Ordinal) || text.StartsWith("group:", StringComparison.Ordinal)))
            {
                if (Principal.TryParse(text, out var principal, out var error))
                {
                    principals.Add(principal);
                }
                else
                {
                    errors.Add(new FieldError($"recipients[{i}]", error));
                }
            }
            else if (EmailAddress.TryParse(text, out var address, out var addressError))
            {
                addresses.Add(address);
            }
            else
            {
                errors.Add(new FieldError($"recipients[{i}]", $"'{text}' is neither an email address nor user:<id> or group:<id> ({addressError})"));
            }
        }

        return errors.Count > 0
            ? null
            : new NotificationRule(id, scope, name, filter, addresses.Distinct().ToArray(), principals.Distinct().ToArray(), r.ExcludeActor ?? false, r.Enabled ?? true, createdAt, now);
    }

    public static bool CheckId(string? id, List<FieldError> errors)
    {
        if (!DirectoryIds.TryCheck(id, out var error))
        {
            errors.Add(new FieldError("id", error));
            return false;
        }

        return true;
    }

    /// <summary>A list's owner filter: null when not given.</summary>
    public static Principal? OptionalPrincipal(string? text, string field, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (text is null)
        {
            return null;
        }

        if (Principal.TryParse(text, out var principal, out var error))
        {
            return principal;
        }

        errors.Add(new FieldError(field, error));
        return null;
    }

    /// <summary>A list's scope filter (that scope and below): null when not given.</summary>
    public static ScopePath? OptionalScope(string? text, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (text is null)
        {
            return null;
        }

        return ScopePath.TryParse(text, out var scope, out var error) ? scope : Fail(error);

        ScopePath? Fail(string message)
        {
            errors.Add(new FieldError("scope", message));
            return null;
        }
    }

    private static ScopePath Scope(string? text, List<FieldError> errors)
    {
        if (!ScopePath.TryParse(text, out var scope, out var error))
        {
            errors.Add(new FieldError("scope", error));
        }

        return scope;
    }

    private static string Name(string? name, string id, List<FieldError> errors)
    {
        if (name is { Length: > MaxNameLength } || (name is not null && name.Any(char.IsControl)))
        {
            errors.Add(new FieldError("name", $"The name is at most {MaxNameLength} characters, without control characters."));
        }

        return string.IsNullOrWhiteSpace(name) ? id : name.Trim();
    }

    private static EventFilter Filter(
        IReadOnlyList<string>? types, IReadOnlyList<string>? prefixes, IReadOnlyList<string>? kinds, IReadOnlyList<ConditionRequest>? conditions, List<FieldError> errors)
    {
        types ??= [];
        prefixes ??= [];
        kinds ??= [];
        conditions ??= [];
        var validTypes = CheckList("eventTypes", types, t => EventLimits.EventType().IsMatch(t), "is not an event type (lower-case letters, digits, '.', '_', '-'; e.g. item.changed)", errors);
        var validPrefixes = CheckList("pathPrefixes", prefixes, p => ResourcePaths.TryCheck(p, out _), "is not a path prefix: it starts with '/' and has no empty segment (e.g. /Shared Documents)", errors);
        var validKinds = CheckList("changeKinds", kinds, k => EventLimits.EventType().IsMatch(k) && !k.Contains('.', StringComparison.Ordinal), "is not a change kind (e.g. added, changed, deleted, failed)", errors);
        if (conditions.Count > MaxConditions)
        {
            errors.Add(new FieldError("conditions", $"At most {MaxConditions} conditions."));
        }

        var checkedConditions = new List<EventCondition>();
        for (var i = 0; i < Math.Min(conditions.Count, MaxConditions); i++)
        {
            var c = conditions[i];
            var field = $"conditions[{i}]";
            if (c?.Field is null || c.Field.Length is 0 or > 200 || c.Field.Split('.').Any(part => part.Length == 0))
            {
                errors.Add(new FieldError($"{field}.field", "A condition names a field of the event's data: a dotted path such as status or pipeline.branch."));
                continue;
            }

            if (!ConditionOperatorNames.Values.TryParse(c.Operator, out var operatorError, out var op))
            {
                errors.Add(new FieldError($"{field}.operator", operatorError));
                continue;
            }

            var values = c.Values ?? [];
            var wanted = op == ConditionOperator.In ? $"1 to {MaxValues} values" : "exactly one value";
            if (values.Count == 0 || values.Count > (op == ConditionOperator.In ? MaxValues : 1) || values.Any(v => v is null || v.Length > 1000))
            {
                errors.Add(new FieldError($"{field}.values", $"'{c.Operator}' takes {wanted} of at most 1000 characters."));
                continue;
            }

            checkedConditions.Add(new EventCondition(c.Field, op, values.ToArray()));
        }

        return new EventFilter(
            validTypes.Distinct(StringComparer.Ordinal).ToArray(),
            validPrefixes.Select(p => p.Length > 1 ? p.TrimEnd('/') : p).Distinct(StringComparer.Ordinal).ToArray(),
            validKinds.Distinct(StringComparer.Ordinal).ToArray(),
            checkedConditions);
    }

    /// <summary>The items that are valid; each other one (null included: JSON allows it in a list) is named in <paramref name="errors"/>.</summary>
    private static List<string> CheckList(string field, IReadOnlyList<string> items, Func<string, bool> valid, string problem, List<FieldError> errors)
    {
        var accepted = new List<string>();
        if (items.Count > MaxListItems)
        {
            errors.Add(new FieldError(field, $"At most {MaxListItems} items."));
            return accepted;
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is { } item && valid(item))
            {
                accepted.Add(item);
            }
            else
            {
                errors.Add(new FieldError($"{field}[{i}]", $"{(items[i] is null ? "null" : $"'{items[i]}'")} {problem}."));
            }
        }

        return accepted;
    }

    private static NotificationSchedule? Schedule(string? frequencyText, string? at, string? day, List<FieldError> errors)
    {
        if (!NotificationFrequencyNames.Values.TryParse(frequencyText ?? "immediate", out var frequencyError, out var frequency))
        {
            errors.Add(new FieldError("frequency", frequencyError));
            return null;
        }

        if (frequency == NotificationFrequency.Immediate)
        {
            return NotificationSchedule.Immediate;
        }

        if (!TimeOnly.TryParseExact(at, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            errors.Add(new FieldError("at", $"A {frequencyText} summary needs the time it is sent, as HH:mm in the owner's time zone (e.g. 08:00); '{at}' is not one."));
            return null;
        }

        var weekday = DayOfWeek.Monday;
        if (frequency == NotificationFrequency.Weekly && (day is null || !Enum.TryParse(day, ignoreCase: true, out weekday) || int.TryParse(day, out _)))
        {
            errors.Add(new FieldError("day", $"A weekly summary needs the day it is sent: monday … sunday; '{day}' is not one."));
            return null;
        }

        return new NotificationSchedule(frequency, time, weekday);
    }
}
