using System.Net;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.SignIn;

/// <summary>
/// Console sign-in through a real OpenID Connect provider (the test authorization server,
/// OpenIddict) and ASP.NET Core's handler in a node composed as serve composes it, over HTTP as a
/// browser sees it: who a token makes an administrator, and what the handler refuses.
/// </summary>
public sealed class SingleSignOnTests : IAsyncLifetime
{
    private const string ClientId = "herald-console";
    private const string ClientSecret = "herald console client secret";

    private static readonly TestPerson Hannah = new("hannah", "hannah@example.org", "Hannah HR", "herald-admins-hr", "staff");
    private static readonly TestPerson Both = new("boris", "boris@example.org", "Boris Both", "herald-admins-hr", "herald-admins-finance");
    private static readonly TestPerson Nested = new("nina", "nina@example.org", "Nina Nested", "herald-admins-hr", "herald-admins-payroll");
    private static readonly TestPerson Stranger = new("sam", "sam@example.org", "Sam Stranger", "staff");
    private static readonly TestPerson Root = new("rita", "rita@example.org", "Rita Root", "herald-admins");

    private AuthorizationServer _provider = null!;
    private TestDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _provider = await AuthorizationServer.StartAsync();
        foreach (var person in new[] { Hannah, Both, Nested, Stranger, Root })
        {
            _provider.AddPerson(person);
        }

        _database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
    }

    private Dictionary<string, string?> Settings(params string[] groups)
    {
        var settings = new Dictionary<string, string?>
        {
            ["OpenIdConnect:Enabled"] = "true",
            ["OpenIdConnect:Authority"] = _provider.Issuer,
            ["OpenIdConnect:ClientId"] = ClientId,
            ["OpenIdConnect:ClientSecret"] = ClientSecret,
            ["OpenIdConnect:DisplayName"] = "Example Corp",
        };
        for (var i = 0; i < groups.Length; i++)
        {
            settings[$"OpenIdConnect:AdministratorGroups:{i}"] = groups[i];
        }

        return settings;
    }

    private async Task<ConsoleHost> StartDefaultAsync(TimeProvider? time = null)
    {
        var settings = Settings("/hr=herald-admins-hr", "/finance=herald-admins-finance", "/hr/payroll=herald-admins-payroll", "/=herald-admins");
        var host = await ConsoleHost.StartAsync(_database, settings: settings, time: time);
        await _provider.AddOpenIdClientAsync(ClientId, ClientSecret, new Uri(host.BaseAddress, "signin-oidc"));
        foreach (var scope in new[] { "/hr", "/hr/payroll", "/hr2", "/finance" })
        {
            Assert.Equal(0, (await host.Cli.RunAsync("scope", "add", scope)).ExitCode);
        }

        return host;
    }

    /// <summary>The sign-in page's button: Herald's challenge, sent to the provider.</summary>
    private static async Task<Uri> StartSignInAsync(HttpClient browser)
    {
        using var challenge = await browser.GetAsync(new Uri("signin/oidc?returnUrl=%2F", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Redirect, challenge.StatusCode);
        var authorization = challenge.Headers.Location!;
        var query = QueryHelpers.ParseQuery(authorization.Query);
        // Authorization code with PKCE, as the handler sends it.
        Assert.Equal("code", query["response_type"].ToString());
        Assert.Equal("S256", query["code_challenge_method"].ToString());
        Assert.Contains("openid", query["scope"].ToString(), StringComparison.Ordinal);
        return authorization;
    }

    private async Task<HttpResponseMessage> SignInAsync(HttpClient browser, TestPerson person)
    {
        var back = await _provider.LoginAsync(await StartSignInAsync(browser), person.Subject);
        return await browser.GetAsync(back, Ct);
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient browser, string path)
    {
        using var response = await browser.GetAsync(new Uri(path, UriKind.Relative), Ct);
        return response.StatusCode;
    }

    private static async Task AssertSignedOutAsync(HttpClient browser)
    {
        using var home = await browser.GetAsync(new Uri("/", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Redirect, home.StatusCode);
        Assert.Equal("/signin", home.Headers.Location!.AbsolutePath);
    }

    [Fact]
    public async Task An_administrator_mapped_by_a_group_claim_administers_that_scope_and_nothing_beside_it()
    {
        await using var host = await StartDefaultAsync();
        using var browser = host.Browser();

        using var signedIn = await SignInAsync(browser, Hannah);

        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Contains("Signed in", await signedIn.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(browser, "settings?scope=%2Fhr"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(browser, "settings?scope=%2Fhr%2Fpayroll"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(browser, "settings?scope=%2F"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(browser, "settings?scope=%2Ffinance"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(browser, "settings?scope=%2Fhr2"));
        using var page = await browser.GetAsync(new Uri("settings?scope=%2Ffinance", UriKind.Relative), Ct);
        Assert.Contains("You are signed in as Hannah HR, administrator of /hr and the scopes below it.", await page.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Groups_mapped_to_a_scope_and_one_below_it_give_the_higher_scope()
    {
        await using var host = await StartDefaultAsync();
        using var browser = host.Browser();

        using var signedIn = await SignInAsync(browser, Nested);

        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(browser, "settings?scope=%2Fhr"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(browser, "settings?scope=%2Ffinance"));
    }

    [Fact]
    public async Task Groups_mapped_to_unrelated_scopes_sign_nobody_in_and_say_why()
    {
        await using var host = await StartDefaultAsync();
        using var browser = host.Browser();

        using var refused = await SignInAsync(browser, Both);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("Your groups make you an administrator of /finance and /hr, and a console session has one scope",
            WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync(Ct)), StringComparison.Ordinal);
        await AssertSignedOutAsync(browser);
    }

    [Fact]
    public async Task Someone_the_directory_does_not_know_is_told_so_and_nothing_about_anyone_else()
    {
        await using var host = await StartDefaultAsync();
        Assert.Equal(0, (await host.Cli.RunAsync("user", "add", "hannah", "--name", "Hannah", "--email", "hannah@example.org")).ExitCode);
        using var browser = host.Browser();

        using var refused = await SignInAsync(browser, Stranger);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var page = WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync(Ct));
        Assert.Contains("Your account (sam@example.org) is not in Herald's directory", page, StringComparison.Ordinal);
        Assert.DoesNotContain("hannah", page, StringComparison.OrdinalIgnoreCase);
        await AssertSignedOutAsync(browser);
    }

    [Theory]
    [InlineData("email", "email", "sam.s", "sam@example.org")]
    [InlineData("sub", "id", "sam", "someone-else@example.org")]
    public async Task A_directory_user_matched_by_the_configured_claim_signs_in_as_themselves_and_lands_on_their_own_page(string claim, string field, string userId, string email)
    {
        var settings = Settings("/hr=herald-admins-hr");
        settings["OpenIdConnect:UserClaim"] = claim;
        settings["OpenIdConnect:UserField"] = field;
        await using var host = await ConsoleHost.StartAsync(_database, settings: settings);
        await _provider.AddOpenIdClientAsync(ClientId, ClientSecret, new Uri(host.BaseAddress, "signin-oidc"));
        Assert.Equal(0, (await host.Cli.RunAsync("user", "add", userId, "--name", "Sam", "--email", email)).ExitCode);
        using var browser = host.Browser();

        using var signedIn = await SignInAsync(browser, Stranger);

        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Contains("<meta http-equiv=\"refresh\" content=\"0;url=/me\">", await signedIn.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(browser, "me"));
        // A person, not an administrator: Sam's groups map to nothing.
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(browser, "settings?scope=%2Fhr"));
    }

    [Fact]
    public async Task An_altered_state_signs_nobody_in()
    {
        await using var host = await StartDefaultAsync();
        using var browser = host.Browser();
        var back = await _provider.LoginAsync(await StartSignInAsync(browser), Hannah.Subject);
        var query = QueryHelpers.ParseQuery(back.Query);
        var state = query["state"].ToString();
        var altered = state[..^2] + (state[^2] == 'A' ? 'B' : 'A') + state[^1];

        using var refused = await browser.GetAsync(new Uri($"signin-oidc?code={Uri.EscapeDataString(query["code"]!)}&state={Uri.EscapeDataString(altered)}", UriKind.Relative), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("could not be completed", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        await AssertSignedOutAsync(browser);
    }

    [Fact]
    public async Task An_answer_that_comes_back_after_the_sign_in_timeout_signs_nobody_in()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await StartDefaultAsync(time);
        using var browser = host.Browser();
        var back = await _provider.LoginAsync(await StartSignInAsync(browser), Hannah.Subject);

        time.Advance(TimeSpan.FromMinutes(16));
        using var refused = await browser.GetAsync(back, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("This sign-in was started too long ago", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        await AssertSignedOutAsync(browser);
    }

    [Fact]
    public async Task An_id_token_from_another_issuer_is_refused_by_the_handler()
    {
        await using var host = await StartDefaultAsync();
        await using var other = await AuthorizationServer.StartAsync();
        other.AddPerson(Root);
        var redirect = new Uri(host.BaseAddress, "signin-oidc");
        await other.AddOpenIdClientAsync(ClientId, ClientSecret, redirect);
        // A token for Herald's client id, signed and issued by the other server.
        var foreign = await other.IdTokenAsync(ClientId, ClientSecret, redirect, Root.Subject);

        await AssertTokenRefusedAsync(host, foreign);
    }

    [Fact]
    public async Task An_id_token_for_another_client_is_refused_by_the_handler()
    {
        await using var host = await StartDefaultAsync();
        var redirect = new Uri(host.BaseAddress, "signin-oidc");
        await _provider.AddOpenIdClientAsync("another-app", "another secret", redirect);
        // Issued by Herald's provider, for another application.
        var foreign = await _provider.IdTokenAsync("another-app", "another secret", redirect, Root.Subject);

        await AssertTokenRefusedAsync(host, foreign);
    }

    /// <summary>A real sign-in's state, answered with <paramref name="idToken"/> instead of the code.</summary>
    private async Task AssertTokenRefusedAsync(ConsoleHost host, string idToken)
    {
        using var browser = host.Browser();
        var back = await _provider.LoginAsync(await StartSignInAsync(browser), Root.Subject);
        var state = QueryHelpers.ParseQuery(back.Query)["state"].ToString();

        using var refused = await browser.GetAsync(new Uri($"signin-oidc?state={Uri.EscapeDataString(state)}&id_token={Uri.EscapeDataString(idToken)}", UriKind.Relative), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("could not be completed", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        await AssertSignedOutAsync(browser);
    }

    [Fact]
    public async Task A_node_whose_group_map_no_longer_grants_the_scope_ends_the_administrator_session()
    {
        await using var before = await StartDefaultAsync();
        // A second node of the same database and keys, configured without Hannah's group.
        await using var after = await ConsoleHost.StartAsync(_database, settings: Settings("/finance=herald-admins-finance"));
        using var browser = before.Browser();
        using (var signedIn = await SignInAsync(browser, Hannah))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(browser, "settings?scope=%2Fhr"));

        using var ended = await browser.GetAsync(new Uri(after.BaseAddress, "settings?scope=%2Fhr"), Ct);

        Assert.Equal(HttpStatusCode.Redirect, ended.StatusCode);
        Assert.Equal("/signin", ended.Headers.Location!.AbsolutePath);
        // The session was signed out, not only refused once.
        await AssertSignedOutAsync(browser);
    }

    [Fact]
    public async Task With_local_passwords_turned_off_a_posted_password_is_refused_and_the_page_offers_only_the_provider()
    {
        var settings = Settings("/hr=herald-admins-hr");
        settings["OpenIdConnect:LocalPasswords"] = "false";
        await using var host = await ConsoleHost.StartAsync(_database, settings: settings);
        // A node of the same database and keys that still shows the form: its anti-forgery token is
        // good on the first, so the password below reaches the sign-in handler itself.
        await using var withForm = await ConsoleHost.StartAsync(_database);
        await host.CreateAdministratorAsync("alice", "alice's long password");
        using var browser = host.Browser();

        var page = await browser.GetStringAsync(new Uri("signin", UriKind.Relative), Ct);
        var token = ConsoleHost.AntiforgeryToken().Match(await browser.GetStringAsync(new Uri(withForm.BaseAddress, "signin"), Ct)).Groups[1].Value;
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token), ["name"] = "alice", ["password"] = "alice's long password", ["returnUrl"] = "/",
        });
        using var refused = await browser.PostAsync(new Uri("signin", UriKind.Relative), form, Ct);

        Assert.Contains("Sign in with Example Corp", page, StringComparison.Ordinal);
        Assert.DoesNotContain("type=\"password\"", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("Local administrator passwords are turned off on this node", WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync(Ct)), StringComparison.Ordinal);
        await AssertSignedOutAsync(browser);
        // The operator on the node still has the CLI.
        Assert.Equal(0, (await host.Cli.RunAsync("admin", "list")).ExitCode);
    }

    [Fact]
    public async Task The_settings_page_shows_the_configuration_to_administrators_of_root_without_the_secret()
    {
        await using var host = await StartDefaultAsync();
        using var root = host.Browser();
        using var hr = host.Browser();
        (await SignInAsync(root, Root)).Dispose();
        (await SignInAsync(hr, Hannah)).Dispose();

        var page = WebUtility.HtmlDecode(await root.GetStringAsync(new Uri("settings?scope=%2F", UriKind.Relative), Ct));
        var hrPage = await hr.GetStringAsync(new Uri("settings?scope=%2Fhr", UriKind.Relative), Ct);

        Assert.Contains("Single sign-on (OpenID Connect)", page, StringComparison.Ordinal);
        Assert.Contains(_provider.Issuer, page, StringComparison.Ordinal);
        Assert.Contains("herald-admins-hr</code> → administrator of <code>/hr", page, StringComparison.Ordinal);
        Assert.Contains("<dd id=\"sso-client-secret\">set</dd>", page, StringComparison.Ordinal);
        Assert.DoesNotContain(ClientSecret, page, StringComparison.Ordinal);
        Assert.DoesNotContain("Single sign-on (OpenID Connect)", hrPage, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        await _database.DisposeAsync();
        await _provider.DisposeAsync();
    }
}
