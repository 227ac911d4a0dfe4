using System.Net.Http.Json;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>The console's Explain page: one event reaching eight candidates for every reason, as
/// an administrator reads it, and "why didn't this person get it?".</summary>
public sealed class ExplainTests(ConsoleFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_explain_page_names_each_candidates_outcome_and_answers_for_one_person()
    {
        using var api = fixture.Server.Client(fixture.ApiKey);
        await EightCandidatesAsync(api);
        using (var posted = await api.PostAsJsonAsync(new Uri("api/v1/events", UriKind.Relative), new
        {
            id = "x-doc-4711", type = "item.changed", scope = "/deliveries", resourcePath = "/docs/policy.docx", actor = "x-dave", title = "Policy 4711",
        }, Ct))
        {
            posted.EnsureSuccessStatusCode();
        }

        await ConsoleFixture.WaitForAsync(async () =>
        {
            using var response = await api.GetAsync(new Uri("api/v1/events/x-doc-4711/explain?scope=%2Fdeliveries", UriKind.Relative), Ct);
            return response.IsSuccessStatusCode;
        });

        var page = await fixture.SignedInPageAsync();
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link, new() { Name = "Explain" }).ClickAsync();
        await page.GetByLabel("Event's scope", ConsoleFixture.Exact).FillAsync("/deliveries");
        await page.GetByLabel("Event id", ConsoleFixture.Exact).FillAsync("x-doc-4711");
        await page.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Event x-doc-4711" })).ToBeVisibleAsync();
        var rows = page.Locator("table.explain-candidates tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(8);
        await Assertions.Expect(Row(page, "x-alice", "mailed")).ToContainTextAsync("Mailed through subscription 'Alice' (x-s-alice): message ");
        await Assertions.Expect(Row(page, "x-bob", "no-view")).ToContainTextAsync("Not mailed: no View on /deliveries (subscription 'Bob' (x-s-bob)).");
        await Assertions.Expect(Row(page, "x-carol", "opted-out")).ToContainTextAsync("Not mailed: opted out of subscription 'Team' (x-s-team).");
        await Assertions.Expect(Row(page, "x-dave", "actor")).ToContainTextAsync("Not mailed: the event's actor, and subscription 'Team' (x-s-team) leaves the actor out.");
        await Assertions.Expect(Row(page, "x-erin", "mailed")).ToContainTextAsync("Mailed through subscription 'Team' (x-s-team)");
        await Assertions.Expect(Row(page, "x-erin@example.org", "already-reached"))
            .ToContainTextAsync("Not mailed again through rule 'Ops' (x-r-ops): already reached through subscription 'Team' (x-s-team).");
        await Assertions.Expect(Row(page, "x-gina", "suppressed")).ToContainTextAsync("is on the suppression list of /deliveries since ");
        await Assertions.Expect(Row(page, "x-hank", "digest")).ToContainTextAsync("Waiting for the daily digest of subscription 'Hank daily' (x-s-hank), window ending ");
        await ConsoleFixture.ScreenshotAsync(page, "explain-event");

        // "Why didn't carol get it?"
        await page.GetByLabel("Person (user id or address)", ConsoleFixture.Exact).FillAsync("x-carol@example.org");
        await page.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync("Not mailed: opted out of subscription 'Team' (x-s-team).");

        // A mailed candidate leads to the message's delivery history.
        await page.GetByLabel("Person (user id or address)", ConsoleFixture.Exact).FillAsync("x-alice");
        await page.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();
        await rows.First.GetByRole(AriaRole.Link, new() { Name = "delivery history" }).ClickAsync();
        await Assertions.Expect(page.GetByText("x-alice@example.org").First).ToBeVisibleAsync();
        Assert.Contains("/queue/message?id=", page.Url, StringComparison.Ordinal);
    }

    private static ILocator Row(IPage page, string who, string outcome) =>
        page.Locator("table.explain-candidates tbody tr")
            .Filter(new() { Has = page.Locator("td[data-label=Recipient]", new() { HasTextRegex = new System.Text.RegularExpressions.Regex($"(^|\\s){System.Text.RegularExpressions.Regex.Escape(who)}(\\s|$)") }) })
            .Filter(new() { Has = page.Locator("td[data-label=Outcome]", new() { HasText = outcome }) });

    private static async Task EightCandidatesAsync(HttpClient api)
    {
        string[] people = ["x-alice", "x-bob", "x-carol", "x-dave", "x-erin", "x-gina", "x-hank"];
        await MustAsync(api.PostAsJsonAsync(new Uri("api/v1/directory/import", UriKind.Relative), new
        {
            users = people.Select(id => new { id, name = id, email = $"{id}@example.org", timeZone = "UTC", language = "en" }),
            groups = new[] { new { id = "x-team", name = "Team", delivery = "members", members = new[] { "user:x-carol", "user:x-dave", "user:x-erin", "user:x-gina" } } },
        }, Ct));
        foreach (var principal in new[] { "user:x-alice", "user:x-bob", "group:x-team", "user:x-hank" })
        {
            await MustAsync(api.PutAsJsonAsync(new Uri("api/v1/access", UriKind.Relative), new { scope = "/deliveries", principal, level = "view" }, Ct));
        }

        foreach (var subscription in new object[]
        {
            new { id = "x-s-alice", scope = "/deliveries", owner = "user:x-alice", name = "Alice" },
            new { id = "x-s-bob", scope = "/deliveries", owner = "user:x-bob", name = "Bob" },
            new { id = "x-s-team", scope = "/deliveries", owner = "group:x-team", name = "Team", excludeActor = true },
            new { id = "x-s-hank", scope = "/deliveries", owner = "user:x-hank", name = "Hank daily", frequency = "daily", at = "08:00" },
        })
        {
            await MustAsync(api.PostAsJsonAsync(new Uri("api/v1/subscriptions", UriKind.Relative), subscription, Ct));
        }

        // Bob subscribed while he could see the scope, and has lost View since.
        await MustAsync(api.DeleteAsync(new Uri("api/v1/access?scope=%2Fdeliveries&principal=user:x-bob", UriKind.Relative), Ct));
        await MustAsync(api.PostAsJsonAsync(new Uri("api/v1/rules", UriKind.Relative), new { id = "x-r-ops", scope = "/deliveries", name = "Ops", recipients = new[] { "x-erin@example.org" } }, Ct));
        await MustAsync(api.PutAsync(new Uri("api/v1/subscriptions/x-s-team/opt-outs/x-carol", UriKind.Relative), null, Ct));
        await MustAsync(api.PostAsJsonAsync(new Uri("api/v1/suppressions", UriKind.Relative), new { scope = "/deliveries", address = "x-gina@example.org", reason = "hard-bounce", source = "DSN" }, Ct));
    }

    private static async Task MustAsync(Task<HttpResponseMessage> request)
    {
        using var response = await request;
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Ct)}");
    }
}
