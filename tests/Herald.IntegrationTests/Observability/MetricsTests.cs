using System.Net;
using System.Net.Http.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Observability;

/// <summary>
/// <c>/metrics</c> of a real <c>herald serve</c>, now OpenTelemetry's Prometheus exporter: every
/// name the hand-written endpoint wrote is still there with its labels, beside ASP.NET Core,
/// runtime and process metrics, and a real Prometheus scrapes it with the administrator key.
/// </summary>
public sealed class MetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_metric_the_hand_written_endpoint_exposed_keeps_its_name_and_labels()
    {
        using var sink = SmtpSink.Start();
        var closed = LoopbackPort.Free();
        // /finance sends through a port nobody listens on: one failure marks its connection down.
        await using var node = await OutboxNode.StartAsync(
            sink.Port,
            new Dictionary<string, string> { ["HERALD_Delivery__FailuresBeforeDown"] = "1" },
            configure: cli => OutboxNode.MustAsync(cli, "smtp", "set", "--scope", "/finance", "--server", "127.0.0.1", "--port", $"{closed}", "--security", "none", "--from", "finance@example.org"));
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));

        // A notification dropped: alice follows /hr, whose email is turned off.
        await MustAsync(await admin.PutAsJsonAsync("api/v1/users/alice", new { name = "alice", email = "alice@example.org", timeZone = "UTC", language = "en" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
        await MustAsync(await admin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:alice", level = "view" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
        await MustAsync(await admin.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:alice", name = "HR now" }, Ct), HttpStatusCode.Created);
        await MustAsync(await admin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { enabled = false }, Ct), HttpStatusCode.OK);
        await MustAsync(await admin.PostAsJsonAsync("api/v1/events", new { id = "e1", type = "item.changed", scope = "/hr", resourcePath = "/sites/hr/Budget.xlsx", actor = "bob@example.org", title = "Budget" }, Ct), HttpStatusCode.Accepted);
        // A delivery, and an attempt through the connection that is down.
        var sent = await OutboxNode.SendAsync(admin, new { scope = "/", to = new[] { "dana@example.org" }, subject = "Delivered", text = "Hello." });
        await OutboxNode.SendAsync(admin, new { scope = "/finance", to = new[] { "erin@example.org" }, subject = "Waits", text = "Hello." });
        await OutboxNode.WaitForAsync(admin, sent, state => state == "sent");

        var samples = await ScrapeUntilAsync(admin, s => s.Any(x => x.Name == "herald_connection_down") && s.Any(x => x.Name == "herald_notifications_dropped_total"));

        Assert.Contains(samples, s => s is { Name: "herald_recipients_total", Value: 1 } && Has(s, ("state", "sent"), ("connection", "/:default")));
        Assert.Contains(samples, s => s is { Name: "herald_outbox_recipients", Value: 1 } && Has(s, ("state", "sent")));
        Assert.Equal(
            ["bounced", "cancelled", "complained", "deferred", "expired", "failed", "queued", "sent", "suppressed"],
            samples.Where(s => s.Name == "herald_outbox_recipients").Select(s => s.Labels["state"]).Order(StringComparer.Ordinal));
        Assert.Contains(samples, s => s is { Name: "herald_delivery_latency_seconds_count", Value: 1 } && Has(s, ("connection", "/:default")));
        Assert.Contains(samples, s => s.Name == "herald_delivery_latency_seconds_sum" && Has(s, ("connection", "/:default")));
        // The buckets dashboards were built on, from 5 ms to a day.
        var bounds = samples.Where(s => s.Name == "herald_delivery_latency_seconds_bucket").Select(s => s.Labels["le"]).ToArray();
        Assert.Equal(["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "300", "1800", "3600", "86400", "+Inf"], bounds);
        Assert.Contains(samples, s => s is { Name: "herald_notifications_dropped_total", Value: 1 } && Has(s, ("scope", "/hr"), ("kind", "immediate"), ("reason", "email turned off")));
        Assert.Equal(["digest", "event", "message"], samples.Where(s => s.Name == "herald_failed_items").Select(s => s.Labels["kind"]).Order(StringComparer.Ordinal));
        Assert.Contains(samples, s => s is { Name: "herald_connection_down", Value: 1 } && Has(s, ("connection", "/finance:default")));
        Assert.Contains(samples, s => s is { Name: "herald_connection_failing", Value: 1 } && Has(s, ("connection", "/finance:default")));

        // Beside Herald's own: ASP.NET Core's requests (the POST above among them), the runtime's and the process's.
        Assert.Contains(samples, s => s.Name == "http_server_request_duration_seconds_count" && Has(s, ("http_request_method", "POST"), ("http_route", "/api/v1/messages/"), ("http_response_status_code", "202")));
        Assert.Contains(samples, s => s.Name == "dotnet_gc_collections_total");
        Assert.Contains(samples, s => s.Name == "process_cpu_time_seconds_total");
    }

    [Fact]
    public async Task A_real_Prometheus_scrapes_herald_with_the_administrator_key_and_answers_a_query_for_the_deliveries()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        var key = await node.KeyAsync("/", "admin");
        using var admin = node.Server.Client(key);
        var id = await OutboxNode.SendAsync(admin, new { scope = "/", to = new[] { "dana@example.org" }, subject = "Counted", text = "Hello." });
        await OutboxNode.WaitForAsync(admin, id, state => state == "sent");

        using var prometheus = await PrometheusServer.StartAsync(node.Server.BaseAddress.Authority, key);
        var deadline = DateTime.UtcNow + Wait;
        IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)> series;
        while ((series = await prometheus.QueryAsync("herald_recipients_total")).Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Prometheus has no herald_recipients_total.\nTargets: {await prometheus.TargetsAsync()}\n{prometheus.Output}");
            await Task.Delay(200, Ct);
        }

        var delivered = Assert.Single(series);
        Assert.Equal(1, delivered.Value);
        Assert.Equal("sent", delivered.Labels["state"]);
        Assert.Equal("/:default", delivered.Labels["connection"]);
        Assert.Equal("herald", delivered.Labels["job"]);
        Assert.Equal(1, Assert.Single(await prometheus.QueryAsync("up{job=\"herald\"}")).Value);
    }

    private static bool Has(Sample sample, params (string Name, string Value)[] labels) =>
        labels.All(l => sample.Labels.TryGetValue(l.Name, out var value) && value == l.Value);

    private static async Task<IReadOnlyList<Sample>> ScrapeUntilAsync(HttpClient admin, Func<IReadOnlyList<Sample>, bool> done)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var text = await admin.GetStringAsync(new Uri("metrics", UriKind.Relative), Ct);
            var samples = Sample.Parse(text);
            if (done(samples))
            {
                return samples;
            }

            Assert.True(DateTime.UtcNow < deadline, "/metrics never showed what was waited for:\n" + text);
            await Task.Delay(200, Ct);
        }
    }

}
