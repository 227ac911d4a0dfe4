using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>Users, groups, import and access lists in the console: each test checks what the page
/// showed and what the directory holds afterwards (read with the CLI).</summary>
public sealed class DirectoryTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task A_user_and_a_group_with_members_are_saved_and_a_cycle_is_named_next_to_the_members()
    {
        var page = await fixture.SignedInPageAsync();
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link, new() { Name = "Users" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Add user" }).ClickAsync();
        await page.GetByLabel("Id", ConsoleFixture.Exact).FillAsync("dana");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("Dana Reyes");
        await page.GetByLabel("Email", ConsoleFixture.Exact).FillAsync("dana at example.org");
        await page.GetByLabel("Time zone", ConsoleFixture.Exact).SelectOptionAsync("Europe/Berlin");
        await page.GetByLabel("Language", ConsoleFixture.Exact).FillAsync("de-ch");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save user" }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Email", ConsoleFixture.Exact)).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator("#email-error")).ToBeVisibleAsync();
        await ConsoleFixture.ScreenshotAsync(page, "user-invalid");
        Assert.DoesNotContain("dana", await fixture.CliAsync("user", "list"), StringComparison.Ordinal);

        await page.GetByLabel("Email", ConsoleFixture.Exact).FillAsync("dana@example.org");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save user" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Added user Dana Reyes (dana)");
        Assert.Matches(@"dana\s+Dana Reyes\s+dana@example\.org\s+Europe/Berlin\s+de-CH", await fixture.CliAsync("user", "list"));
        await AddUserAsync(page, "eli", "Eli Novak", "eli@example.org");

        await page.GotoAsync("/users?q=novak");
        await Assertions.Expect(page.Locator("table tbody tr")).ToHaveCountAsync(1);
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Eli Novak" })).ToContainTextAsync("eli@example.org");

        await page.GotoAsync("/groups/edit");
        await page.GetByLabel("Id", ConsoleFixture.Exact).FillAsync("ops");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("Operations");
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Dana Reyes" }).CheckAsync();
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Eli Novak" }).CheckAsync();
        await page.GetByRole(AriaRole.Radio, new() { Name = "Both" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save group" }).ClickAsync();
        // Both needs an alias: said next to the alias field, nothing saved.
        await Assertions.Expect(page.Locator("#alias-error")).ToContainTextAsync("needs an alias address");
        await page.GetByLabel("Alias address", ConsoleFixture.Exact).FillAsync("ops@example.org");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save group" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Added group Operations (ops): 2 direct members, reaching 2 people.");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Operations" })).ToContainTextAsync("2 people");
        await ConsoleFixture.ScreenshotAsync(page, "groups");

        await page.GotoAsync("/groups/edit");
        await page.GetByLabel("Id", ConsoleFixture.Exact).FillAsync("oncall");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("On call");
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Operations" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save group" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "On call" })).ToContainTextAsync("2 people");

        await page.GetByRole(AriaRole.Link, new() { Name = "Operations" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "Dana Reyes" })).ToBeCheckedAsync();
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "On call" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save group" }).ClickAsync();
        await Assertions.Expect(page.Locator("#members-error")).ToContainTextAsync("group:ops → group:oncall → group:ops");
        await ConsoleFixture.ScreenshotAsync(page, "group-cycle");
        Assert.Equal("user:dana\nuser:eli", (await fixture.CliAsync("group", "members", "ops")).Trim());

        await page.GotoAsync("/groups/edit?id=ops");
        await ConsoleFixture.ScreenshotAsync(page, "group-edit");
        await page.GotoAsync("/users");
        await ConsoleFixture.ScreenshotAsync(page, "users");
    }

    [Fact]
    public async Task A_scope_administrator_keeps_the_groups_of_its_own_scope()
    {
        await fixture.CliAsync("user", "add", "olwen", "--name", "Olwen Pryce", "--email", "olwen@example.org");
        await fixture.CliAsync("group", "add", "all-staff", "--name", "All staff", "--member", "user:olwen");
        var page = await fixture.SignedInPageAsync(ConsoleFixture.FinanceAdmin);
        await page.GotoAsync("/groups");
        // /'s group is listed (to pick as a recipient) but not theirs to open.
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "All staff" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "All staff" })).ToHaveCountAsync(0);

        await page.GetByRole(AriaRole.Link, new() { Name = "Add group" }).ClickAsync();
        // Only the scopes they administer are offered.
        await Assertions.Expect(page.GetByLabel("Scope", ConsoleFixture.Exact).Locator("option")).ToHaveTextAsync(["/finance"]);
        await page.GetByLabel("Id", ConsoleFixture.Exact).FillAsync("ledger-team");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("Ledger team");
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Olwen Pryce" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save group" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Added group Ledger team (ledger-team)");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Ledger team" })).ToContainTextAsync("/finance");
        await ConsoleFixture.ScreenshotAsync(page, "groups-scope-admin");

        await page.GetByRole(AriaRole.Link, new() { Name = "Ledger team" }).ClickAsync();
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("Ledger and audit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save group" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Ledger and audit" })).ToBeVisibleAsync();
        Assert.Matches(@"ledger-team\s+Ledger and audit\s+scope /finance\s", await fixture.CliAsync("group", "list"));
        Assert.Equal("user:olwen", (await fixture.CliAsync("group", "members", "ledger-team")).Trim());
    }

    [Fact]
    public async Task Access_granted_on_a_scope_shows_as_inherited_below_it_and_a_revoke_removes_it()
    {
        await fixture.CliAsync("scope", "add", "/hr/payroll");
        await fixture.CliAsync("user", "add", "fran", "--name", "Fran Okafor", "--email", "fran@example.org");
        await fixture.CliAsync("group", "add", "auditors", "--name", "Auditors", "--member", "user:fran");
        var page = await fixture.SignedInPageAsync();
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link, new() { Name = "Access" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "/hr", Exact = true }).ClickAsync();
        await page.GetByLabel("User or group", ConsoleFixture.Exact).SelectOptionAsync("group:auditors");
        await page.GetByLabel("Level", ConsoleFixture.Exact).SelectOptionAsync("edit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Grant" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Granted edit for Auditors on /hr");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Auditors" })).ToContainTextAsync("set here");
        Assert.Matches(@"group:auditors\s+edit\s+set here", await fixture.CliAsync("access", "list", "--scope", "/hr"));

        await page.GetByRole(AriaRole.Link, new() { Name = "/hr/payroll" }).ClickAsync();
        var row = page.GetByRole(AriaRole.Row, new() { Name = "Auditors" });
        await Assertions.Expect(row).ToContainTextAsync("inherited from /hr");
        await Assertions.Expect(row).ToContainTextAsync("Edit");
        await Assertions.Expect(row.GetByRole(AriaRole.Button, new() { Name = "Revoke" })).ToHaveCountAsync(0);
        Assert.Matches(@"group:auditors\s+edit\s+inherited from /hr", await fixture.CliAsync("access", "list", "--scope", "/hr/payroll"));

        // A grant here that is weaker than the inherited one is shown with the level that applies.
        await page.GetByLabel("User or group", ConsoleFixture.Exact).SelectOptionAsync("user:fran");
        await page.GetByRole(AriaRole.Button, new() { Name = "Grant" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Fran Okafor" })).ToContainTextAsync("set here");
        await ConsoleFixture.ScreenshotAsync(page, "access");

        await page.GotoAsync("/access?scope=%2Fhr");
        await page.GetByRole(AriaRole.Button, new() { Name = "Revoke group:auditors on /hr" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Revoked the entry of group:auditors on /hr");
        await page.GotoAsync("/access?scope=%2Fhr%2Fpayroll");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "Auditors" })).ToHaveCountAsync(0);
        Assert.DoesNotContain("auditors", await fixture.CliAsync("access", "list", "--scope", "/hr/payroll"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_import_with_a_bad_line_lists_every_problem_and_saves_nothing_then_a_good_one_saves_all()
    {
        var page = await fixture.SignedInPageAsync();
        await page.GotoAsync("/users");
        await page.GetByRole(AriaRole.Link, new() { Name = "Import" }).ClickAsync();
        const string Header = "kind,id,name,email,time_zone,language,members,alias,delivery\n";
        await UploadAsync(page, "people.csv", Header
            + "user,gus,Gus Lind,gus@example.org,Europe/Oslo,nb,,,\n"
            + "user,hana,Hana Ito,not-an-address,Mars/Olympus,,,,\n"
            + "group,readers,Readers,,,,user:gus user:nobody,,\n");
        var problems = page.Locator("table.problems tbody tr");
        await Assertions.Expect(problems).ToHaveCountAsync(3);
        await Assertions.Expect(problems.Nth(0)).ToContainTextAsync("line 3");
        await Assertions.Expect(problems.Nth(0)).ToContainTextAsync("email");
        await Assertions.Expect(problems.Nth(1)).ToContainTextAsync("Mars/Olympus");
        await Assertions.Expect(problems.Nth(2)).ToContainTextAsync("'nobody' does not exist");
        await Assertions.Expect(page.Locator("#file-error")).ToContainTextAsync("nothing was saved");
        await ConsoleFixture.ScreenshotAsync(page, "import-problems");
        Assert.DoesNotContain("gus", await fixture.CliAsync("user", "list"), StringComparison.Ordinal);

        await UploadAsync(page, "people.csv", Header
            + "user,gus,Gus Lind,gus@example.org,Europe/Oslo,nb,,,\n"
            + "user,hana,Hana Ito,hana@example.org,Asia/Tokyo,ja,,,\n"
            + "group,readers,Readers,,,,user:gus user:hana,,\n");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Imported people.csv: 2 user(s) added, 0 changed; 1 group(s) added, 0 changed.");
        Assert.Matches(@"hana\s+Hana Ito\s+hana@example\.org\s+Asia/Tokyo\s+ja", await fixture.CliAsync("user", "list"));
        Assert.Equal("user:gus\nuser:hana", (await fixture.CliAsync("group", "members", "readers")).Trim());
        await page.GotoAsync("/users/import");
        await ConsoleFixture.ScreenshotAsync(page, "import");
    }

    private static async Task UploadAsync(IPage page, string name, string content)
    {
        await page.GetByLabel("File (.csv or .json)", ConsoleFixture.Exact).SetInputFilesAsync(new FilePayload
        {
            Name = name,
            MimeType = "text/csv",
            Buffer = System.Text.Encoding.UTF8.GetBytes(content),
        });
        await page.GetByRole(AriaRole.Button, new() { Name = "Import", Exact = true }).ClickAsync();
    }

    internal static async Task AddUserAsync(IPage page, string id, string name, string email)
    {
        await page.GotoAsync("/users/edit");
        await page.GetByLabel("Id", ConsoleFixture.Exact).FillAsync(id);
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync(name);
        await page.GetByLabel("Email", ConsoleFixture.Exact).FillAsync(email);
        await page.GetByRole(AriaRole.Button, new() { Name = "Save user" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Added user {name} ({id})");
    }
}
