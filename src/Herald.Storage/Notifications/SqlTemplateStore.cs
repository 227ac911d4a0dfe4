using Dapper;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

public sealed class SqlTemplateStore(HeraldDatabase database) : INotificationTemplateStore
{
    public async Task<IReadOnlyList<NotificationTemplate>> ListAsync(IReadOnlyList<ScopePath> scopes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<TemplateRow>(
            $"SELECT * FROM notification_templates WHERE {database.IsAnyOf("scope_path", "scopes")} ORDER BY scope_path, event_type",
            new { scopes = scopes.Select(s => s.Value).ToArray() }).ConfigureAwait(false);
        return rows.Select(r => r.ToTemplate()).ToArray();
    }

    public async Task SaveAsync(NotificationTemplate stored, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stored);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            """
            INSERT INTO notification_templates (scope_path, event_type, subject, text_body, html_body, updated_at)
            VALUES (@scope, @type, @subject, @text, @html, @updated)
            ON CONFLICT (scope_path, event_type) DO UPDATE SET subject = excluded.subject, text_body = excluded.text_body,
                html_body = excluded.html_body, updated_at = excluded.updated_at
            """,
            new
            {
                scope = stored.Scope.Value,
                type = stored.EventType,
                subject = stored.Sources.Subject,
                text = stored.Sources.Text,
                html = stored.Sources.Html,
                updated = stored.UpdatedAt.ToUnixTimeMilliseconds(),
            }).ConfigureAwait(false);
    }

    public async Task<bool> RemoveAsync(ScopePath scope, string eventType, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "DELETE FROM notification_templates WHERE scope_path = @scope AND event_type = @eventType", new { scope = scope.Value, eventType }).ConfigureAwait(false) > 0;
    }

    private sealed class TemplateRow
    {
        public string ScopePath { get; set; } = "";
        public string EventType { get; set; } = "";
        public string Subject { get; set; } = "";
        public string TextBody { get; set; } = "";
        public string? HtmlBody { get; set; }
        public long UpdatedAt { get; set; }

        public NotificationTemplate ToTemplate() => new(
            Scopes.ScopePath.Parse(ScopePath), EventType, new TemplateSources(Subject, TextBody, HtmlBody), DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt));
    }
}
