using System.Net.Http.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>
/// Single sign-on in Chromium against a real OpenID Connect provider (the test authorization
/// server, OpenIddict): a directory user signs in, lands on their own alerts and adds a weekly one
/// where they may View, and not where they may not; an administrator mapped by a group claim to
/// /hr reaches /hr's pages and nothing beside them. On a node of its own, with local passwords off.
/// </summary>
public sealed class SingleSignOnTests(ConsoleFixture fixture)
{
    private const string ClientId = "herald-console";
    private const string ClientSecret = "browser single sign-on secret";

    private static readonly TestPerson Pat = new("pat", "pat@example.org", "Pat Person", "staff");
    private static readonly TestPerson Hana = new("hana", "hana@example.org", "Hana HR Admin", "staff", "herald-admins-hr");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Directory_user_and_group_mapped_administrator_sign_in_with_the_provider_and_reach_only_what_is_theirs()
    {
        await using var provider = await AuthorizationServer.StartAsync();
        provider.AddPerson(Pat);
        provider.AddPerson(Hana);
        using var cli = ConsoleFixture.NodeCommandLine();

        foreach (var args in new[]
        {
            new[] { "scope", "add", "/hr" }, ["scope", "add", "/hr2"], ["scope", "add", "/finance"],
            ["user", "add", "pat", "--name", "Pat Person", "--email", "pat@example.org"],
            ["access", "grant", "--scope", "/hr", "--principal", "user:pat", "--level", "view"],
        })
        {
            var ran = await cli.RunAsync(args);
            Assert.True(ran.ExitCode == 0, ran.ToString());
        }

        var key = (await cli.RunAsync("apikey", "create", "--scope", "/", "--role", "admin")).Output.Trim().Split('\n')[^1].Trim();
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, new Dictionary<string, string>(ConsoleFixture.Environment)
        {
            ["HERALD_OpenIdConnect__Enabled"] = "true",
            ["HERALD_OpenIdConnect__Authority"] = provider.Issuer,
            ["HERALD_OpenIdConnect__ClientId"] = ClientId,
            ["HERALD_OpenIdConnect__ClientSecret"] = ClientSecret,
            ["HERALD_OpenIdConnect__DisplayName"] = "Example Corp",
            ["HERALD_OpenIdConnect__AdministratorGroups__0"] = "/hr=herald-admins-hr",
            ["HERALD_OpenIdConnect__LocalPasswords"] = "false",
        });
        await provider.AddOpenIdClientAsync(ClientId, ClientSecret, new Uri(server.BaseAddress, "signin-oidc"));

        // The sign-in page offers the provider only: local passwords are off on this node.
        var page = await fixture.NewPageAsync(server);
        await page.GotoAsync("/signin");
        await Assertions.Expect(page.GetByLabel("Password", ConsoleFixture.Exact)).ToHaveCountAsync(0);
        await ConsoleFixture.ScreenshotAsync(page, "sso-signin");

        await SignInAsync(page, Pat);
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/me");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToBeVisibleAsync();

        // A weekly alert on /hr, where Pat may View.
        var add = page.Locator("#add-alert");
        await add.GetByLabel("Name", new LocatorGetByLabelOptions { Exact = true }).FillAsync("HR weekly");
        await add.GetByLabel("Scope", new LocatorGetByLabelOptions { Exact = true }).SelectOptionAsync("/hr");
        await add.GetByText("Weekly summary").ClickAsync();
        await add.GetByRole(AriaRole.Button, new() { Name = "Add alert" }).ClickAsync();
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync("Added your alert HR weekly");
        await ConsoleFixture.ScreenshotAsync(page, "sso-person-alerts");

        // /finance, where Pat may not View, is not offered; a form that names it anyway is refused.
        await Assertions.Expect(add.Locator("#scope option[value='/finance']")).ToHaveCountAsync(0);
        await add.GetByLabel("Name", new LocatorGetByLabelOptions { Exact = true }).FillAsync("Finance weekly");
        await add.Locator("#scope").EvaluateAsync("select => { const o = document.createElement('option'); o.value = o.text = '/finance'; select.add(o); select.value = '/finance'; }");
        await add.GetByText("Weekly summary").ClickAsync();
        await add.GetByRole(AriaRole.Button, new() { Name = "Add alert" }).ClickAsync();
        await Assertions.Expect(page.Locator("#scope-error")).ToContainTextAsync("has no View permission on /finance");

        using (var http = server.Client(key))
        {
            var stored = await http.GetFromJsonAsync<Subscription[]>(new Uri("api/v1/subscriptions?owner=user:pat", UriKind.Relative), Ct);
            var alert = Assert.Single(stored!);
            Assert.Equal(("HR weekly", "/hr", "weekly"), (alert.Name, alert.Scope, alert.Frequency));
        }

        // An administrator by the group claim: /hr's pages, not /, /finance or the lookalike /hr2.
        var admin = await fixture.NewPageAsync(server);
        await admin.GotoAsync("/signin");
        await SignInAsync(admin, Hana);
        await admin.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/");
        await admin.GotoAsync("/settings?scope=%2Fhr");
        await Assertions.Expect(admin.GetByRole(AriaRole.Heading, new() { Name = "Settings of /hr" })).ToBeVisibleAsync();
        await ConsoleFixture.ScreenshotAsync(admin, "sso-administrator-hr");
        foreach (var outside in new[] { "%2F", "%2Ffinance", "%2Fhr2" })
        {
            var refused = await admin.GotoAsync($"/settings?scope={outside}");
            Assert.Equal(403, refused!.Status);
            await Assertions.Expect(admin.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Not allowed");
        }
    }

    /// <summary>From Herald's sign-in page: the provider's button, its login page, and back.</summary>
    private static async Task SignInAsync(IPage page, TestPerson person)
    {
        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with Example Corp" }).ClickAsync();
        await page.GetByLabel("Account").SelectOptionAsync(person.Subject);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
    }

    private sealed record Subscription(string Name, string Scope, string Frequency);
}
