using Herald.Notifications.Templates;
using Herald.Scopes;

namespace Herald.Tests.Notifications;

internal sealed class InMemoryTemplateStore : INotificationTemplateStore
{
    public List<NotificationTemplate> Templates { get; } = [];

    public Task<IReadOnlyList<NotificationTemplate>> ListAsync(IReadOnlyList<ScopePath> scopes, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<NotificationTemplate>>(Templates.Where(t => scopes.Contains(t.Scope)).ToArray());

    public Task SaveAsync(NotificationTemplate stored, CancellationToken cancellationToken)
    {
        Templates.RemoveAll(t => t.Scope == stored.Scope && t.EventType == stored.EventType);
        Templates.Add(stored);
        return Task.CompletedTask;
    }

    public Task<bool> RemoveAsync(ScopePath scope, string eventType, CancellationToken cancellationToken) =>
        Task.FromResult(Templates.RemoveAll(t => t.Scope == scope && t.EventType == eventType) > 0);
}
