using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.DeadLetters;

/// <summary>
/// Dead letters as an administrator redrives them after an outage: a real <c>herald serve</c>,
/// Postfix's smtp-sink as the smart host (refusing every recipient with 450 while "down", so that
/// mail expires), and what the sink's envelopes say was offered to it.
/// </summary>
public sealed class DeadLetterEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string> ShortLife = new() { ["HERALD_Delivery__MaximumAge"] = "00:00:03" };

    [Fact]
    public async Task Bulk_retry_delivers_exactly_the_selected_recipients_once_and_a_second_identical_retry_sends_nothing()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, ShortLife);
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));

        // b1 is suppressed when its message is stored; its entry is removed before the retry.
        var entry = await PostAsync(admin, "api/v1/suppressions", new { scope = "/hr", address = "b1@example.org", reason = "administrator" }, HttpStatusCode.Created);
        var a = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "a1@example.org", "a2@example.org" }, subject = "A", text = "Hello." });
        var b = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "b1@example.org", "b2@example.org" }, subject = "B", text = "Hello." });
        var c = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "c1@example.org" }, subject = "C", text = "Hello." });
        foreach (var id in new[] { a, b, c })
        {
            await MessageView.WaitAsync(admin, id, m => m.Recipients.All(r => r.State is "expired" or "suppressed"), "dead", TimeSpan.FromSeconds(60));
        }

        using (var removed = await admin.DeleteAsync(new Uri($"api/v1/suppressions/{entry.GetProperty("id").GetString()}", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        }

        var listed = await GetAsync(admin, "api/v1/dead-letters");
        Assert.Equal(
            ["a1@example.org expired", "a2@example.org expired", "b1@example.org suppressed", "b2@example.org expired", "c1@example.org expired"],
            Items(listed).Select(i => $"{i.GetProperty("recipient").GetString()} {i.GetProperty("state").GetString()}").Order(StringComparer.Ordinal));
        Assert.Empty(sink.Received());

        // The smart host is back. a1 is selected without a2, b1 without b2.
        sink.Restart();
        var selection = new { recipients = new[] { new { messageId = a, recipient = "a1@example.org" }, new { messageId = b, recipient = "b1@example.org" }, new { messageId = c, recipient = "c1@example.org" } } };
        var first = await PostAsync(admin, "api/v1/dead-letters/retry", selection, HttpStatusCode.OK);
        Assert.Equal((3, 3, 0), Outcome(first));

        var received = await sink.WaitForAsync(3, TimeSpan.FromSeconds(60));
        foreach (var id in new[] { a, b, c })
        {
            await MessageView.WaitAsync(admin, id, m => m.Recipients.All(r => r.State is not "queued" and not "deferred"), "settled");
        }

        var second = await PostAsync(admin, "api/v1/dead-letters/retry", selection, HttpStatusCode.OK);
        Assert.Equal((3, 0, 3), Outcome(second));
        // A later message reaches the sink: the worker has claimed since the second retry, and
        // nothing the second retry selected was due any more.
        var control = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "control@example.org" }, subject = "Control", text = "Hello." });
        await MessageView.WaitAsync(admin, control, m => m.Recipients.All(r => r.State == "sent"), "sent");

        Assert.Equal(
            ["a1@example.org", "b1@example.org", "c1@example.org", "control@example.org"],
            sink.Received().SelectMany(m => m.Recipients).Order(StringComparer.Ordinal));
        Assert.Equal(3, received.Count);
        var states = new Dictionary<string, string>();
        foreach (var id in new[] { a, b, c })
        {
            foreach (var recipient in (await MessageView.GetAsync(admin, id)).Recipients)
            {
                states[recipient.Address] = recipient.State;
            }
        }

        Assert.Equal(
            ["a1@example.org sent", "a2@example.org expired", "b1@example.org sent", "b2@example.org expired", "c1@example.org sent"],
            states.Select(s => $"{s.Key} {s.Value}").Order(StringComparer.Ordinal));
        Assert.Equal(
            ["a2@example.org", "b2@example.org"],
            Items(await GetAsync(admin, "api/v1/dead-letters")).Select(i => i.GetProperty("recipient").GetString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Another_scopes_administrator_sees_retries_and_exports_none_of_them_and_a_selection_of_their_ids_changes_nothing()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, ShortLife, cli => OutboxNode.MustAsync(cli, "scope", "add", "/hr2"));
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var hr2Admin = node.Server.Client(await node.KeyAsync("/hr2", "admin"));
        var id = await OutboxNode.SendAsync(hrAdmin, new { scope = "/hr", to = new[] { "secret@example.org" }, subject = "Payroll", text = "Hello." });
        await MessageView.WaitAsync(hrAdmin, id, m => m.Recipients.All(r => r.State == "expired"), "expired", TimeSpan.FromSeconds(60));
        sink.Restart();

        using var list = await hr2Admin.GetAsync(new Uri("api/v1/dead-letters?scope=%2Fhr", UriKind.Relative), Ct);
        using var export = await hr2Admin.GetAsync(new Uri("api/v1/dead-letters/export?scope=%2Fhr&format=csv", UriKind.Relative), Ct);
        using var retryFilter = await hr2Admin.PostAsJsonAsync("api/v1/dead-letters/retry", new { filter = new { scope = "/hr" } }, Ct);
        var own = await GetAsync(hr2Admin, "api/v1/dead-letters");
        var ownExport = await hr2Admin.GetStringAsync(new Uri("api/v1/dead-letters/export?format=json", UriKind.Relative), Ct);
        var ownFilter = await PostAsync(hr2Admin, "api/v1/dead-letters/retry", new { filter = new { } }, HttpStatusCode.OK);
        // Their own message beside the other scope's: the whole selection is refused.
        var mine = await OutboxNode.SendAsync(hr2Admin, new { scope = "/hr2", to = new[] { "mine@example.org" }, subject = "Mine", text = "Hello." });
        var foreignSelection = new { recipients = new[] { new { messageId = mine, recipient = "mine@example.org" }, new { messageId = id, recipient = "secret@example.org" } } };
        var foreign = await PostAsync(hr2Admin, "api/v1/dead-letters/retry", foreignSelection, HttpStatusCode.NotFound);
        var suppressed = await PostAsync(hr2Admin, "api/v1/dead-letters/suppress", foreignSelection, HttpStatusCode.NotFound);

        Assert.Equal([HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden], new[] { list.StatusCode, export.StatusCode, retryFilter.StatusCode });
        foreach (var body in new[] { await list.Content.ReadAsStringAsync(Ct), await export.Content.ReadAsStringAsync(Ct), await retryFilter.Content.ReadAsStringAsync(Ct), own.ToString(), ownExport })
        {
            Assert.DoesNotContain("secret@example.org", body, StringComparison.Ordinal);
        }

        Assert.Empty(Items(own));
        Assert.Equal("[]", ownExport);
        Assert.Equal((0, 0, 0), Outcome(ownFilter));
        Assert.Equal($"No message '{id}' in the scopes you administer; nothing was retried.", foreign.GetProperty("detail").GetString());
        Assert.Equal($"No message '{id}' in the scopes you administer; nothing was suppressed.", suppressed.GetProperty("detail").GetString());
        var after = await MessageView.GetAsync(hrAdmin, id);
        Assert.Equal("expired", after.Recipient("secret@example.org").State);
        Assert.Empty(Items(await GetAsync(hrAdmin, "api/v1/suppressions")));
        Assert.DoesNotContain("secret@example.org", sink.Received().SelectMany(m => m.Recipients));
    }

    [Fact]
    public async Task The_cli_lists_exports_retries_and_suppresses_dead_letters_of_the_real_database_and_refuses_bad_input_naming_the_field()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, ShortLife);
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        var id = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "one@example.org", "two@Example.net" }, subject = "=SUM(A1)", text = "Hello." });
        await MessageView.WaitAsync(admin, id, m => m.Recipients.All(r => r.State == "expired"), "expired", TimeSpan.FromSeconds(60));
        sink.Restart();

        var listed = (await OutboxNode.MustAsync(node.Cli, "dead-letters", "list", "--scope", "/hr", "--domain", "EXAMPLE.NET")).Output;
        var csv = (await OutboxNode.MustAsync(node.Cli, "dead-letters", "export", "--state", "expired")).Output;
        var file = Path.Combine(node.Cli.DataDirectory, "dead-letters.json");
        await OutboxNode.MustAsync(node.Cli, "dead-letters", "export", "--format", "json", "--output", file);
        var badDomain = await node.Cli.RunAsync("dead-letters", "list", "--domain", "bad domain");
        var badLimit = await node.Cli.RunAsync("dead-letters", "list", "--limit", "1000000000");
        var retried = (await OutboxNode.MustAsync(node.Cli, "dead-letters", "retry", "--recipient", $"{id}:one@example.org")).Output;
        var again = (await OutboxNode.MustAsync(node.Cli, "dead-letters", "retry", "--recipient", $"{id}:one@example.org")).Output;
        var suppressed = (await OutboxNode.MustAsync(node.Cli, "dead-letters", "suppress", "--all-matching", "--domain", "example.net")).Output;

        var line = Assert.Single(listed.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"{id}  two@Example.net  expired  ", line, StringComparison.Ordinal);
        Assert.Contains("  /hr  =SUM(A1)  450 4.3.0 Error: command failed", line, StringComparison.Ordinal);
        Assert.Equal(3, csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains($"{id},one@example.org,expired,450,450 4.3.0 Error: command failed,", csv, StringComparison.Ordinal);
        Assert.EndsWith(",/hr,'=SUM(A1)\r\n", csv, StringComparison.Ordinal);
        Assert.Equal(2, JsonDocument.Parse(await File.ReadAllTextAsync(file, Ct)).RootElement.GetArrayLength());
        Assert.Equal(1, badDomain.ExitCode);
        Assert.Contains("domain: 'bad domain' is not a domain: write it as example.org.", badDomain.Error, StringComparison.Ordinal);
        Assert.Equal(1, badLimit.ExitCode);
        Assert.Contains("limit: The limit is a number from 1 to 1000.", badLimit.Error, StringComparison.Ordinal);
        Assert.Equal("Retried 1 of 1 selected; skipped 0.", retried.Trim());
        Assert.Equal("Retried 0 of 1 selected; skipped 1.", again.Trim());
        Assert.Equal("Suppressed 1 of 1 selected; skipped 0.", suppressed.Trim());

        var received = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        Assert.Equal(["one@example.org"], received.Recipients);
        var entries = (await OutboxNode.MustAsync(node.Cli, "suppression", "list", "--scope", "/hr")).Output;
        Assert.Contains("two@Example.net  administrator", entries, StringComparison.Ordinal);
        Assert.Contains("(dead letters: suppress selected (message " + id + "))", entries, StringComparison.Ordinal);
        var next = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "two@example.net" }, subject = "Again", text = "Hello." });
        Assert.Equal("suppressed", (await MessageView.WaitAsync(admin, next, m => m.Recipients.All(r => r.State == "suppressed"), "suppressed")).Recipient("two@example.net").State);
    }

    [Fact]
    public async Task Bad_filters_and_selections_are_refused_naming_the_field()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));

        using var domain = await admin.GetAsync(new Uri("api/v1/dead-letters?domain=not%20a%20domain", UriKind.Relative), Ct);
        using var limit = await admin.GetAsync(new Uri("api/v1/dead-letters?limit=1000000000", UriKind.Relative), Ct);
        using var state = await admin.GetAsync(new Uri("api/v1/dead-letters?state=sent", UriKind.Relative), Ct);
        using var huge = await admin.PostAsJsonAsync(
            "api/v1/dead-letters/retry", new { recipients = Enumerable.Range(0, 10_001).Select(i => new { messageId = "m" + i, recipient = $"r{i}@example.org" }) }, Ct);
        using var both = await admin.PostAsJsonAsync("api/v1/dead-letters/suppress", new { recipients = new[] { new { messageId = "m", recipient = "r@example.org" } }, filter = new { } }, Ct);

        Assert.Equal("'not a domain' is not a domain: write it as example.org.", await ErrorAsync(domain, "domain"));
        Assert.Equal("The limit is a number from 1 to 1000.", await ErrorAsync(limit, "limit"));
        Assert.Equal("The state is one or more of expired, bounced, failed, suppressed, complained, comma-separated.", await ErrorAsync(state, "state"));
        Assert.Equal("A selection is at most 10,000 recipients; select fewer, or use a filter.", await ErrorAsync(huge, "recipients"));
        Assert.Equal("Name the recipients to suppress, or a filter that selects them; not both.", await ErrorAsync(both, "recipients"));
    }

    private static async Task<string?> ErrorAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("errors").GetProperty(field)[0].GetString();
    }

    private static JsonElement.ArrayEnumerator Items(JsonElement page) =>
        (page.TryGetProperty("items", out var items) ? items : page.GetProperty("entries")).EnumerateArray();

    private static (int Selected, int Changed, int Skipped) Outcome(JsonElement outcome) =>
        (outcome.GetProperty("selected").GetInt32(), outcome.GetProperty("changed").GetInt32(), outcome.GetProperty("skipped").GetInt32());

    private static async Task<JsonElement> GetAsync(HttpClient http, string path) =>
        JsonDocument.Parse(await http.GetStringAsync(new Uri(path, UriKind.Relative), Ct)).RootElement;

    private static async Task<JsonElement> PostAsync(HttpClient http, string path, object body, HttpStatusCode expected)
    {
        using var response = await http.PostAsJsonAsync(path, body, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement;
    }
}
