using Herald.Scopes;

namespace Herald.Notifications.Templates;

/// <summary>A scope's own templates for one event type (or <see cref="DefaultTemplates.Digest"/>):
/// they apply to that scope and, unless a nearer scope has its own, to the scopes below it.</summary>
public sealed record NotificationTemplate(ScopePath Scope, string EventType, TemplateSources Sources, DateTimeOffset UpdatedAt);

/// <summary>The <c>notification_templates</c> table.</summary>
public interface INotificationTemplateStore
{
    /// <summary>Every template stored on any of these scopes.</summary>
    Task<IReadOnlyList<NotificationTemplate>> ListAsync(IReadOnlyList<ScopePath> scopes, CancellationToken cancellationToken);

    /// <summary>Adds or replaces the scope's template for the type.</summary>
    Task SaveAsync(NotificationTemplate stored, CancellationToken cancellationToken);

    Task<bool> RemoveAsync(ScopePath scope, string eventType, CancellationToken cancellationToken);
}
