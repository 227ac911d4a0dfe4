using System.Net.Http.Json;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>
/// axe-core (Deque's accessibility engine, the one Lighthouse runs) over every console page, in
/// Debian's chromium: each page as an administrator of / sees it with data in it, the new-item
/// forms, a form showing its field errors, and the sign-in page. WCAG 2.1 A and AA rules and axe's
/// best practices; any violation fails with the rule, the element and axe's help text.
/// </summary>
public sealed class AccessibilityTests(ConsoleFixture console)
{
    private static readonly AxeRunOptions Rules = new()
    {
        RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_console_page_has_no_accessibility_violations()
    {
        using (var http = console.Server.Client(console.ApiKey))
        {
            await MustAsync(http.PutAsJsonAsync("api/v1/users/axe-user", new { name = "Axel Example", email = "axel@example.org", timeZone = "Europe/Berlin", language = "de" }, Ct));
            await MustAsync(http.PutAsJsonAsync("api/v1/groups/axe-team", new { name = "Axe team", members = new[] { "user:axe-user" } }, Ct));
            await MustAsync(http.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "group:axe-team", level = "view" }, Ct));
            await MustAsync(http.PutAsJsonAsync("api/v1/subscriptions/axe-sub", new { scope = "/hr", owner = "group:axe-team", name = "HR documents", pathPrefixes = new[] { "/sites/hr" } }, Ct));
            await MustAsync(http.PutAsJsonAsync("api/v1/rules/axe-rule", new { scope = "/hr", name = "Pipeline failures", eventTypes = new[] { "pipeline.failed" }, recipients = new[] { "ops@example.org", "group:axe-team" } }, Ct));
        }

        string[] pages =
        [
            "/", "/settings", "/settings?scope=%2Fhr", "/connections", "/connections/edit?scope=%2F",
            "/queue", "/queue?scope=%2Fdeferring", $"/queue/message?id={console.DeferredMessageId}", "/queue/failed",
            "/rules", "/rules/edit?scope=%2Fhr", "/rules/edit?id=axe-rule", "/subscriptions", "/subscriptions/edit?scope=%2Fhr", "/subscriptions/edit?id=axe-sub",
            "/relay", "/relay/listener", "/users", "/users/edit", "/users/edit?id=axe-user", "/users/import", "/groups", "/groups/edit", "/groups/edit?id=axe-team",
            "/access?scope=%2Fhr", "/me", "/events/explain",
        ];
        var page = await console.SignedInPageAsync();
        var found = new List<string>();
        foreach (var path in pages)
        {
            var response = await page.GotoAsync(path);
            Assert.True(response is { Ok: true }, $"{path}: {response?.Status}");
            found.AddRange(await ViolationsAsync(page, path));
        }

        // A form showing every field's error at once.
        await page.GotoAsync("/users/edit");
        await page.GetByLabel("Id", ConsoleFixture.Exact).FillAsync("not valid!");
        await page.GetByLabel("Email", ConsoleFixture.Exact).FillAsync("not an address");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save user" }).ClickAsync();
        await page.WaitForSelectorAsync(".field-error");
        found.AddRange(await ViolationsAsync(page, "/users/edit (with errors)"));

        var signedOut = await console.NewPageAsync();
        await signedOut.GotoAsync("/signin");
        found.AddRange(await ViolationsAsync(signedOut, "/signin"));
        await signedOut.GotoAsync("/signin/link");
        found.AddRange(await ViolationsAsync(signedOut, "/signin/link"));
        await signedOut.GetByRole(AriaRole.Button, new() { Name = "Email me a link" }).ClickAsync();
        await signedOut.WaitForSelectorAsync(".field-error");
        found.AddRange(await ViolationsAsync(signedOut, "/signin/link (with errors)"));

        Assert.True(found.Count == 0, string.Join("\n", found));
    }

    private static async Task<IEnumerable<string>> ViolationsAsync(IPage page, string path)
    {
        var result = await page.RunAxe(Rules);
        return result.Violations.SelectMany(v => v.Nodes.Select(n => $"{path}: {v.Id} ({v.Impact}) at {string.Join(" ", n.Target.ToString())}: {v.Help}"));
    }

    private static async Task MustAsync(Task<HttpResponseMessage> request)
    {
        using var response = await request;
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {await response.Content.ReadAsStringAsync(Ct)}");
    }
}
