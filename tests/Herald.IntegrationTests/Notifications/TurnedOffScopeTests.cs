using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Observability;
using Herald.IntegrationTests.Outbox;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Notifications;

/// <summary>
/// A scope's email turned off, as an administrator and a producer meet it through a real
/// <c>herald serve</c> and Postfix's smtp-sink: the notifications it would have sent are dropped
/// (and counted, with why), messages submitted meanwhile wait with the reason shown, and turning
/// email back on delivers those messages but none of the dropped notifications.
/// </summary>
public sealed class TurnedOffScopeTests
{
    private const string Means = "notifications are dropped; queued messages wait until email is turned back on";
    private const string Password = "root's long password";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_scope_turned_off_drops_its_notifications_and_its_queued_message_waits_then_goes_when_turned_back_on()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        foreach (var (id, email) in new[] { ("alice", "alice@example.org"), ("carol", "carol@example.org") })
        {
            await MustAsync(await admin.PutAsJsonAsync($"api/v1/users/{id}", new { name = id, email, timeZone = "UTC", language = "en" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
            await MustAsync(await admin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = $"user:{id}", level = "view" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
        }

        await MustAsync(await admin.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:alice", name = "HR now" }, Ct), HttpStatusCode.Created);
        await MustAsync(await admin.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:carol", name = "HR daily", frequency = "daily", at = "08:00" }, Ct), HttpStatusCode.Created);

        // Turning email off says what it means, in the API's answer and in `herald smtp show`.
        var off = JsonDocument.Parse(await MustAsync(await admin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { enabled = false }, Ct), HttpStatusCode.OK)).RootElement;
        Assert.Contains($"Email is turned off for scope /hr: {Means}.", off.GetProperty("notes").EnumerateArray().Select(n => n.GetString()));
        Assert.Contains($"no ({Means})", (await OutboxNode.MustAsync(node.Cli, "smtp", "show", "--scope", "/hr")).Output, StringComparison.Ordinal);
        Assert.Equal(0, (await node.Cli.RunWithInputAsync(Password + "\n", "admin", "create", "--name", "root", "--scope", "/")).ExitCode);
        using (var console = await ConsoleBrowser.SignInAsync(node.Server, "root", Password))
        {
            Assert.Contains($"<option value=\"false\" selected=\"selected\">Turned off: {Means}</option>", await console.GetStringAsync("/settings?scope=%2Fhr"), StringComparison.Ordinal);
        }


        await PostEventAsync(admin, "off-1", "Budget.xlsx");
        var waiting = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "dana@example.org" }, subject = "Payslips", text = "Ready." });

        // The event is done, its notifications dropped and counted with the scope: one immediate
        // recipient (alice) and one digest recipient (carol).
        var metrics = await WaitForMetricsAsync(admin, "immediate", "digest");
        Assert.Contains("HELP herald_notifications_dropped_total", metrics, StringComparison.Ordinal);
        Assert.Contains("notifications dropped for 1 immediate and 1 digest recipient(s): Email is turned off for scope /hr.", node.Server.Output, StringComparison.Ordinal);

        // The message waits, and every view of the queue says why.
        const string Reason = "Email is turned off for scope /hr. The message waits until email is turned back on.";
        var details = await OutboxNode.WaitForAsync(admin, waiting, state => state == "deferred");
        Assert.Equal(Reason, Assert.Single(OutboxNode.Recipients(details)).GetProperty("lastReply").GetString());
        Assert.Contains(Reason, (await OutboxNode.MustAsync(node.Cli, "queue", "show", waiting)).Output, StringComparison.Ordinal);
        Assert.Empty(sink.Received());

        // Turned back on: the waiting message goes at once (not at its next backoff), the dropped
        // notifications never. A second event, after, shows the fan-out itself works.
        await MustAsync(await admin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { enabled = true }, Ct), HttpStatusCode.OK);
        var first = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        Assert.Equal(["dana@example.org"], first.Recipients);
        await PostEventAsync(admin, "on-1", "Holidays.docx");
        var both = await sink.WaitForAsync(2, TimeSpan.FromSeconds(60));
        Assert.Equal(["alice@example.org"], both[1].Recipients);
        Assert.Contains("Holidays.docx", both[1].ToMimeMessage().Subject, StringComparison.Ordinal);
        Assert.DoesNotContain(sink.Received(), m => (m.ToMimeMessage().Subject ?? "").Contains("Budget.xlsx", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Turning_email_off_from_the_cli_says_what_it_means()
    {
        using var herald = new Herald.Testing.HeraldCommandLine();
        await OutboxNode.MustAsync(herald, "smtp", "set", "--server", "127.0.0.1", "--security", "none", "--from", "herald@example.org");
        await OutboxNode.MustAsync(herald, "scope", "add", "/hr");

        var off = await OutboxNode.MustAsync(herald, "smtp", "set", "--scope", "/hr", "--enabled", "false");

        Assert.Contains($"Email is turned off for scope /hr: {Means}.", off.Output + off.Error, StringComparison.Ordinal);
    }

    /// <summary>Waits until <c>/metrics</c> counts one dropped recipient of /hr, for its email
    /// turned off, of each kind; labels in whatever order the exporter writes them.</summary>
    private static async Task<string> WaitForMetricsAsync(HttpClient admin, params string[] kinds)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var text = "";
        while (DateTime.UtcNow < deadline)
        {
            text = await admin.GetStringAsync(new Uri("metrics", UriKind.Relative), Ct);
            var dropped = Sample.Parse(text).Where(s => s is { Name: "herald_notifications_dropped_total", Value: 1 }
                && s.Labels["scope"] == "/hr" && s.Labels["reason"] == "email turned off");
            if (kinds.All(kind => dropped.Any(s => s.Labels["kind"] == kind)))
            {
                return text;
            }

            await Task.Delay(100, Ct);
        }

        throw new TimeoutException($"/metrics did not count dropped notifications of /hr ({string.Join(", ", kinds)}):\n{text}");
    }

    private static async Task PostEventAsync(HttpClient producer, string id, string title) =>
        await MustAsync(await producer.PostAsJsonAsync("api/v1/events", new
        {
            id, type = "item.changed", scope = "/hr", resourcePath = $"/sites/hr/Shared Documents/{title}", actor = "bob@example.org", title,
        }, Ct), HttpStatusCode.Accepted);
}
