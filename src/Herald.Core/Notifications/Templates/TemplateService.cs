using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fluid;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Templates;

/// <summary>Where the template that applies to a type in a scope comes from.</summary>
public enum TemplateOrigin
{
    /// <summary>Herald's built-in template.</summary>
    Default,

    /// <summary>An ancestor scope's own template.</summary>
    Inherited,

    /// <summary>The scope's own template.</summary>
    Own,
}

public static class TemplateOriginNames
{
    public static readonly NamedValues<TemplateOrigin> Values = new(
        (TemplateOrigin.Default, "default"), (TemplateOrigin.Inherited, "inherited"), (TemplateOrigin.Own, "own"));
}

/// <summary>The template that applies to one type in a scope, and where it comes from.</summary>
public sealed record EffectiveTemplate(string EventType, TemplateSources Sources, TemplateOrigin Origin, ScopePath? DefinedAt, DateTimeOffset? UpdatedAt);

/// <summary>Values a preview puts over the sample event; null keeps the sample's.</summary>
public sealed record PreviewEvent(string? Id, string? Title, string? ResourcePath, string? Actor, string? Link, JsonElement? Data, DateTimeOffset? Time);

/// <summary>
/// The one place where templates change (API and CLI). A template is checked when saved: each of
/// subject, text and HTML must parse, use only known filters and render within its bounds against
/// a sample event and the scope's latest events (<see cref="TemplateChecks"/>); any error is
/// reported per field and nothing is saved.
/// </summary>
public sealed partial class TemplateService(
    INotificationTemplateStore store, ISettingsStore settings, NotificationTemplates templates, TemplateChecks checks, TimeProvider time)
{
    public const int MaxSubjectSourceLength = 2_000;
    public const int MaxBodySourceLength = 200_000;
    private const int MaxTypeLength = 100;

    /// <summary>The types listed for a scope: every built-in one and the digest, then any custom
    /// type that has a template on the scope or above.</summary>
    public async Task<IReadOnlyList<EffectiveTemplate>> ListEffectiveAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var (_, chain) = await templates.EffectiveAsync(scope, DefaultTemplates.Digest, cancellationToken).ConfigureAwait(false);
        var types = EventTypes.BuiltIn.Append(DefaultTemplates.Digest)
            .Concat(chain.Select(t => t.EventType).Order(StringComparer.Ordinal))
            .Distinct(StringComparer.Ordinal);
        var result = new List<EffectiveTemplate>();
        foreach (var type in types)
        {
            result.Add(await GetEffectiveAsync(scope, type, cancellationToken).ConfigureAwait(false));
        }

        return result;
    }

    public async Task<EffectiveTemplate> GetEffectiveAsync(ScopePath scope, string type, CancellationToken cancellationToken)
    {
        var (stored, _) = await templates.EffectiveAsync(scope, type, cancellationToken).ConfigureAwait(false);
        return stored is null
            ? new EffectiveTemplate(type, DefaultTemplates.For(type), TemplateOrigin.Default, null, null)
            : new EffectiveTemplate(type, stored.Sources, stored.Scope == scope ? TemplateOrigin.Own : TemplateOrigin.Inherited, stored.Scope, stored.UpdatedAt);
    }

    /// <summary>Checks and saves the scope's own template for the type; on any error nothing is saved.</summary>
    public async Task<(NotificationTemplate? Saved, IReadOnlyList<FieldError> Errors)> SaveAsync(
        ScopePath scope, string? type, TemplateSources sources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (!TryCheckType(type, out var typeError))
        {
            return (null, [new("type", typeError)]);
        }

        var errors = await checks.CheckAsync(scope, type, sources, cancellationToken).ConfigureAwait(false);
        if (errors.Count == 0 && !await settings.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            errors = [OutgoingSettingsService.ScopeMissing(scope)];
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var saved = new NotificationTemplate(scope, type, sources with { Html = string.IsNullOrWhiteSpace(sources.Html) ? null : sources.Html }, time.GetUtcNow());
        await store.SaveAsync(saved, cancellationToken).ConfigureAwait(false);
        templates.Invalidate();
        return (saved, []);
    }

    /// <summary>Removes the scope's own template: the inherited one (or the default) applies again.</summary>
    public async Task<bool> RemoveAsync(ScopePath scope, string type, CancellationToken cancellationToken)
    {
        var removed = await store.RemoveAsync(scope, type, cancellationToken).ConfigureAwait(false);
        templates.Invalidate();
        return removed;
    }

    /// <summary>The rendered subject, text and HTML of the type in the scope: with the given
    /// (unsaved) sources, or the effective ones; for a sample event, with the given values over it.</summary>
    public async Task<(RenderedNotification? Rendered, IReadOnlyList<FieldError> Errors)> PreviewAsync(
        ScopePath scope, string? type, TemplateSources? sources, PreviewEvent? overrides, CancellationToken cancellationToken)
    {
        if (!TryCheckType(type, out var typeError))
        {
            return (null, [new("type", typeError)]);
        }

        sources ??= (await GetEffectiveAsync(scope, type, cancellationToken).ConfigureAwait(false)).Sources;
        return await checks.PreviewAsync(scope, type, sources, overrides).ConfigureAwait(false);
    }

    /// <summary>An event type (<c>item.changed</c>, <c>build.queued</c>) or <c>digest</c>.</summary>
    public static bool TryCheckType([NotNullWhen(true)] string? type, [NotNullWhen(false)] out string? error)
    {
        if (type is null || type.Length > MaxTypeLength || !TypePattern().IsMatch(type))
        {
            error = $"'{type}' is not an event type: use lower-case letters, digits, '.', '_' and '-' (such as item.changed), or 'digest' for summaries; at most {MaxTypeLength} characters.";
            return false;
        }

        error = null;
        return true;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]*$")]
    private static partial Regex TypePattern();
}
