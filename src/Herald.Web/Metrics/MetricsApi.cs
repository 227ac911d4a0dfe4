using System.Globalization;
using System.Text;
using Herald.Access;
using Herald.Notifications;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Web.Security;
using Herald.Work;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Metrics;

/// <summary><c>GET /metrics</c> in the Prometheus text format, for an administrator key of <c>/</c>.</summary>
public static class MetricsApi
{
    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", async (HttpContext context, IOutboxStore outbox, DeliveryMetrics metrics, NotificationMetrics notifications, ConnectionHealth health, FailedWorkService failed) =>
        {
            if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
            {
                return (IResult)refusal;
            }

            var text = new StringBuilder();
            text.AppendLine("# HELP herald_outbox_recipients Recipients in the outbox by delivery state.");
            text.AppendLine("# TYPE herald_outbox_recipients gauge");
            var counts = await outbox.CountByStateAsync(context.RequestAborted).ConfigureAwait(false);
            foreach (var state in Enum.GetValues<RecipientState>())
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_outbox_recipients{{state=\"{RecipientStateNames.Values.NameOf(state)}\"}} {counts.GetValueOrDefault(state)}");
            }

            text.AppendLine("# HELP herald_recipients_total Delivery attempts on this node by resulting recipient state and SMTP connection.");
            text.AppendLine("# TYPE herald_recipients_total counter");
            foreach (var ((state, connection), count) in metrics.Totals.OrderBy(t => t.Key))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_recipients_total{{state=\"{state}\",connection=\"{Escape(connection)}\"}} {count}");
            }

            text.AppendLine("# HELP herald_delivery_latency_seconds From acceptance into the outbox to the smart host's 250, per SMTP connection.");
            text.AppendLine("# TYPE herald_delivery_latency_seconds histogram");
            foreach (var (connection, histogram) in metrics.Latencies.OrderBy(l => l.Key, StringComparer.Ordinal))
            {
                var (cumulative, sum) = histogram.Snapshot();
                var label = Escape(connection);
                for (var i = 0; i < DeliveryMetrics.LatencyBuckets.Length; i++)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"herald_delivery_latency_seconds_bucket{{connection=\"{label}\",le=\"{DeliveryMetrics.LatencyBuckets[i]}\"}} {cumulative[i]}");
                }

                text.AppendLine(CultureInfo.InvariantCulture, $"herald_delivery_latency_seconds_bucket{{connection=\"{label}\",le=\"+Inf\"}} {cumulative[^1]}");
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_delivery_latency_seconds_sum{{connection=\"{label}\"}} {sum}");
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_delivery_latency_seconds_count{{connection=\"{label}\"}} {cumulative[^1]}");
            }

            text.AppendLine("# HELP herald_notifications_dropped_total Recipients of notifications this node dropped because their scope's email was turned off, by scope and kind (immediate, digest).");
            text.AppendLine("# TYPE herald_notifications_dropped_total counter");
            foreach (var ((scope, kind), count) in notifications.DroppedTotals.OrderBy(t => t.Key.Scope.Value, StringComparer.Ordinal).ThenBy(t => t.Key.Kind))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_notifications_dropped_total{{scope=\"{Escape(scope.Value)}\",kind=\"{NotificationMetrics.NameOf(kind)}\",reason=\"email turned off\"}} {count}");
            }

            // The key administers / (checked above), so every scope is counted.
            if ((await failed.CountAsync(context.Caller(), ScopePath.Root, context.RequestAborted).ConfigureAwait(false)).Value is { } quarantined)
            {
                text.AppendLine("# HELP herald_failed_items Work quarantined after failing for a reason of its own, waiting for an administrator, by kind.");
                text.AppendLine("# TYPE herald_failed_items gauge");
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_failed_items{{kind=\"message\"}} {quarantined.Messages}");
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_failed_items{{kind=\"event\"}} {quarantined.Events}");
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_failed_items{{kind=\"digest\"}} {quarantined.Digests}");
            }

            text.AppendLine("# HELP herald_connection_failing SMTP connections failing as seen by this node: down, or refusing for a configuration reason (authentication, TLS).");
            text.AppendLine("# TYPE herald_connection_failing gauge");
            foreach (var connection in health.Failing.Keys.Order(StringComparer.Ordinal))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_connection_failing{{connection=\"{Escape(connection)}\"}} 1");
            }

            text.AppendLine("# HELP herald_connection_down SMTP connections down as seen by this node: their messages wait, untried, while a probe tests the connection at growing intervals.");
            text.AppendLine("# TYPE herald_connection_down gauge");
            foreach (var connection in health.Down.Order(StringComparer.Ordinal))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"herald_connection_down{{connection=\"{Escape(connection)}\"}} 1");
            }

            return Results.Text(text.ToString(), "text/plain; version=0.0.4; charset=utf-8");
        }).RequireAuthorization().WithTags("Operations").WithName("getMetrics").WithSummary("Get Prometheus metrics")
            .WithDescription("Outbox, delivery, quarantine and connection metrics in the Prometheus text format, for an administrator key of /.")
            .Produces<string>(StatusCodes.Status200OK, "text/plain");
        return app;
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
