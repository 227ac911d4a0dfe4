using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Regressions;

/// <summary>
/// Issue 13, findings 6 and 7, as an attacker meets them: a real <c>herald serve</c>, its API
/// with the keys of two scopes, its console signed in as a look-alike scope's administrator, and
/// what reached smtp-sink. Written only against the API, console and CLI as they were before the
/// fix (the file compiles and fails on 2728b51).
/// </summary>
public sealed partial class ScopeIsolationDoorTests
{
    private const string Password = "eu west's long password";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_hr_sender_posting_another_scopes_event_id_first_neither_suppresses_its_notification_nor_learns_that_it_exists()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        using var hrSender = node.Server.Client(await node.KeyAsync("/hr", "sender"));
        using var financeSender = node.Server.Client(await node.KeyAsync("/finance", "sender"));
        await MustAsync(await root.PutAsJsonAsync("api/v1/users/carol", new { name = "Carol", email = "carol@finance.example.org" }, Ct));
        await MustAsync(await root.PutAsJsonAsync("api/v1/users/harry", new { name = "Harry", email = "harry@hr.example.org" }, Ct));
        await MustAsync(await root.PutAsJsonAsync("api/v1/access", new { scope = "/finance", principal = "user:carol", level = "view" }, Ct));
        await MustAsync(await root.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:harry", level = "view" }, Ct));
        await MustAsync(await root.PostAsJsonAsync("api/v1/subscriptions", new { id = "carol-all", scope = "/finance", owner = "user:carol" }, Ct));
        await MustAsync(await root.PostAsJsonAsync("api/v1/subscriptions", new { id = "harry-all", scope = "/hr", owner = "user:harry" }, Ct));

        // /hr's sender takes the id first; /finance's event with that id comes second.
        var hrFirst = await PostEventAsync(hrSender, "/hr", "doc-4711", "HR planning");
        var finance = await PostEventAsync(financeSender, "/finance", "doc-4711", "Quarterly figures");
        // And the other way round: /hr posts an id /finance used first, and learns nothing.
        var financeFirst = await PostEventAsync(financeSender, "/finance", "inv-99", "Invoice run");
        var hrSecond = await PostEventAsync(hrSender, "/hr", "inv-99", "Onboarding");

        Assert.Equal([false, false, false, false], new[] { hrFirst, finance, financeFirst, hrSecond });
        var mails = await sink.WaitForAsync(4, TimeSpan.FromSeconds(60));
        Assert.Equal(
            ["carol@finance.example.org Invoice run", "carol@finance.example.org Quarterly figures", "harry@hr.example.org HR planning", "harry@hr.example.org Onboarding"],
            mails.Select(m => $"{m.Recipients[0]} {Title(m)}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_administrator_of_eu_west_sees_neither_the_subscriptions_nor_the_rules_of_eu_minus_west_in_the_console()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        await OutboxNode.MustAsync(node.Cli, "scope", "add", "/eu_west");
        await OutboxNode.MustAsync(node.Cli, "scope", "add", "/eu-west");
        await OutboxNode.MustAsync(node.Cli, "scope", "add", "/eu-west/payroll");
        var created = await node.Cli.RunWithInputAsync(Password + "\n", "admin", "create", "--name", "westie", "--scope", "/eu_west");
        Assert.True(created.ExitCode == 0, created.ToString());
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        await MustAsync(await root.PutAsJsonAsync("api/v1/users/dora", new { name = "Dora", email = "dora@example.org" }, Ct));
        await MustAsync(await root.PutAsJsonAsync("api/v1/access", new { scope = "/", principal = "user:dora", level = "view" }, Ct));
        await MustAsync(await root.PostAsJsonAsync("api/v1/subscriptions", new { id = "west-alert", scope = "/eu_west", owner = "user:dora", name = "Underscore west alert" }, Ct));
        await MustAsync(await root.PostAsJsonAsync("api/v1/subscriptions", new { id = "east-secret", scope = "/eu-west/payroll", owner = "user:dora", name = "Hyphen west secret alert" }, Ct));
        await MustAsync(await root.PostAsJsonAsync("api/v1/rules", new { id = "west-rule", scope = "/eu_west", name = "Underscore west rule", recipients = new[] { "ops@west.example.org" } }, Ct));
        await MustAsync(await root.PostAsJsonAsync("api/v1/rules", new { id = "east-rule", scope = "/eu-west/payroll", name = "Hyphen west payroll rule", recipients = new[] { "cfo@east.example.org" } }, Ct));

        using var browser = await SignInAsync(node.Server, "westie");
        var subscriptions = await PageAsync(browser, "/subscriptions?scope=/eu_west");
        var rules = await PageAsync(browser, "/rules?scope=/eu_west");

        Assert.Contains("Underscore west alert", subscriptions, StringComparison.Ordinal);
        Assert.DoesNotContain("Hyphen west secret alert", subscriptions, StringComparison.Ordinal);
        Assert.Contains("Underscore west rule", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("Hyphen west payroll rule", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("cfo@east.example.org", rules, StringComparison.Ordinal);
    }

    private static async Task<bool> PostEventAsync(HttpClient sender, string scope, string id, string title)
    {
        using var response = await sender.PostAsJsonAsync("api/v1/events", new { id, type = "item.changed", scope, title, resourcePath = "/docs/" + id }, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {body}");
        var reply = JsonDocument.Parse(body).RootElement;
        Assert.Equal(reply.GetProperty("events")[0].GetProperty("duplicate").GetBoolean(), reply.GetProperty("duplicates").GetArrayLength() == 1);
        return reply.GetProperty("events")[0].GetProperty("duplicate").GetBoolean();
    }

    private static string Title(SinkMessage message)
    {
        var subject = message.ToMimeMessage().Subject ?? "";
        return subject[(subject.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }

    private static async Task MustAsync(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Ct)}");
        }
    }

    private static async Task<HttpClient> SignInAsync(HeraldServer server, string name)
    {
        var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };
        var page = await browser.GetStringAsync(new Uri("/signin", UriKind.Relative), Ct);
        using var signedIn = await browser.PostAsync(new Uri("/signin", UriKind.Relative), Form(page, ("name", name), ("password", Password), ("returnUrl", "/")), Ct);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        return browser;
    }

    private static async Task<string> PageAsync(HttpClient browser, string path)
    {
        using var response = await browser.GetAsync(new Uri(path, UriKind.Relative), Ct);
        var page = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}\n{page}");
        return WebUtility.HtmlDecode(page);
    }

    private static FormUrlEncodedContent Form(string page, params (string Name, string Value)[] fields)
    {
        var token = AntiforgeryToken().Match(page);
        Assert.True(token.Success, "The page has no anti-forgery token:\n" + page);
        return new FormUrlEncodedContent([new("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value)), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
    }

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
