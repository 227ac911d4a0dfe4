using System.Data.Common;
using Dapper;
using Herald.Scopes;
using Herald.Storage.Database;
using Herald.Webhooks;

namespace Herald.Storage.Webhooks;

/// <summary>
/// Writes the webhook deliveries a change calls for, inside the transaction that records the
/// change (the outbox's enqueue and outcome recording): both commit or neither does, so a crash
/// never loses a delivery and never sends one for a change that was not stored. Every store that
/// changes a recipient's state calls this with the changes it made.
/// </summary>
public static class WebhookJournal
{
    public static Task AppendAsync(HeraldDatabase database, DbConnection connection, DbTransaction transaction, IReadOnlyCollection<WebhookEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        return events.Count == 0 ? Task.CompletedTask : AppendAsync(database, connection, transaction, () => Task.FromResult(events));
    }

    /// <summary>As the other overload, with changes that take reading to find: they are read only
    /// when some endpoint is enabled, so that a node without webhooks pays one small query.</summary>
    public static async Task AppendAsync(
        HeraldDatabase database, DbConnection connection, DbTransaction transaction, Func<Task<IReadOnlyCollection<WebhookEvent>>> changes)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(changes);

        // Read in the transaction: an endpoint added a moment ago on another node is seen here.
        var endpoints = (await connection.QueryAsync<(string Id, string ScopePath, string EventTypes)>(
                "SELECT id, scope_path, event_types FROM webhook_endpoints WHERE enabled = 1", transaction: transaction).ConfigureAwait(false))
            .Select(e => (e.Id, Scope: ScopePath.Parse(e.ScopePath), Types: SqlWebhookStore.ParseTypes(e.EventTypes)))
            .ToArray();
        if (endpoints.Length == 0)
        {
            return;
        }

        var events = await changes().ConfigureAwait(false);
        var rows = events
            .SelectMany(change => endpoints
                .Where(e => WebhookEndpoint.Hears(e.Scope, e.Types, change.Scope, change.Type))
                .Select(e => (object)new
                {
                    Id = NewDeliveryId(change.At),
                    EndpointId = e.Id,
                    change.OrderKey,
                    change.Type,
                    change.Subject,
                    change.Payload,
                    At = change.At.ToUnixTimeMilliseconds(),
                }))
            .ToArray();
        await database.ExecuteEachAsync(
            connection,
            transaction,
            """
            INSERT INTO webhook_deliveries (id, endpoint_id, order_key, type, subject, payload, state, attempts, failures, created_at, next_attempt_at, updated_at)
            VALUES (@Id, @EndpointId, @OrderKey, @Type, @Subject, @Payload, 'pending', 0, 0, @At, @At, @At)
            """,
            rows).ConfigureAwait(false);
    }

    /// <summary>A <c>webhook-id</c>: unique, and the same on every attempt of the delivery.</summary>
    private static string NewDeliveryId(DateTimeOffset at) => "msg_" + Guid.CreateVersion7(at).ToString("N");
}
