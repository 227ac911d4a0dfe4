using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.IntegrationTests.Storage;
using Herald.Testing;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Notifications;

/// <summary>
/// Nothing a producer sends can stop Herald: events whose template throws (divides by zero,
/// overflows) or writes 100 MB, posted in one batch with ordinary events, through a real
/// <c>herald serve</c> on each engine and Postfix's smtp-sink. The node keeps answering; each
/// poison event ends failed with its reason after the configured tries; the rest of the batch
/// is delivered; once the template is fixed, a retry delivers each exactly once.
/// </summary>
public sealed class PoisonTests(ITestOutputHelper output)
{
    private const string Passphrase = "poison tests' passphrase";
    private const int Tries = 3;

    /// <summary>Harmless for the sample event the save-time check renders (it has no data); each
    /// branch throws, or writes 100 × 2²⁰ characters, for events that carry that data.</summary>
    private const string PoisonText = """
        {% if event.data.mode == "divide" %}{{ 1 | divided_by: event.data.n }}{% endif %}
        {% if event.data.mode == "times" %}{{ event.data.n | times: event.data.n }}{% endif %}
        {% if event.data.mode == "plus" %}{{ event.data.n | plus: event.data.n }}{% endif %}
        {% if event.data.mode == "huge" %}{% assign s = "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" %}{% for i in (1..20) %}{% assign s = s | append: s %}{% endfor %}{{ s }}{% endif %}
        Changed: {{ event.title }}
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Poison_events_are_quarantined_with_their_reason_the_rest_of_the_batch_is_delivered_and_a_retry_after_the_fix_delivers_each_once(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        using var sink = SmtpSink.Start();
        using var cli = await ConfigureAsync(db, sink);
        var key = await AdminKeyAsync(cli);
        await using var node = await HeraldServer.StartAsync(db.DataDirectory, Environment(db), "--node-name", "node-a");
        using var admin = node.Client(key);
        await PutTemplateAsync(admin, PoisonText);
        await MustAsync(await admin.PostAsJsonAsync("api/v1/rules", new { id = "changes", scope = "/hr", name = "Changes", eventTypes = new[] { "item.changed" }, recipients = new[] { "ops@example.org" } }, Ct), HttpStatusCode.Created);

        string[] poison = ["divide", "times", "plus", "huge"];
        var events = new List<object>();
        for (var i = 0; i < 3; i++)
        {
            events.Add(Event($"good-{i}", new { version = i }));
            events.Add(Event(poison[i], new { mode = poison[i], n = poison[i] == "divide" ? 0m : decimal.MaxValue }));
        }

        events.Add(Event("huge", new { mode = "huge" }));
        await MustAsync(await admin.PostAsJsonAsync("api/v1/events", new { events }, Ct), HttpStatusCode.Accepted);

        // The rest of the batch goes out while the poison is tried, and tried again.
        var delivered = await sink.WaitForAsync(3, TimeSpan.FromSeconds(60));
        Assert.Equal(["Changed: good-0", "Changed: good-1", "Changed: good-2"], delivered.Select(m => (m.ToMimeMessage().TextBody ?? "").Trim()).Order(StringComparer.Ordinal));

        var failed = await WaitForFailedAsync(admin, poison.Length);
        output.WriteLine(string.Join("\n", failed.Select(f => $"{f.Id}: {f.Failures} tries, {f.LastError}")));
        Assert.Equal(poison.Order(StringComparer.Ordinal), failed.Select(f => f.Id).Order(StringComparer.Ordinal));
        Assert.All(failed, f => Assert.Equal(Tries, f.Failures));
        // Each reason names the template, the part and what went wrong (TemplateFailedException's sentences).
        const string Failed = "TemplateFailedException: The item.changed template of scope /hr failed in its text: ";
        Assert.Equal(Failed + "it divides by zero. Fix or remove the template, then retry.", failed.Single(f => f.Id == "divide").LastError);
        Assert.StartsWith(Failed + "a number it computes or converts is out of range.", failed.Single(f => f.Id == "times").LastError, StringComparison.Ordinal);
        Assert.StartsWith(Failed + "a number it computes or converts is out of range.", failed.Single(f => f.Id == "plus").LastError, StringComparison.Ordinal);
        Assert.StartsWith(Failed + "it builds a value of more than 1,048,576 characters", failed.Single(f => f.Id == "huge").LastError, StringComparison.Ordinal);
        Assert.Equal(3, sink.Received().Count);

        // The node is alive, says so, and counts what waits for an administrator.
        Assert.False(node.Process.HasExited);
        using (var health = await admin.GetAsync(new Uri("healthz", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        Assert.Contains("herald_failed_items{kind=\"event\"} 4", await admin.GetStringAsync(new Uri("metrics", UriKind.Relative), Ct), StringComparison.Ordinal);

        // Fixed template; each failed event retried once: one mail each, and no more.
        await PutTemplateAsync(admin, "Changed: {{ event.title }}");
        foreach (var id in poison)
        {
            await MustAsync(await admin.PostAsync(new Uri($"api/v1/events/{id}/retry?scope=/hr", UriKind.Relative), null, Ct), HttpStatusCode.NoContent);
        }

        var all = await sink.WaitForAsync(3 + poison.Length, TimeSpan.FromSeconds(60));
        Assert.Empty(await FailedAsync(admin));
        await CrashTests.SettleAsync(sink, TimeSpan.FromSeconds(3));
        Assert.Equal(
            poison.Select(p => $"Changed: {p}").Order(StringComparer.Ordinal),
            sink.Received().Select(m => (m.ToMimeMessage().TextBody ?? "").Trim()).Where(t => !t.StartsWith("Changed: good", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(7, all.Count);
    }

    [Fact]
    public async Task A_second_node_claims_the_poison_event_a_first_node_left_and_both_keep_running()
    {
        await using var db = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        using var sink = SmtpSink.Start();
        using var cli = await ConfigureAsync(db, sink);
        var key = await AdminKeyAsync(cli);
        var environment = Environment(db);
        // Tries a few seconds apart, so that node-a dies between two of them.
        environment["HERALD_Work__RetryDelays__0"] = "00:00:04";
        await using var a = await HeraldServer.StartAsync(NodeDirectory(), environment, "--node-name", "node-a");
        using var adminA = a.Client(key);
        await PutTemplateAsync(adminA, PoisonText);
        await MustAsync(await adminA.PostAsJsonAsync("api/v1/rules", new { id = "changes", scope = "/hr", name = "Changes", eventTypes = new[] { "item.changed" }, recipients = new[] { "ops@example.org" } }, Ct), HttpStatusCode.Created);
        await MustAsync(await adminA.PostAsJsonAsync("api/v1/events", Event("divide", new { mode = "divide", n = 0 }), Ct), HttpStatusCode.Accepted);

        // node-a meets the poison, counts it, and goes on: it still answers and delivers.
        await a.WaitForOutputAsync("The event /hr divide failed (1 of 3 tries)", TimeSpan.FromSeconds(60));
        await MustAsync(await adminA.PostAsJsonAsync("api/v1/events", Event("good-a", new { version = 1 }), Ct), HttpStatusCode.Accepted);
        await sink.WaitForAsync(1, TimeSpan.FromSeconds(60));
        a.Kill();

        await using var b = await HeraldServer.StartAsync(NodeDirectory(), environment, "--node-name", "node-b");
        using var adminB = b.Client(key);
        await b.WaitForOutputAsync("The event /hr divide failed", TimeSpan.FromSeconds(60));
        var failed = Assert.Single(await WaitForFailedAsync(adminB, 1));
        Assert.Equal(("divide", Tries), (failed.Id, failed.Failures));
        Assert.StartsWith("TemplateFailedException: The item.changed template of scope /hr failed in its text: it divides by zero.", failed.LastError, StringComparison.Ordinal);

        // node-b is alive after it: it answers and delivers the next event.
        await MustAsync(await adminB.PostAsJsonAsync("api/v1/events", Event("good-b", new { version = 2 }), Ct), HttpStatusCode.Accepted);
        var received = await sink.WaitForAsync(2, TimeSpan.FromSeconds(60));
        Assert.Equal(["Changed: good-a", "Changed: good-b"], received.Select(m => (m.ToMimeMessage().TextBody ?? "").Trim()).Order(StringComparer.Ordinal));
        Assert.False(b.Process.HasExited);
        await using var connection = await db.Database.OpenAsync(Ct);
        Assert.Equal("failed", await connection.ExecuteScalarAsync<string>("SELECT state FROM notification_events WHERE id = 'divide'"));
    }

    private sealed record FailedEvent(string Scope, string Id, int Failures, string? LastError);

    private static object Event(string id, object data) =>
        new { id, type = "item.changed", scope = "/hr", resourcePath = $"/docs/{id}", title = id, data };

    private static async Task<IReadOnlyList<FailedEvent>> FailedAsync(HttpClient admin) =>
        (await admin.GetFromJsonAsync<FailedEvent[]>(new Uri("api/v1/events?state=failed&scope=/hr", UriKind.Relative), Ct))!;

    private static async Task<IReadOnlyList<FailedEvent>> WaitForFailedAsync(HttpClient admin, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var failed = await FailedAsync(admin);
            if (failed.Count >= count)
            {
                return failed;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{failed.Count} of {count} events failed in time.");
            await Task.Delay(200, Ct);
        }
    }

    private static async Task PutTemplateAsync(HttpClient admin, string text) =>
        await MustAsync(await admin.PutAsJsonAsync("api/v1/templates/item.changed?scope=/hr", new { subject = "Changed: {{ event.title }}", text }, Ct), HttpStatusCode.OK);

    private static async Task<HeraldCommandLine> ConfigureAsync(TestDatabase db, SmtpSink sink)
    {
        var cli = new HeraldCommandLine(db.Url is null ? db.DataDirectory : null);
        foreach (var (name, value) in Environment(db))
        {
            cli.Environment[name] = value;
        }

        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org");
        await OutboxNode.MustAsync(cli, "scope", "add", "/hr");
        return cli;
    }

    private static async Task<string> AdminKeyAsync(HeraldCommandLine cli) =>
        (await OutboxNode.MustAsync(cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];

    private static Dictionary<string, string> Environment(TestDatabase db)
    {
        var environment = new Dictionary<string, string>(OutboxNode.FastRetries)
        {
            ["HERALD_CREDENTIAL_KEY"] = Passphrase,
            ["HERALD_Work__MaxAttempts"] = $"{Tries}",
            ["HERALD_Work__RetryDelays__0"] = "00:00:01",
            ["HERALD_Notifications__PollInterval"] = "00:00:00.200",
            ["HERALD_Notifications__Lease"] = "00:00:05",
        };
        if (db.Url is { } url)
        {
            environment["HERALD_DATABASE"] = url;
        }

        return environment;
    }

    private static string NodeDirectory() => Directory.CreateTempSubdirectory("herald-poison-node-").FullName;
}
