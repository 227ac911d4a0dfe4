using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Testing;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Webhooks;

/// <summary>
/// Webhooks as a producer meets them: a real <c>herald serve</c>, smtp-sink as the smart host,
/// and a receiver in the test (Kestrel on loopback) that verifies every signature with an
/// independent Standard Webhooks implementation.
/// </summary>
public sealed class WebhookEndToEndTests
{
    /// <summary>Webhook retries within a second and a short lease, so that a test waits seconds, not minutes.</summary>
    internal static readonly Dictionary<string, string> FastWebhooks = new()
    {
        ["HERALD_Webhooks__RetryDelays__0"] = "00:00:00.300",
        ["HERALD_Webhooks__PollInterval"] = "00:00:00.100",
        ["HERALD_Webhooks__Lease"] = "00:00:05",
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Deliveries_are_signed_retried_while_the_receiver_is_down_and_each_message_reports_deferred_before_sent()
    {
        using var sink = SmtpSink.Start();
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var node = await OutboxNode.StartAsync(sink.Port, FastWebhooks);
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        var webhook = await CreateAsync(admin, new { scope = "/hr", url = receiver.Url.AbsoluteUri, description = "ticket system" });
        receiver.Secret = webhook.GetProperty("secret").GetString();
        var id = webhook.GetProperty("endpoint").GetProperty("id").GetString();

        // The smart host and the receiver are both down: every message is deferred, and the
        // webhook deliveries reporting it fail and wait.
        sink.Stop();
        await receiver.StopAsync();
        var messages = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            messages.Add(await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { $"person{i}@example.org" }, subject = $"Report {i}", text = "Hello." }));
        }

        foreach (var message in messages)
        {
            await OutboxNode.WaitForAsync(admin, message, state => state == "deferred");
        }

        var failing = await WaitForLogAsync(admin, id!, log => log.GetProperty("attempts").GetArrayLength() >= 3);
        Assert.All(failing.GetProperty("attempts").EnumerateArray(), a =>
        {
            Assert.False(a.GetProperty("succeeded").GetBoolean());
            Assert.Equal(JsonValueKind.Null, a.GetProperty("status").ValueKind);
        });

        // The smart host comes back first: the messages are sent, and "sent" waits behind the
        // undelivered "deferred" of the same message. Then the receiver comes back.
        sink.Restart();
        foreach (var message in messages)
        {
            await OutboxNode.WaitForAsync(admin, message, state => state == "sent", TimeSpan.FromSeconds(60));
        }

        await receiver.StartAgainAsync();
        var received = await receiver.WaitForAsync(r => messages.All(m => r.Any(w => w.MessageId == m && w.Type == "message.recipient.sent")));

        Assert.All(received, r => Assert.True(r.Verified, r.Problem));
        foreach (var message in messages)
        {
            // In order per message: every deferral first, then sent; a repeat (at-least-once) keeps its webhook-id.
            var types = received.Where(r => r.MessageId == message).DistinctBy(r => r.Id).Select(r => r.Type).ToArray();
            Assert.True(types.Length >= 2, string.Join(", ", types));
            Assert.Equal("message.recipient.sent", types[^1]);
            Assert.All(types[..^1], t => Assert.Equal("message.recipient.deferred", t));
        }

        var sent = received.First(r => r.MessageId == messages[0] && r.Type == "message.recipient.sent").Data;
        Assert.Equal("/hr", sent.GetProperty("scope").GetString());
        Assert.Equal("person0@example.org", sent.GetProperty("recipient").GetString());
        Assert.Equal("sent", sent.GetProperty("state").GetString());
        Assert.Equal(250, sent.GetProperty("code").GetInt32());

        var log = await WaitForLogAsync(admin, id!, l => l.GetProperty("waiting").GetArrayLength() == 0);
        Assert.Contains(log.GetProperty("attempts").EnumerateArray(), a => a.GetProperty("succeeded").GetBoolean() && a.GetProperty("status").GetInt32() == 200 && a.GetProperty("reply").GetString() == "thanks");
    }

    [Fact]
    public async Task Deliveries_waiting_when_herald_serve_is_killed_arrive_after_it_restarts()
    {
        using var sink = SmtpSink.Start();
        await using var receiver = await WebhookReceiver.StartAsync();
        using var cli = new HeraldCommandLine();
        var environment = new Dictionary<string, string>(OutboxNode.FastRetries) { ["HERALD_CREDENTIAL_KEY"] = "webhook tests' passphrase" };
        foreach (var (name, value) in FastWebhooks)
        {
            environment[name] = value;
        }

        foreach (var (name, value) in environment)
        {
            cli.Environment[name] = value;
        }

        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org");
        var added = await OutboxNode.MustAsync(cli, "webhook", "add", receiver.Url.AbsoluteUri, "--event", "message.recipient.sent");
        receiver.Secret = added.Output.TrimEnd().Split('\n')[^1].Trim();
        var key = (await OutboxNode.MustAsync(cli, "apikey", "create", "--scope", "/", "--role", "sender")).Output.TrimEnd().Split('\n')[^1];

        await receiver.StopAsync();
        var messages = new List<string>();
        var first = await HeraldServer.StartAsync(cli.DataDirectory, environment);
        try
        {
            using var sender = first.Client(key);
            for (var i = 0; i < 20; i++)
            {
                messages.Add(await OutboxNode.SendAsync(sender, new { scope = "/", to = new[] { $"r{i}@example.org" }, subject = $"Kill {i}", text = "Hello." }));
            }

            await sink.WaitForAsync(messages.Count, TimeSpan.FromSeconds(60));
            // Sent and recorded (with its delivery, in the same transaction) before the kill.
            await WaitForAsync(async () => (await OutboxNode.MustAsync(cli, "queue", "list", "--state", "sent")).Output.Split('\n').Count(l => l.Contains("sent", StringComparison.Ordinal)) >= messages.Count);
        }
        finally
        {
            // SIGKILL, with every delivery undelivered: the receiver was down throughout.
            await first.DisposeAsync();
        }

        Assert.Empty(receiver.Received);
        await receiver.StartAgainAsync();
        await using var second = await HeraldServer.StartAsync(cli.DataDirectory, environment);
        var received = await receiver.WaitForAsync(r => messages.All(m => r.Any(w => w.MessageId == m)));

        Assert.All(received, r => Assert.True(r.Verified, r.Problem));
        Assert.All(received, r => Assert.Equal("message.recipient.sent", r.Type));
        Assert.Equal(messages.Order(StringComparer.Ordinal), received.Select(r => r.MessageId!).Distinct().Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Another_scopes_administrator_is_refused_and_plain_http_beyond_loopback_is_refused_naming_the_rule()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, FastWebhooks, cli => OutboxNode.MustAsync(cli, "scope", "add", "/hr2"));
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var hr2Admin = node.Server.Client(await node.KeyAsync("/hr2", "admin"));
        using var hrSender = node.Server.Client(await node.KeyAsync("/hr", "sender"));
        var created = await CreateAsync(hrAdmin, new { scope = "/hr", url = "https://hooks.example.org/herald", eventTypes = new[] { "message.recipient.bounced" } });
        var id = created.GetProperty("endpoint").GetProperty("id").GetString();
        var secret = created.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);

        using var list = await hr2Admin.GetAsync(new Uri("api/v1/webhooks?scope=%2Fhr", UriKind.Relative), Ct);
        using var add = await hr2Admin.PostAsJsonAsync("api/v1/webhooks", new { scope = "/hr", url = "https://evil.example.org/" }, Ct);
        using var update = await hr2Admin.PatchAsJsonAsync($"api/v1/webhooks/{id}", new { url = "https://evil.example.org/" }, Ct);
        using var log = await hr2Admin.GetAsync(new Uri($"api/v1/webhooks/{id}/deliveries", UriKind.Relative), Ct);
        using var retry = await hr2Admin.PostAsync(new Uri($"api/v1/webhooks/{id}/deliveries/msg_x/retry", UriKind.Relative), null, Ct);
        using var remove = await hr2Admin.DeleteAsync(new Uri($"api/v1/webhooks/{id}", UriKind.Relative), Ct);
        using var senderList = await hrSender.GetAsync(new Uri("api/v1/webhooks", UriKind.Relative), Ct);
        Assert.Equal(
            [HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.Forbidden],
            new[] { list.StatusCode, add.StatusCode, update.StatusCode, log.StatusCode, retry.StatusCode, remove.StatusCode, senderList.StatusCode });

        using var plain = await hrAdmin.PostAsJsonAsync("api/v1/webhooks", new { scope = "/hr", url = "http://hooks.example.org/herald" }, Ct);
        using var lan = await hrAdmin.PostAsJsonAsync("api/v1/webhooks", new { scope = "/hr", url = "http://10.1.2.3:8080/herald" }, Ct);
        using var unknownType = await hrAdmin.PostAsJsonAsync("api/v1/webhooks", new { scope = "/hr", url = "https://hooks.example.org/", eventTypes = new[] { "message.opened" } }, Ct);
        var problem = JsonDocument.Parse(await MustAsync(plain, HttpStatusCode.UnprocessableEntity)).RootElement.GetProperty("errors");
        Assert.Equal(
            "A webhook URL is https://, or http:// only to this machine (127.0.0.0/8, ::1, localhost); hooks.example.org is not, and a signed payload sent in clear over a network can be read and replayed.",
            problem.GetProperty("url")[0].GetString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, lan.StatusCode);
        Assert.Contains("'message.opened' is not an event type", await MustAsync(unknownType, HttpStatusCode.UnprocessableEntity), StringComparison.Ordinal);

        // The secret was shown once: never in a list, a log, the server's output, or the CLI.
        var mine = await hrAdmin.GetStringAsync(new Uri("api/v1/webhooks", UriKind.Relative), Ct);
        var deliveries = await hrAdmin.GetStringAsync(new Uri($"api/v1/webhooks/{id}/deliveries", UriKind.Relative), Ct);
        var cliList = (await OutboxNode.MustAsync(node.Cli, "webhook", "list")).Output;
        Assert.Contains(id!, mine, StringComparison.Ordinal);
        Assert.Contains(id!, cliList, StringComparison.Ordinal);
        foreach (var text in new[] { mine, deliveries, cliList, node.Server.Output })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret["whsec_".Length..], text, StringComparison.Ordinal);
        }

        // The one whose scope it is removes it.
        using (var removed = await hrAdmin.DeleteAsync(new Uri($"api/v1/webhooks/{id}", UriKind.Relative), Ct))
        {
            await MustAsync(removed, HttpStatusCode.OK);
        }

        Assert.Equal("[]", await hrAdmin.GetStringAsync(new Uri("api/v1/webhooks", UriKind.Relative), Ct));
    }

    [Fact]
    public async Task The_cli_disables_and_enables_an_endpoint_and_an_unknown_id_is_not_found()
    {
        using var cli = new HeraldCommandLine();
        cli.Environment["HERALD_CREDENTIAL_KEY"] = "webhook tests' passphrase";
        await OutboxNode.MustAsync(cli, "webhook", "add", "https://tickets.example.org/herald", "--description", "ticket system");
        var id = (await OutboxNode.MustAsync(cli, "webhook", "list")).Output.Split(' ', 2)[0];

        var disabled = await OutboxNode.MustAsync(cli, "webhook", "disable", id);
        var listedDisabled = (await OutboxNode.MustAsync(cli, "webhook", "list")).Output;
        var enabled = await OutboxNode.MustAsync(cli, "webhook", "enable", id);
        var listedEnabled = (await OutboxNode.MustAsync(cli, "webhook", "list")).Output;
        var unknown = await cli.RunAsync("webhook", "enable", "0123abcd");
        var junk = await cli.RunAsync("webhook", "disable", "<script>");

        Assert.StartsWith($"Disabled: {id}  /", disabled.Output, StringComparison.Ordinal);
        Assert.Contains("https://tickets.example.org/herald  all events  disabled  (ticket system)", listedDisabled, StringComparison.Ordinal);
        Assert.StartsWith($"Enabled: {id}  /", enabled.Output, StringComparison.Ordinal);
        Assert.Contains("https://tickets.example.org/herald  all events  enabled  (ticket system)", listedEnabled, StringComparison.Ordinal);
        Assert.Equal((1, "herald: No webhook '0123abcd' in the scopes you administer."), (unknown.ExitCode, unknown.Error.Trim()));
        Assert.Equal(1, junk.ExitCode);
        Assert.DoesNotContain("<script>", junk.Error, StringComparison.Ordinal);
    }

    internal static async Task<JsonElement> CreateAsync(HttpClient admin, object request)
    {
        using var response = await admin.PostAsJsonAsync("api/v1/webhooks", request, Ct);
        return JsonDocument.Parse(await MustAsync(response, HttpStatusCode.Created)).RootElement.Clone();
    }

    private static async Task<JsonElement> WaitForLogAsync(HttpClient admin, string id, Func<JsonElement, bool> done)
    {
        JsonElement log = default;
        await WaitForAsync(async () =>
        {
            log = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v1/webhooks/{id}/deliveries", UriKind.Relative), Ct)).RootElement.Clone();
            return done(log);
        });
        return log;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out.");
            await Task.Delay(100, Ct);
        }
    }
}
