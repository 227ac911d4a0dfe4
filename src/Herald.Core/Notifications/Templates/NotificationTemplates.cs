using System.Collections.Concurrent;
using Fluid;
using Herald.Notifications.SelfService;
using Herald.Scopes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Templates;

/// <summary>
/// Renders notifications with the effective template of the event's scope and type: the nearest
/// scope up the tree that has its own, else the built-in default. Stored templates were checked
/// when saved; one that fails anyway (on an event unlike those it was checked with, or after a
/// filter went away in an upgrade) throws <see cref="TemplateFailedException"/>, so the event is
/// retried and then quarantined with the reason, unless <see cref="NotificationTemplateOptions.OnFailure"/>
/// says to fall back to the default for that mail. The default renders in its own guard: if even
/// it fails (a digest too long for a body), the failure names it.
/// </summary>
public sealed partial class NotificationTemplates(
    INotificationTemplateStore store,
    TemplateRenderer renderer,
    IOptions<NotificationTemplateOptions> options,
    TimeProvider time,
    ILogger<NotificationTemplates> logger,
    IManageLinks? manageLinks = null)
    : INotificationTemplates
{
    /// <summary>How long a node trusts its copy of a scope's templates: a change made on another
    /// node applies within this time (at once on the node that made it).</summary>
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<ScopePath, (DateTimeOffset Until, IReadOnlyList<NotificationTemplate> Chain)> _chains = new();

    /// <summary>The template compiled last, by its sources object: a fan-out renders one event's
    /// template for every recipient in a row, without looking its text up in the compiler's cache.</summary>
    private LastCompiled? _last;

    public async ValueTask<RenderedNotification> RenderEventAsync(
        NotificationEvent notificationEvent, NotificationRecipient recipient, string sourceName, Uri unsubscribe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notificationEvent);
        ArgumentNullException.ThrowIfNull(recipient);
        ArgumentNullException.ThrowIfNull(unsubscribe);
        var (stored, _) = await EffectiveAsync(notificationEvent.Scope, notificationEvent.Type, cancellationToken).ConfigureAwait(false);
        var zone = TemplateModel.ZoneOf(recipient);
        var manage = await ManageLinkAsync(recipient, cancellationToken).ConfigureAwait(false);
        return await RenderEffectiveAsync(stored, notificationEvent.Type, context =>
        {
            TemplateModel.SetEvent(context, notificationEvent, zone);
            Common(context, recipient, zone, sourceName, unsubscribe, manage);
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
        var manage = await ManageLinkAsync(recipient, cancellationToken).ConfigureAwait(false);
        return await RenderEffectiveAsync(stored, DefaultTemplates.Digest, context =>
        {
            TemplateModel.SetDigest(context, subscription.Name, events, window, zone);
            Common(context, recipient, zone, $"the alert \"{subscription.Name}\"", unsubscribe, manage);
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

    internal static void Common(TemplateContext context, NotificationRecipient recipient, TimeZoneInfo zone, string sourceName, Uri unsubscribe, Uri? manage)
    {
        TemplateModel.SetRecipient(context, recipient, zone);
        context.SetValue("source_name", sourceName);
        context.SetValue("unsubscribe_url", unsubscribe.AbsoluteUri);
        if (manage is not null)
        {
            context.SetValue("manage_url", manage.AbsoluteUri);
        }
    }

    /// <summary>The recipient's "Manage your alerts" link; none for an address that is no user.</summary>
    private ValueTask<Uri?> ManageLinkAsync(NotificationRecipient recipient, CancellationToken cancellationToken) =>
        manageLinks?.ForAsync(recipient, cancellationToken) ?? ValueTask.FromResult<Uri?>(null);

    private async ValueTask<RenderedNotification> RenderEffectiveAsync(NotificationTemplate? stored, string type, Action<TemplateContext> model)
    {
        if (stored is not null)
        {
            try
            {
                return await renderer.RenderAsync(Compiled(stored.Sources, stored.Scope, type), model).ConfigureAwait(false);
            }
            catch (TemplateFailedException failure) when (options.Value.OnFailure == TemplateFailurePolicy.Fallback)
            {
                LogFellBack(logger, failure, type, stored.Scope.Value, TemplatePartNames.NameOf(failure.Part), failure.Reason);
            }
        }

        return await renderer.RenderAsync(Compiled(DefaultTemplates.For(type), null, type), model).ConfigureAwait(false);
    }

    private CompiledTemplate Compiled(TemplateSources sources, ScopePath? scope, string type)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && ReferenceEquals(last.Sources, sources) && last.Template.Scope == scope && last.Template.EventType == type)
        {
            return last.Template;
        }

        var compiled = renderer.Compile(sources, scope, type, keep: true);
        Volatile.Write(ref _last, new LastCompiled(sources, compiled));
        return compiled;
    }

    private sealed record LastCompiled(TemplateSources Sources, CompiledTemplate Template);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Type} template of scope {Scope} failed in its {Part} ({Reason}); the built-in default was used for this mail")]
    private static partial void LogFellBack(ILogger logger, Exception exception, string type, string scope, string part, string reason);
}
