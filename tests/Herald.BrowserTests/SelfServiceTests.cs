using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>
/// A directory user's own page, reached as they reach it: from the "Manage your alerts" link of
/// a real notification and from an emailed sign-in link, both read from what reached smtp-sink,
/// followed in Chromium. On a node of its own, whose <c>/</c> sends to its own sink.
/// </summary>
public sealed partial class SelfServiceTests(ConsoleFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_person_follows_the_links_of_real_mail_adds_a_weekly_alert_and_opts_out_of_a_groups_and_a_used_link_opens_nothing()
    {
        using var sink = SmtpSink.Start();
        using var cli = ConsoleFixture.NodeCommandLine();

        var port = sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", port, "--security", "none", "--from", "herald@example.org");
        await MustAsync(cli, "scope", "add", "/hr");
        await MustAsync(cli, "user", "add", "nora", "--name", "Nora Quist", "--email", "nora@example.org", "--time-zone", "Europe/Oslo");
        await MustAsync(cli, "group", "add", "hr-news", "--name", "HR news", "--member", "user:nora");
        await MustAsync(cli, "access", "grant", "--scope", "/hr", "--principal", "group:hr-news", "--level", "view");
        await MustAsync(cli, "subscription", "add", "--id", "hr-weekly", "--scope", "/hr", "--owner", "group:hr-news", "--name", "HR news digest",
            "--frequency", "weekly", "--at", "09:00", "--day", "monday");
        await MustAsync(cli, "subscription", "add", "--id", "nora-docs", "--scope", "/hr", "--owner", "user:nora", "--name", "HR documents");
        var key = (await cli.RunAsync("apikey", "create", "--scope", "/", "--role", "admin")).Output.Trim().Split('\n')[^1].Trim();
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, ConsoleFixture.Environment);
        using (var http = server.Client(key))
        {
            using var posted = await http.PostAsJsonAsync(new Uri("api/v1/events", UriKind.Relative),
                new { id = "pol-1", type = "item.changed", scope = "/hr", resourcePath = "/policies/travel.docx", title = "Travel policy.docx" }, Ct);
            posted.EnsureSuccessStatusCode();
        }

        var notification = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60))).ToMimeMessage();
        var manage = Link(notification.TextBody, "/me/manage/");

        // The link opens the page read-only: nothing to change until Nora continues.
        var page = await fixture.NewPageAsync(server);
        await page.GotoAsync(manage);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Your alerts", Exact = true })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("HR documents");
        await ConsoleFixture.ScreenshotAsync(page, "self-service-manage-link");
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue as Nora Quist" }).ClickAsync();
        await page.WaitForURLAsync(url => url.EndsWith("/me", StringComparison.Ordinal));
        await Assertions.Expect(page.Locator(".page-head")).ToContainTextAsync("Nora Quist");
        // The weekly digest of her group holds the event so far.
        await Assertions.Expect(page.Locator(".digest-preview")).ToContainTextAsync("HR news digest");
        await Assertions.Expect(page.Locator(".digest-preview")).ToContainTextAsync("Travel policy.docx");

        var add = page.Locator("#add-alert");
        await add.GetByLabel("Name", new() { Exact = true }).FillAsync("Weekly policies");
        await add.GetByRole(AriaRole.Checkbox, new() { Name = "item.added" }).CheckAsync();
        await add.GetByRole(AriaRole.Radio, new() { Name = "Weekly summary" }).CheckAsync();
        await add.GetByLabel("Summary time", new() { Exact = true }).FillAsync("08:30");
        await add.GetByLabel("Weekly on", new() { Exact = true }).SelectOptionAsync("friday");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add alert" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Added your alert Weekly policies");
        Assert.Matches(@"scope /hr  owner user:nora  types: item\.added  paths: any  weekly at 08:30 on friday", (await cli.RunAsync("subscription", "list", "--owner", "user:nora")).Output);

        await page.GetByRole(AriaRole.Button, new() { Name = "Opt out of HR news digest" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("You no longer receive HR news digest");
        await page.GotoAsync("/me");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "HR news digest" })).ToContainTextAsync("opted out");
        // Opted out: the group's digest is no longer on its way to her; her own weekly one is.
        await Assertions.Expect(page.Locator(".digest-preview").Filter(new() { HasText = "HR news digest" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator(".digest-preview").Filter(new() { HasText = "Weekly policies" })).ToHaveCountAsync(1);
        await ConsoleFixture.ScreenshotAsync(page, "self-service");

        // An administrator's page is not hers.
        var refused = await page.GotoAsync("/queue");
        Assert.Equal(403, refused!.Status);

        // The emailed link, asked for from the sign-in page of another browser.
        var other = await fixture.NewPageAsync(server);
        await other.GotoAsync("/signin");
        await other.GetByRole(AriaRole.Link, new() { Name = "Email me a sign-in link" }).ClickAsync();
        await other.GetByLabel("Email address", ConsoleFixture.Exact).FillAsync("nora@example.org");
        await ConsoleFixture.ScreenshotAsync(other, "self-service-sign-in-link");
        await other.GetByRole(AriaRole.Button, new() { Name = "Email me a link" }).ClickAsync();
        await Assertions.Expect(other.GetByRole(AriaRole.Status)).ToContainTextAsync("a sign-in link is on its way");
        var mails = await sink.WaitForAsync(2, TimeSpan.FromSeconds(60));
        var signIn = mails.Select(m => m.ToMimeMessage()).Single(m => m.Subject == "Your Herald sign-in link");
        var link = Link(signIn.TextBody, "/signin/link/");
        await other.GotoAsync(link);
        await other.GetByRole(AriaRole.Button, new() { Name = "Continue as Nora Quist" }).ClickAsync();
        await other.WaitForURLAsync(url => url.EndsWith("/me", StringComparison.Ordinal));
        await Assertions.Expect(other.GetByRole(AriaRole.Button, new() { Name = "Pause Weekly policies" })).ToBeVisibleAsync();

        // Used once: the same link in a third browser opens nothing.
        var third = await fixture.NewPageAsync(server);
        var gone = await third.GotoAsync(link);
        Assert.Equal(410, gone!.Status);
        await Assertions.Expect(third.GetByRole(AriaRole.Heading, new() { Name = "This link no longer works" })).ToBeVisibleAsync();
    }

    private static string Link(string? text, string path)
    {
        var match = Regex.Match(text ?? "", @"https?://[^\s/]+" + Regex.Escape(path) + @"\S+");
        Assert.True(match.Success, $"No link to {path} in:\n{text}");
        return match.Value;
    }

    private static async Task MustAsync(HeraldCommandLine cli, params string[] args)
    {
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"herald {string.Join(' ', args)}: {result}");
    }
}
