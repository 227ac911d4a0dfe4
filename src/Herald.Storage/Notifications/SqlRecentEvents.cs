using Dapper;
using Herald.Notifications;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

/// <summary>The latest events of a scope and the scopes below it, for checking a template before
/// it is saved.</summary>
public sealed class SqlRecentEvents(HeraldDatabase database) : IRecentEvents
{
    /// <summary>How far back a check looks: among this many of the latest events of the type, so
    /// that saving a template reads a bounded number of rows however large the table grows.</summary>
    private const int Window = 10_000;

    public async Task<IReadOnlyList<NotificationEvent>> LatestAsync(ScopePath scope, string? type, int max, CancellationToken cancellationToken)
    {
        // The scope itself, or below it on whole segments: "/hr" takes "/hr/payroll", not "/hr2".
        var prefix = scope.IsRoot ? "/" : scope.Value + "/";
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<EventRow>(
            $"""
            SELECT {EventRow.Columns} FROM (
                SELECT {EventRow.Columns} FROM notification_events
                {(type is null ? "" : "WHERE type = @type")}
                ORDER BY received_at DESC LIMIT @window
            ) AS latest
            WHERE scope_path = @scope OR substr(scope_path, 1, @length) = @prefix
            ORDER BY received_at DESC, id LIMIT @max
            """,
            new { type, window = Window, scope = scope.Value, length = prefix.Length, prefix, max }).ConfigureAwait(false);
        return rows.Select(r => r.ToEvent()).ToArray();
    }
}
