using System.Net;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>Who gets in: the one-time set-up link, signed-out visitors, scope administrators
/// outside their scope (on pages and on form posts), lock-out, and the API staying key-only.</summary>
public sealed partial class AccessTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task The_set_up_link_in_the_log_creates_the_first_administrator_and_then_stops_working()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("herald-setup-").FullName;
        await using var server = await HeraldServer.StartAsync(dataDirectory, ConsoleFixture.Environment);
        await server.WaitForOutputAsync("/setup?token=", TimeSpan.FromSeconds(30));
        var link = new Uri(SetupLink().Match(server.Output).Value);

        var page = await fixture.NewPageAsync(server);
        await page.GotoAsync("/signin");
        await Assertions.Expect(page.Locator(".alert-info")).ToContainTextAsync("No administrator exists yet");
        await ConsoleFixture.ScreenshotAsync(page, "signin");
        await page.GotoAsync(link.PathAndQuery);
        await ConsoleFixture.ScreenshotAsync(page, "setup");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("first-admin");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync("short");
        await page.GetByLabel("Password again", ConsoleFixture.Exact).FillAsync("short");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create administrator and sign in" }).ClickAsync();
        await Assertions.Expect(page.Locator("#password-error")).ToContainTextAsync("10 to 1024 characters");

        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByLabel("Password again", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create administrator and sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator(".who-name")).ToHaveTextAsync("first-admin");

        var again = await (await fixture.NewPageAsync(server)).GotoAsync(link.PathAndQuery);
        Assert.Equal(404, again!.Status);
        Assert.Contains("This set-up link does not work", await again.TextAsync(), StringComparison.Ordinal);
        using var cli = new Herald.Testing.HeraldCommandLine(dataDirectory);
        Assert.Matches(@"^first-admin\s+/\s", (await cli.RunAsync("admin", "list")).Output);
    }

    [Fact]
    public async Task A_signed_out_visitor_is_sent_to_sign_in_and_a_form_post_changes_nothing()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/queue?state=deferred");
        Assert.Equal("/signin", new Uri(page.Url).AbsolutePath);
        Assert.Contains("ReturnUrl=%2Fqueue", page.Url, StringComparison.Ordinal);

        var post = await page.APIRequest.PostAsync("/settings?handler=save&scope=%2Ffinance", new APIRequestContextOptions
        {
            Form = page.APIRequest.CreateFormData().Set("from", "intruder@example.org"),
            MaxRedirects = 0,
        });
        Assert.Equal(302, post.Status);
        Assert.Contains("/signin", post.Headers["location"], StringComparison.Ordinal);
        Assert.DoesNotContain("intruder@example.org", (await fixture.CliAsync("smtp", "show", "--scope", "/finance")), StringComparison.Ordinal);

        // Signed in, the browser's cookie still does not open the API: only keys do.
        var signedIn = await fixture.SignedInPageAsync();
        Assert.Equal(401, (await signedIn.APIRequest.GetAsync("/api/v1/messages")).Status);
        using var http = fixture.Server.Client(fixture.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("api/v1/messages", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task A_scope_administrator_is_refused_other_scopes_on_pages_and_on_form_posts()
    {
        var page = await fixture.SignedInPageAsync(ConsoleFixture.FinanceAdmin);
        await page.GotoAsync("/settings");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Settings of /finance" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator(".tree a")).ToHaveTextAsync(["/finance"]);
        await ConsoleFixture.ScreenshotAsync(page, "settings-scope-admin");

        // A connection of / that /finance may use but not change (created here: no other test's order matters).
        await fixture.CliAsync("smtp", "connection", "set", "root-upstream", "--scope", "/", "--server", "127.0.0.1", "--security", "none");
        foreach (var path in new[] { "/settings?scope=%2Fhr", "/settings?scope=%2F", "/connections/edit?scope=%2F&name=root-upstream", "/queue?scope=%2Fhr" })
        {
            var response = await page.GotoAsync(path);
            Assert.True(response!.Status == 403, $"{path} answered {response.Status}");
            Assert.Contains("Not allowed", await response.TextAsync(), StringComparison.Ordinal);
        }

        // A message is named by its id alone: one of a scope this administrator cannot see answers
        // as one that does not exist, and shows nothing of it.
        var message = await page.GotoAsync($"/queue/message?id={fixture.DeferredMessageId}");
        Assert.Equal(404, message!.Status);
        Assert.DoesNotContain(fixture.DeferredMessageId, await message.TextAsync(), StringComparison.Ordinal);

        await ConsoleFixture.ScreenshotAsync(page, "forbidden");

        // A form post with a valid anti-forgery token of this administrator's own session.
        await page.GotoAsync("/settings");
        var token = await page.Locator("form[action*='handler=Save'] input[name=__RequestVerificationToken]").InputValueAsync();
        var post = await page.APIRequest.PostAsync("/settings?handler=save&scope=%2Fhr", new APIRequestContextOptions
        {
            Form = page.APIRequest.CreateFormData().Set("__RequestVerificationToken", token).Set("from", "finance@example.org").Set("override", "from"),
            MaxRedirects = 0,
        });
        Assert.Equal(403, post.Status);
        var retry = await page.APIRequest.PostAsync($"/queue/message?handler=cancel&id={fixture.DeferredMessageId}", new APIRequestContextOptions
        {
            Form = page.APIRequest.CreateFormData().Set("__RequestVerificationToken", token),
            MaxRedirects = 0,
        });
        Assert.Equal(404, retry.Status);
        Assert.DoesNotContain("finance@example.org", (await fixture.CliAsync("smtp", "show", "--scope", "/hr")), StringComparison.Ordinal);

        // Without the token, a post is refused before anything runs.
        var forged = await page.APIRequest.PostAsync("/settings?handler=save&scope=%2Ffinance", new APIRequestContextOptions
        {
            Form = page.APIRequest.CreateFormData().Set("from", "forged@example.org"),
            MaxRedirects = 0,
        });
        Assert.Equal(400, forged.Status);
        Assert.DoesNotContain("forged@example.org", (await fixture.CliAsync("smtp", "show", "--scope", "/finance")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scope_administrator_reads_the_directory_but_is_refused_its_users_other_scopes_groups_and_access_lists()
    {
        await fixture.CliAsync("user", "add", "ivy", "--name", "Ivy Marsh", "--email", "ivy@example.org");
        await fixture.CliAsync("group", "add", "finance-team", "--name", "Finance team", "--member", "user:ivy");
        var page = await fixture.SignedInPageAsync(ConsoleFixture.FinanceAdmin);
        await page.GotoAsync("/users");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Ivy Marsh" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Add user" })).ToHaveCountAsync(0);
        await page.GotoAsync("/access");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Access list of /finance" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator(".tree a")).ToHaveTextAsync(["/finance"]);
        await ConsoleFixture.ScreenshotAsync(page, "access-scope-admin");

        foreach (var path in new[] { "/users/edit", "/users/edit?id=ivy", "/groups/edit?id=finance-team", "/users/import", "/access?scope=%2Fhr", "/access?scope=%2F" })
        {
            var response = await page.GotoAsync(path);
            Assert.True(response!.Status == 403, $"{path} answered {response.Status}");
            Assert.Contains("Not allowed", await response.TextAsync(), StringComparison.Ordinal);
        }

        // Form posts with a valid anti-forgery token of this administrator's own session.
        await page.GotoAsync("/access");
        var token = await page.Locator("form[action*='handler=Grant'] input[name=__RequestVerificationToken]").InputValueAsync();
        foreach (var (path, fields) in new (string, (string, string)[])[]
        {
            ("/access?handler=grant&scope=%2Fhr", [("principal", "group:finance-team"), ("level", "admin")]),
            ("/access?handler=revoke&scope=%2F", [("principal", "group:finance-team")]),
            ("/users/edit?handler=save&id=ivy", [("name", "Renamed by finance"), ("email", "ivy@example.org")]),
            ("/users/edit?handler=remove&id=ivy", []),
            ("/groups/edit?handler=save", [("id", "finance-made"), ("name", "Made by finance")]),
            ("/groups/edit?handler=save", [("id", "finance-made"), ("name", "Made by finance"), ("scope", "/hr")]),
            ("/groups/edit?handler=save", [("id", "finance-made"), ("name", "Made by finance"), ("scope", "/finance2")]),
            ("/groups/edit?handler=save&id=finance-team", [("name", "Taken by finance"), ("scope", "/finance")]),
            ("/groups/edit?handler=remove&id=finance-team", []),
        })
        {
            var form = page.APIRequest.CreateFormData().Set("__RequestVerificationToken", token);
            foreach (var (name, value) in fields)
            {
                form.Set(name, value);
            }

            var post = await page.APIRequest.PostAsync(path, new APIRequestContextOptions { Form = form, MaxRedirects = 0 });
            Assert.True(post.Status == 403, $"POST {path} answered {post.Status}");
        }

        Assert.DoesNotContain("finance-team", await fixture.CliAsync("access", "list", "--scope", "/hr"), StringComparison.Ordinal);
        Assert.Matches(@"ivy\s+Ivy Marsh", await fixture.CliAsync("user", "list"));
        Assert.DoesNotContain("finance-made", await fixture.CliAsync("group", "list"), StringComparison.Ordinal);
        Assert.Matches(@"finance-team\s+Finance team\s+scope /\s", await fixture.CliAsync("group", "list"));

        // Within their own scope, the access list is theirs to change.
        await page.GetByLabel("User or group", ConsoleFixture.Exact).SelectOptionAsync("group:finance-team");
        await page.GetByRole(AriaRole.Button, new() { Name = "Grant" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Finance team" })).ToContainTextAsync("set here");
        Assert.Matches(@"group:finance-team\s+view\s+set here", await fixture.CliAsync("access", "list", "--scope", "/finance"));
    }

    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_until_an_administrator_resets_it()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/signin");
        for (var i = 1; i <= 5; i++)
        {
            await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync(ConsoleFixture.LockedAdmin);
            await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync($"wrong password {i}");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
            // The same answer before and after the lock: it never tells whether a name is locked.
            await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync(Herald.Access.AdministratorService.InvalidSentence);
        }

        await ConsoleFixture.ScreenshotAsync(page, "signin-locked");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync(ConsoleFixture.LockedAdmin);
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync(Herald.Access.AdministratorService.InvalidSentence);
        Assert.Equal("/signin", new Uri(page.Url).AbsolutePath);
        Assert.Matches(@"locky\s+/\s+created .* locked until", (await fixture.CliAsync("admin", "list")));

        await fixture.CliWithInputAsync(ConsoleFixture.Password, "admin", "reset-password", "--name", ConsoleFixture.LockedAdmin);
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync(ConsoleFixture.LockedAdmin);
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dashboard" })).ToBeVisibleAsync();

        // Signing out ends the session: the next page asks to sign in again.
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.GotoAsync("/queue");
        Assert.Equal("/signin", new Uri(page.Url).AbsolutePath);
    }

    [GeneratedRegex(@"http://\S+/setup\?token=[A-Za-z0-9_-]+")]
    private static partial Regex SetupLink();
}
