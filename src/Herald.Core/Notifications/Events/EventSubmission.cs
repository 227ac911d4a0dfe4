using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Events;

/// <summary>An event as a producer posted it, before it is checked.</summary>
public sealed record EventSubmission(
    string? Id, string? Type, string? Scope, string? ResourcePath, string? Actor, string? Title, string? Link, JsonElement? Data, DateTimeOffset? Time);

/// <summary>Limits on what a producer may post; a request beyond them is refused whole.</summary>
public static partial class EventLimits
{
    public const int MaxBatch = 1000;
    public const int MaxTitleLength = 1000;
    public const int MaxLinkLength = 2000;
    public const int MaxPathLength = 2000;
    public const int MaxActorLength = 320;
    public const int MaxDataBytes = 64 * 1024;

    /// <summary>Built-in and custom types alike: lower-case letters, digits, '.', '_', '-'.</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,99}$", RegexOptions.CultureInvariant)]
    public static partial Regex EventType();
}

public static class EventValidation
{
    /// <summary>Checks one event; errors name their field under <paramref name="prefix"/>
    /// (<c>""</c> for a single event, <c>events[3].</c> in a batch).</summary>
    public static NotificationEvent? Check(EventSubmission e, string prefix, DateTimeOffset now, List<FieldError> errors)
    {
        var before = errors.Count;
        void Fail(string field, string message) => errors.Add(new FieldError(prefix + field, message));

        if (!EventId.TryParse(e.Id, out var id, out var idError))
        {
            Fail("id", idError);
        }

        if (e.Type is null || !EventLimits.EventType().IsMatch(e.Type))
        {
            Fail("type", $"'{e.Type}' is not an event type: 1 to 100 lower-case letters, digits, '.', '_' or '-', e.g. {EventTypes.ItemChanged}.");
        }

        ScopePath scope = default;
        if (!ScopePath.TryParse(e.Scope, out scope, out var scopeError))
        {
            Fail("scope", scopeError);
        }

        var path = e.ResourcePath ?? "/";
        if (!ResourcePaths.TryCheck(path, out var pathError))
        {
            Fail("resourcePath", pathError);
        }

        if (string.IsNullOrWhiteSpace(e.Title) || e.Title.Length > EventLimits.MaxTitleLength)
        {
            Fail("title", $"An event needs a title of 1 to {EventLimits.MaxTitleLength} characters.");
        }

        if (e.Actor is not null && (e.Actor.Length is 0 or > EventLimits.MaxActorLength || e.Actor.Any(char.IsControl)))
        {
            Fail("actor", $"The actor is a user id or an email address of 1 to {EventLimits.MaxActorLength} characters.");
        }

        if (e.Link is not null && (e.Link.Length > EventLimits.MaxLinkLength || !Uri.TryCreate(e.Link, UriKind.Absolute, out var link) || link.Scheme is not ("http" or "https")))
        {
            Fail("link", $"The link must be an absolute http or https URL of at most {EventLimits.MaxLinkLength} characters.");
        }

        if (e.Data is { } data)
        {
            if (data.ValueKind != JsonValueKind.Object)
            {
                Fail("data", "data must be a JSON object.");
            }
            else if (System.Text.Encoding.UTF8.GetByteCount(data.GetRawText()) > EventLimits.MaxDataBytes)
            {
                Fail("data", $"data is larger than {EventLimits.MaxDataBytes / 1024} KiB.");
            }
        }

        if (errors.Count > before)
        {
            return null;
        }

        var normalised = path.Length > 1 ? path.TrimEnd('/') : path;
        return new NotificationEvent(
            id.Value, e.Type!, scope, normalised, e.Actor, e.Title!, e.Link, e.Data is { } d ? d.Clone() : null, e.Time ?? now, now);
    }
}

/// <summary>Resource paths and subscription path prefixes: '/' then segments separated by '/'.</summary>
public static class ResourcePaths
{
    public static bool TryCheck(string path, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        if (path.Length == 0 || path[0] != '/' || path.Length > EventLimits.MaxPathLength || path.Any(char.IsControl) || path.Contains("//", StringComparison.Ordinal))
        {
            error = $"'{path}' is not a resource path: it starts with '/', has no empty segment and is at most {EventLimits.MaxPathLength} characters (e.g. /Shared Documents/policy.docx).";
            return false;
        }

        error = null;
        return true;
    }
}
