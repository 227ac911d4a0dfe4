using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Observability;
using Herald.IntegrationTests.Outbox;
using Herald.IntegrationTests.Relay;
using Herald.Testing;
using MailKit.Net.Smtp;
using MimeKit;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Suppression;

/// <summary>
/// The suppression lists as producers and administrators meet them: a real <c>herald serve</c>,
/// Postfix's smtp-sink as the smart host, and what the sink's envelopes say was offered to it.
/// </summary>
public sealed partial class SuppressionEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_suppressed_address_submitted_through_the_api_beside_a_normal_one_is_never_offered_to_the_smart_host()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, null, cli => OutboxNode.MustAsync(cli, "scope", "add", "/hr/payroll"));
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var rootAdmin = node.Server.Client(await node.KeyAsync("/", "admin"));
        var entry = await AddAsync(hrAdmin, new { scope = "/hr", address = "gone@example.org", reason = "hard-bounce", source = "DSN from mailbox bounces@example.org" });

        // Into /hr/payroll (below the entry's scope), the domain written in capitals.
        var mixed = await OutboxNode.SendAsync(hrAdmin, new { scope = "/hr/payroll", to = new[] { "ok@example.org", "gone@EXAMPLE.org" }, subject = "Payslips", text = "Hello." });
        var onlySuppressed = await OutboxNode.SendAsync(hrAdmin, new { scope = "/hr", to = new[] { "gone@example.org" }, subject = "Nobody", text = "Hello." });
        // /finance is no scope below /hr: the entry does not hold there.
        var finance = await OutboxNode.SendAsync(rootAdmin, new { scope = "/finance", to = new[] { "gone@example.org" }, subject = "Invoice", text = "Hello." });

        var received = await sink.WaitForAsync(2, TimeSpan.FromSeconds(60));
        var details = await OutboxNode.WaitForAsync(hrAdmin, mixed, state => state is "sent" or "suppressed");
        var finished = await OutboxNode.WaitForAsync(hrAdmin, onlySuppressed, state => state == "suppressed", TimeSpan.FromSeconds(5));
        await OutboxNode.WaitForAsync(rootAdmin, finance, state => state == "sent");

        Assert.Equal(
            ["Invoice: gone@example.org", "Payslips: ok@example.org"],
            received.Select(m => $"{m.ToMimeMessage().Subject}: {string.Join(' ', m.Recipients)}").Order(StringComparer.Ordinal));
        var recipients = OutboxNode.Recipients(details).ToDictionary(r => r.GetProperty("address").GetString()!, r => r);
        Assert.Equal("sent", recipients["ok@example.org"].GetProperty("state").GetString());
        var suppressed = recipients["gone@EXAMPLE.org"];
        Assert.Equal("suppressed", suppressed.GetProperty("state").GetString());
        Assert.Equal(0, suppressed.GetProperty("attempts").GetInt32());
        Assert.Equal(
            $"Suppressed: gone@EXAMPLE.org is on the suppression list of /hr since {entry.GetProperty("createdAt").GetDateTimeOffset().UtcDateTime:yyyy-MM-dd HH:mm} UTC (hard-bounce, source DSN from mailbox bounces@example.org; entry {entry.GetProperty("id").GetString()}).",
            suppressed.GetProperty("lastReply").GetString());
        Assert.Empty(finished.GetProperty("attempts").EnumerateArray());
        Assert.Equal(2, sink.Received().Sum(m => m.Recipients.Count));

        var samples = Sample.Parse(await rootAdmin.GetStringAsync(new Uri("metrics", UriKind.Relative), Ct));
        Assert.Contains(samples, s => s is { Name: "herald_recipients_total", Value: 2 } && s.Labels["state"] == "suppressed");

        // Removed: the address gets mail again.
        using (var removed = await hrAdmin.DeleteAsync(new Uri($"api/v1/suppressions/{entry.GetProperty("id").GetString()}", UriKind.Relative), Ct))
        {
            await MustAsync(removed, HttpStatusCode.OK);
        }

        var again = await OutboxNode.SendAsync(hrAdmin, new { scope = "/hr", to = new[] { "gone@example.org" }, subject = "Welcome back", text = "Hello." });
        await OutboxNode.WaitForAsync(hrAdmin, again, state => state == "sent");
        Assert.Contains(await sink.WaitForAsync(3, TimeSpan.FromSeconds(60)), m => m.Recipients.SequenceEqual(["gone@example.org"]));
    }

    [Fact]
    public async Task Another_scopes_administrator_key_is_refused_through_the_api_and_changes_nothing()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, null, cli => OutboxNode.MustAsync(cli, "scope", "add", "/hr2"));
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var hr2Admin = node.Server.Client(await node.KeyAsync("/hr2", "admin"));
        var entry = await AddAsync(hrAdmin, new { scope = "/hr", address = "kept@example.org", reason = "administrator" });
        var id = entry.GetProperty("id").GetString();

        using var add = await hr2Admin.PostAsJsonAsync("api/v1/suppressions", new { scope = "/hr", address = "other@example.org", reason = "administrator" }, Ct);
        using var list = await hr2Admin.GetAsync(new Uri("api/v1/suppressions?scope=%2Fhr", UriKind.Relative), Ct);
        using var export = await hr2Admin.GetAsync(new Uri("api/v1/suppressions/export?scope=%2Fhr&format=csv", UriKind.Relative), Ct);
        using var remove = await hr2Admin.DeleteAsync(new Uri($"api/v1/suppressions/{id}", UriKind.Relative), Ct);
        using var huge = await hrAdmin.PostAsJsonAsync("api/v1/suppressions", new { scope = "/hr", address = new string('x', 10_000) + "@example.org", reason = "bounced" }, Ct);

        Assert.Equal(
            [HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.NotFound, HttpStatusCode.UnprocessableEntity],
            new[] { add.StatusCode, list.StatusCode, export.StatusCode, remove.StatusCode, huge.StatusCode });
        Assert.DoesNotContain("kept@example.org", await list.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        var problem = JsonDocument.Parse(await huge.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("errors");
        Assert.Equal("An email address is at most 254 characters.", problem.GetProperty("address")[0].GetString());
        Assert.Equal("The reason is one of hard-bounce, complaint, unsubscribe-all, administrator.", problem.GetProperty("reason")[0].GetString());
        using (var above = await hrAdmin.GetAsync(new Uri("api/v1/suppressions?scope=%2F", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.Forbidden, above.StatusCode);
        }

        var mine = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/suppressions", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["kept@example.org"], mine.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("address").GetString()));
    }

    [Fact]
    public async Task Mail_relayed_to_a_suppressed_address_is_accepted_but_only_the_other_recipient_reaches_the_smart_host()
    {
        using var sink = SmtpSink.Start();
        await using var node = new RelayNode();
        await node.UseSinkAsync(sink);
        await node.MustAsync("relay", "set", "--listen", node.Listen, "--scope", "/", "--allow", "127.0.0.1/32");
        var added = await node.MustAsync("suppression", "add", "Gone@Example.org", "--reason", "hard-bounce", "--source", "DSN from mailbox bounces@example.org");
        Assert.StartsWith("Suppressed: ", added, StringComparison.Ordinal);
        await node.StartServeAsync();

        using (var client = new SmtpClient())
        {
            await client.ConnectAsync("127.0.0.1", node.RelayPort, MailKit.Security.SecureSocketOptions.None, Ct);
            var message = new MimeMessage { Subject = "Relayed", Body = new TextPart("plain") { Text = "Hello." } };
            message.From.Add(MailboxAddress.Parse("app@example.org"));
            message.To.Add(MailboxAddress.Parse("ok@example.org"));
            message.To.Add(MailboxAddress.Parse("Gone@EXAMPLE.ORG"));
            await client.SendAsync(message, Ct);
            await client.DisconnectAsync(true, Ct);
        }

        var received = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        Assert.Equal(["ok@example.org"], received.Recipients);
        var listed = await node.MustAsync("queue", "list", "--state", "suppressed");
        var id = Assert.Single(listed.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Split(' ')[0];
        var shown = await node.MustAsync("queue", "show", id);
        Assert.Contains("Gone@EXAMPLE.ORG: suppressed after 0 attempt(s): Suppressed: Gone@EXAMPLE.ORG is on the suppression list of / since ", shown, StringComparison.Ordinal);
        Assert.Contains("(hard-bounce, source DSN from mailbox bounces@example.org; entry ", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cli_lists_exports_and_removes_entries_and_refuses_bad_input_naming_the_field()
    {
        using var cli = new HeraldCommandLine();
        await OutboxNode.MustAsync(cli, "scope", "add", "/hr");
        await OutboxNode.MustAsync(cli, "suppression", "add", "a@example.org", "--scope", "/hr", "--expires", "30d");
        await OutboxNode.MustAsync(cli, "suppression", "add", "=b@example.org", "--scope", "/", "--reason", "complaint", "--source", "+ticket, \"4711\"");

        var listed = (await OutboxNode.MustAsync(cli, "suppression", "list", "--scope", "/hr")).Output;
        var csv = (await OutboxNode.MustAsync(cli, "suppression", "export", "--format", "csv")).Output;
        var file = Path.Combine(cli.DataDirectory, "export.json");
        await OutboxNode.MustAsync(cli, "suppression", "export", "--format", "json", "--output", file);
        var bad = await cli.RunAsync("suppression", "add", "not an address", "--reason", "sometimes");
        var foreign = await cli.RunAsync("suppression", "remove", "0123456789abcdef");

        var line = Assert.Single(listed.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^[0-9a-f]{32}  /hr +a@example\.org  administrator  since \d{4}-\d\d-\d\d \d\d:\d\d until \d{4}-\d\d-\d\d \d\d:\d\d  by the local operator  \(the local operator\)$", line.TrimEnd());
        Assert.Contains(",'=b@example.org,complaint,\"'+ticket, \"\"4711\"\"\",", csv, StringComparison.Ordinal);
        Assert.Equal(2, JsonDocument.Parse(await File.ReadAllTextAsync(file, Ct)).RootElement.GetArrayLength());
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("address: 'not an address' is not an email address", bad.Error, StringComparison.Ordinal);
        Assert.Contains("reason: The reason is one of hard-bounce, complaint, unsubscribe-all, administrator.", bad.Error, StringComparison.Ordinal);
        Assert.Equal(1, foreign.ExitCode);
        Assert.Contains("No suppression entry '0123456789abcdef' in the scopes you administer.", foreign.Error, StringComparison.Ordinal);

        var removed = await OutboxNode.MustAsync(cli, "suppression", "remove", line[..32]);
        Assert.StartsWith("Removed: ", removed.Output, StringComparison.Ordinal);
        Assert.Empty((await OutboxNode.MustAsync(cli, "suppression", "list", "--scope", "/hr")).Output.Trim());
    }

    [Fact]
    public async Task A_notification_to_a_suppressed_address_is_not_sent_and_unsubscribe_from_everything_suppresses_the_next_one()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        await AddAsync(admin, new { scope = "/", address = "carol@example.org", reason = "complaint", source = "ARF report" });
        await MustAsync(await admin.PostAsJsonAsync("api/v1/rules", new
        {
            id = "builds", scope = "/hr", name = "Failed builds", eventTypes = new[] { "pipeline.failed" },
            recipients = new[] { "alice@example.org", "bob@example.org", "carol@example.org" },
        }, Ct), HttpStatusCode.Created);

        await PostEventAsync(admin, "build-1");
        var first = await sink.WaitForAsync(2, TimeSpan.FromSeconds(60));
        Assert.Equal(["alice@example.org", "bob@example.org"], first.Select(m => Assert.Single(m.Recipients)).Order(StringComparer.Ordinal));
        var carol = await SuppressedAsync(admin, "carol@example.org");
        Assert.Contains("is on the suppression list of / since ", carol, StringComparison.Ordinal);
        Assert.Contains("(complaint, source ARF report; entry ", carol, StringComparison.Ordinal);

        // Alice opens her unsubscribe link in a browser and chooses the second button.
        var mail = first.Single(m => m.Recipients.Contains("alice@example.org")).ToMimeMessage();
        var link = new Uri((mail.Headers["List-Unsubscribe"] ?? "").Trim('<', '>'));
        using var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() });
        var page = await browser.GetStringAsync(link, Ct);
        Assert.Contains("Or stop every email from /hr to <b>alice@example.org</b>", page, StringComparison.Ordinal);
        var form = EverythingForm().Match(page);
        Assert.True(form.Success, page);
        Assert.Equal(link.AbsolutePath + "/all", WebUtility.HtmlDecode(form.Groups["action"].Value));

        // Without the page's anti-forgery token (a scanner, or a forged form elsewhere): nothing.
        using (var anonymous = new HttpClient())
        using (var forged = await anonymous.PostAsync(new Uri(link.AbsoluteUri + "/all"), new FormUrlEncodedContent([]), Ct))
        {
            Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        }

        Assert.Empty(JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v1/suppressions?reason=unsubscribe-all", UriKind.Relative), Ct)).RootElement.GetProperty("entries").EnumerateArray());
        using (var confirmed = await browser.PostAsync(
            new Uri(link, WebUtility.HtmlDecode(form.Groups["action"].Value)),
            new FormUrlEncodedContent([new(form.Groups["name"].Value, WebUtility.HtmlDecode(form.Groups["token"].Value))]),
            Ct))
        {
            Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
            Assert.Contains("Done: no more emails from /hr to <b>alice@example.org</b>", await confirmed.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        var entry = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v1/suppressions?reason=unsubscribe-all", UriKind.Relative), Ct)).RootElement.GetProperty("entries").EnumerateArray().Single();
        Assert.Equal(("/hr", "alice@example.org", "unsubscribe link"), (entry.GetProperty("scope").GetString(), entry.GetProperty("address").GetString(), entry.GetProperty("source").GetString()));

        await PostEventAsync(admin, "build-2");
        var both = await sink.WaitForAsync(3, TimeSpan.FromSeconds(60));
        Assert.Equal(["bob@example.org"], both[2].Recipients);
        Assert.Contains("is on the suppression list of /hr since ", await SuppressedAsync(admin, "alice@example.org"), StringComparison.Ordinal);
        Assert.Single(sink.Received(), m => m.Recipients.Contains("alice@example.org"));
    }

    private static async Task<string> SuppressedAsync(HttpClient admin, string address)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var messages = JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v1/messages?scope=%2F&state=suppressed&recipient={Uri.EscapeDataString(address)}", UriKind.Relative), Ct)).RootElement;
            if (messages.GetArrayLength() > 0)
            {
                return messages[0].GetProperty("recipients").EnumerateArray().Single(r => r.GetProperty("address").GetString() == address).GetProperty("lastReply").GetString()!;
            }

            Assert.True(DateTime.UtcNow < deadline, $"No suppressed message to {address}.");
            await Task.Delay(100, Ct);
        }
    }

    private static async Task PostEventAsync(HttpClient producer, string id) =>
        await MustAsync(await producer.PostAsJsonAsync("api/v1/events", new { id, type = "pipeline.failed", scope = "/hr", resourcePath = "/builds/" + id, title = "Build " + id }, Ct), HttpStatusCode.Accepted);

    private static async Task<JsonElement> AddAsync(HttpClient admin, object entry) =>
        JsonDocument.Parse(await MustAsync(await admin.PostAsJsonAsync("api/v1/suppressions", entry, Ct), HttpStatusCode.Created)).RootElement;

    [GeneratedRegex("""<form method="post" action="(?<action>[^"]+/all)"><input type="hidden" name="(?<name>[^"]+)" value="(?<token>[^"]+)">""")]
    private static partial Regex EverythingForm();
}
