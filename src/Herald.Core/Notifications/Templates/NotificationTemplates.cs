using System.Collections.Concurrent;
using System.Text;
using Fluid;
using Herald.Scopes;
using Microsoft.Extensions.Logging;

namespace Herald.Notifications.Templates;

/// <summary>
/// Renders notifications with the effective template of the event's scope and type: the nearest
/// scope up the tree that has its own, else the built-in default. Stored templates were checked
/// when saved; one that fails anyway (a filter removed in an upgrade, a loop over huge data) falls
/// back to the default with a warning, so a notification is never lost to a template.
/// </summary>
public sealed partial class NotificationTemplates(
    INotificationTemplateStore store, TemplateCompiler compiler, TimeProvider time, ILogger<NotificationTemplates> logger) : INotificationTemplates
{
    /// <summary>RFC 5322's line limit, which a subject (one header line) must fit.</summary>
    public const int MaxSubjectLength = 998;

    /// <summary>How long a node trusts its copy of a scope's templates: a change made on another
    /// node applies within this time (at once on the node that made it).</summary>
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<ScopePath, (DateTimeOffset Until, IReadOnlyList<NotificationTemplate> Chain)> _chains = new();

    /// <summary>Compiled templates by the sources object itself, so that rendering the same
    /// template 100,000 times does not hash its text each time; entries go with their sources.</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<TemplateSources, Compiled> _compiled = new();

    public async ValueTask<RenderedNotification> RenderEventAsync(
        NotificationEvent notificationEvent, NotificationRecipient recipient, string sourceName, Uri unsubscribe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notificationEvent);
        ArgumentNullException.ThrowIfNull(recipient);
        ArgumentNullException.ThrowIfNull(unsubscribe);
        var (stored, _) = await EffectiveAsync(notificationEvent.Scope, notificationEvent.Type, cancellationToken).ConfigureAwait(false);
        var zone = TemplateModel.ZoneOf(recipient);
        return await RenderWithFallbackAsync(stored, notificationEvent.Type, context =>
        {
            TemplateModel.SetEvent(context, notificationEvent, zone);
            Common(context, recipient, zone, sourceName, unsubscribe);
        }).ConfigureAwait(false);
    }

    public async ValueTask<RenderedNotification> RenderDigestAsync(
        Subscription subscription, IReadOnlyList<NotificationEvent> events, DigestWindow window, NotificationRecipient recipient, Uri unsubscribe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(recipient);
        ArgumentNullException.ThrowIfNull(unsubscribe);
        var (stored, _) = await EffectiveAsync(subscription.Scope, DefaultTemplates.Digest, cancellationToken).ConfigureAwait(false);
        var zone = TemplateModel.ZoneOf(recipient);
        return await RenderWithFallbackAsync(stored, DefaultTemplates.Digest, context =>
        {
            TemplateModel.SetDigest(context, subscription.Name, events, window, zone);
            Common(context, recipient, zone, $"the alert \"{subscription.Name}\"", unsubscribe);
        }).ConfigureAwait(false);
    }

    /// <summary>The template that applies to the type in the scope: the nearest scope's own, or
    /// null for the built-in default.</summary>
    public async Task<(NotificationTemplate? Stored, IReadOnlyList<NotificationTemplate> Chain)> EffectiveAsync(
        ScopePath scope, string type, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!_chains.TryGetValue(scope, out var cached) || cached.Until <= now)
        {
            var chain = await store.ListAsync(scope.SelfAndAncestors().ToArray(), cancellationToken).ConfigureAwait(false);
            cached = (now + CacheLifetime, chain);
            _chains[scope] = cached;
        }

        // The nearest scope is the one with the longest path among the scope and its ancestors.
        var nearest = cached.Chain
            .Where(t => t.EventType == type)
            .OrderByDescending(t => t.Scope.Value.Length)
            .FirstOrDefault();
        return (nearest, cached.Chain);
    }

    /// <summary>Forgets cached templates after a change on this node.</summary>
    public void Invalidate() => _chains.Clear();

    /// <summary>Renders the sources; throws what a template throws (for checks and previews).</summary>
    public async ValueTask<RenderedNotification> RenderAsync(TemplateSources sources, Action<TemplateContext> model)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(model);
        var compiled = _compiled.GetValue(sources, s => new Compiled(Compile(s.Subject), Compile(s.Text), s.Html is null ? null : Compile(s.Html)));
        var context = new TemplateContext(compiler.Options);
        model(context);
        var subject = Subject(await compiled.Subject.RenderAsync(context, TemplateCompiler.Text).ConfigureAwait(false));
        var text = await compiled.Text.RenderAsync(context, TemplateCompiler.Text).ConfigureAwait(false);
        var html = compiled.Html is null ? null : await compiled.Html.RenderAsync(context, TemplateCompiler.Html).ConfigureAwait(false);
        return new RenderedNotification(subject, text, html);
    }

    /// <summary>One header line: line breaks and runs of white space become one space, at most
    /// <see cref="MaxSubjectLength"/> characters.</summary>
    public static string Subject(string rendered)
    {
        ArgumentNullException.ThrowIfNull(rendered);
        var line = new StringBuilder(Math.Min(rendered.Length, MaxSubjectLength));
        foreach (var c in rendered)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                if (line.Length > 0 && line[^1] != ' ')
                {
                    line.Append(' ');
                }
            }
            else
            {
                line.Append(c);
            }
        }

        var subject = line.ToString().Trim();
        if (subject.Length > MaxSubjectLength)
        {
            subject = subject[..MaxSubjectLength];
            if (char.IsHighSurrogate(subject[^1]))
            {
                subject = subject[..^1];
            }
        }

        return subject;
    }

    internal static void Common(TemplateContext context, NotificationRecipient recipient, TimeZoneInfo zone, string sourceName, Uri unsubscribe)
    {
        TemplateModel.SetRecipient(context, recipient, zone);
        context.SetValue("source_name", sourceName);
        context.SetValue("unsubscribe_url", unsubscribe.AbsoluteUri);
    }

    private async ValueTask<RenderedNotification> RenderWithFallbackAsync(NotificationTemplate? stored, string type, Action<TemplateContext> model)
    {
        if (stored is not null)
        {
            try
            {
                return await RenderAsync(stored.Sources, model).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FluidException or InvalidOperationException or FormatException or ArgumentException)
            {
                LogTemplateFailed(logger, ex, stored.Scope.Value, type);
            }
        }

        return await RenderAsync(DefaultTemplates.For(type), model).ConfigureAwait(false);
    }

    private IFluidTemplate Compile(string source) =>
        compiler.TryCompile(source, out var template, out var error)
            ? template
            : throw new InvalidOperationException($"The template cannot be compiled: {error}");

    private sealed record Compiled(IFluidTemplate Subject, IFluidTemplate Text, IFluidTemplate? Html);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Type} template of scope {Scope} failed to render; the built-in default was used instead")]
    private static partial void LogTemplateFailed(ILogger logger, Exception exception, string scope, string type);
}
