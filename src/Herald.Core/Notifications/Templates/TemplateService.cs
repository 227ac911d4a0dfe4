using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fluid;
using Herald.Access;
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
/// The one place where templates are read and changed (API and CLI), given the caller:
/// administrators of a scope (or an ancestor) only. A template is checked when saved: each of
/// subject, text and HTML must parse, use only known filters and render within its bounds against
/// a sample event and the scope's latest events (<see cref="TemplateChecks"/>); any error is
/// reported per field and nothing is saved.
/// </summary>
public sealed partial class TemplateService(
    INotificationTemplateStore store, ISettingsStore settings, NotificationTemplates templates, TemplateChecks checks, TimeProvider time)
{
    public const int MaxSubjectSourceLength = 2_000;
    private const string NotValid = "The template is not valid; nothing was saved.";
    public const int MaxBodySourceLength = 200_000;
    private const int MaxTypeLength = 100;

    /// <summary>The template that applies to each type in the scope: every built-in one and the
    /// digest, then any custom type that has a template on the scope or above.</summary>
    public async Task<Result<IReadOnlyList<EffectiveTemplate>>> ListAsync(Caller caller, string? scope, CancellationToken cancellationToken)
    {
        var (path, refusal) = Administered(caller, scope);
        return refusal ?? Result.Of(await ListEffectiveAsync(path, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The template that applies to one type in the scope, and where it comes from.</summary>
    public async Task<Result<EffectiveTemplate>> ShowAsync(Caller caller, string? scope, string? type, CancellationToken cancellationToken)
    {
        var (path, refusal) = Administered(caller, scope);
        if (refusal is not null)
        {
            return refusal;
        }

        return TryCheckType(type, out var typeError)
            ? await GetEffectiveAsync(path, type, cancellationToken).ConfigureAwait(false)
            : Refusal.Invalid("type", typeError);
    }

    private async Task<IReadOnlyList<EffectiveTemplate>> ListEffectiveAsync(ScopePath scope, CancellationToken cancellationToken)
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

    private async Task<EffectiveTemplate> GetEffectiveAsync(ScopePath scope, string type, CancellationToken cancellationToken)
    {
        var (stored, _) = await templates.EffectiveAsync(scope, type, cancellationToken).ConfigureAwait(false);
        return stored is null
            ? new EffectiveTemplate(type, DefaultTemplates.For(type), TemplateOrigin.Default, null, null)
            : new EffectiveTemplate(type, stored.Sources, stored.Scope == scope ? TemplateOrigin.Own : TemplateOrigin.Inherited, stored.Scope, stored.UpdatedAt);
    }

    /// <summary>Checks and saves the scope's own template for the type; on any error nothing is saved.</summary>
    public async Task<Result<NotificationTemplate>> SaveAsync(Caller caller, string? scope, string? type, TemplateSources sources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var (path, refusal) = Administered(caller, scope);
        if (refusal is not null)
        {
            return refusal;
        }

        if (!TryCheckType(type, out var typeError))
        {
            return Refusal.Invalid("type", typeError);
        }

        var errors = await checks.CheckAsync(path, type, sources, cancellationToken).ConfigureAwait(false);
        if (errors.Count == 0 && !await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            errors = [ScopeService.Missing(path)];
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, NotValid);
        }

        var saved = new NotificationTemplate(path, type, sources with { Html = string.IsNullOrWhiteSpace(sources.Html) ? null : sources.Html }, time.GetUtcNow());
        await store.SaveAsync(saved, cancellationToken).ConfigureAwait(false);
        templates.Invalidate();
        return saved;
    }

    /// <summary>Removes the scope's own template: the inherited one (or the default) applies again.</summary>
    public async Task<Refusal?> RevertAsync(Caller caller, string? scope, string? type, CancellationToken cancellationToken)
    {
        var (path, refusal) = Administered(caller, scope);
        if (refusal is not null)
        {
            return refusal;
        }

        if (!TryCheckType(type, out var typeError))
        {
            return Refusal.Invalid("type", typeError);
        }

        if (!await store.RemoveAsync(path, type, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.NotFound($"Scope {path} has no template of its own for '{type}'.");
        }

        templates.Invalidate();
        return null;
    }

    /// <summary>The rendered subject, text and HTML of the type in the scope: with the given
    /// (unsaved) sources, or the effective ones; for a sample event, with the given values over it.</summary>
    public async Task<Result<RenderedNotification>> PreviewAsync(
        Caller caller, string? scope, string? type, TemplateSources? sources, PreviewEvent? overrides, CancellationToken cancellationToken)
    {
        var (path, refusal) = Administered(caller, scope);
        if (refusal is not null)
        {
            return refusal;
        }

        if (!TryCheckType(type, out var typeError))
        {
            return Refusal.Invalid("type", typeError);
        }

        sources ??= (await GetEffectiveAsync(path, type, cancellationToken).ConfigureAwait(false)).Sources;
        var (rendered, errors) = await checks.PreviewAsync(path, type, sources, overrides).ConfigureAwait(false);
        if (rendered is null)
        {
            return Refusal.Invalid(errors, "The template or the preview's event is not valid.");
        }

        return rendered;
    }

    /// <summary>The scope (default /) when the caller administers it; why not otherwise.</summary>
    private static (ScopePath Path, Refusal? Refusal) Administered(Caller caller, string? scope)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ScopePath.TryParse(scope ?? "/", out var path, out var error))
        {
            return (path, Refusal.Invalid("scope", error));
        }

        return (path, caller.Administers(path) ? null : Refusal.NotAllowed($"{caller.Description} may not manage the templates of scope {path}: it is not an administrator of it."));
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
