using System.Net;
using System.Text.Encodings.Web;
using Dapper;
using Herald.Access;
using Herald.IntegrationTests.Storage;
using Herald.Web.Console;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.SignIn;

/// <summary>Console sign-in and sessions over HTTP, as a browser sees them: what ends a session,
/// what a guesser is told, and that another client is not held up by it.</summary>
public sealed class ConsoleSignInTests
{
    private const string AlicePassword = "alice's long password";
    private const string BobPassword = "bob's long password too";

    private static readonly IPAddress OtherClient = IPAddress.Parse("127.0.0.2");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string> EnginesAndChanges => new()
    {
        { TestDatabases.Sqlite, "remove" },
        { TestDatabases.Sqlite, "reset-password" },
        { TestDatabases.Sqlite, "set-scope" },
        { TestDatabases.Postgres, "remove" },
        { TestDatabases.Postgres, "reset-password" },
        { TestDatabases.Postgres, "set-scope" },
    };

    [Theory]
    [MemberData(nameof(EnginesAndChanges))]
    public async Task Removing_resetting_or_moving_an_administrator_through_the_cli_ends_their_session_at_once(string engine, string change)
    {
        await using var database = await TestDatabases.CreateAsync(engine);
        await using var host = await ConsoleHost.StartAsync(database);
        Assert.Equal(0, (await host.Cli.RunAsync("scope", "add", "/hr")).ExitCode);
        await host.CreateAdministratorAsync("alice", AlicePassword);
        await host.CreateAdministratorAsync("bob", BobPassword);
        using var alice = host.Browser();
        using var bob = host.Browser();
        Assert.Equal(HttpStatusCode.Redirect, (await ConsoleHost.SignInAsync(alice, "alice", AlicePassword)).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await ConsoleHost.SignInAsync(bob, "bob", BobPassword)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync(new Uri("/", UriKind.Relative), Ct)).StatusCode);

        var changed = change switch
        {
            "remove" => await host.Cli.RunAsync("admin", "remove", "--name", "alice"),
            "reset-password" => await host.Cli.RunWithInputAsync("a new password for alice\n", "admin", "reset-password", "--name", "alice"),
            _ => await host.Cli.RunAsync("admin", "set-scope", "--name", "alice", "--scope", "/hr"),
        };
        Assert.True(changed.ExitCode == 0, changed.ToString());
        Assert.Contains("their console sessions have ended", changed.Output, StringComparison.Ordinal);

        // The very next request with the old cookie is sent to sign in; bob's session goes on.
        using var next = await alice.GetAsync(new Uri("/", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Redirect, next.StatusCode);
        Assert.Equal("/signin", next.Headers.Location!.AbsolutePath);
        using var other = await bob.GetAsync(new Uri("/", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Contains("<span class=\"who-name\">bob</span>", await other.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_set_up_link_signs_the_first_administrator_in_with_a_session_that_a_password_reset_ends()
    {
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        await using var host = await ConsoleHost.StartAsync(database);
        var token = host.Services.GetRequiredService<SetupLink>().Issue();
        using var browser = host.Browser();

        using var created = await ConsoleHost.PostFormAsync(
            browser, $"setup?token={Uri.EscapeDataString(token)}", ("token", token), ("name", "first"), ("password", AlicePassword), ("confirm", AlicePassword));

        Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
        using (var dashboard = await browser.GetAsync(new Uri("/", UriKind.Relative), Ct))
        {
            Assert.Contains("<span class=\"who-name\">first</span>", await dashboard.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        Assert.Equal(0, (await host.Cli.RunWithInputAsync("a new password for first\n", "admin", "reset-password", "--name", "first")).ExitCode);
        using var after = await browser.GetAsync(new Uri("/", UriKind.Relative), Ct);
        Assert.Equal("/signin", after.Headers.Location?.AbsolutePath);
    }

    [Fact]
    public async Task A_locked_name_and_an_unknown_name_get_byte_identical_answers()
    {
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        await using var host = await ConsoleHost.StartAsync(database);
        await host.CreateAdministratorAsync("alice", AlicePassword);
        using var browser = host.Browser();
        for (var i = 0; i < AdministratorService.MaxFailures; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await ConsoleHost.SignInAsync(browser, "alice", $"wrong password {i}")).StatusCode);
        }

        await using (var connection = await database.Database.OpenAsync(Ct))
        {
            Assert.NotNull(await connection.QuerySingleAsync<long?>("SELECT locked_until FROM administrators WHERE name = 'alice'"));
        }

        using var locked = await ConsoleHost.SignInAsync(browser, "alice", AlicePassword);
        Assert.Equal(0, (await host.Cli.RunAsync("admin", "remove", "--name", "alice")).ExitCode);
        using var unknown = await ConsoleHost.SignInAsync(browser, "alice", AlicePassword);

        Assert.Equal(HttpStatusCode.Unauthorized, locked.StatusCode);
        Assert.Equal(unknown.StatusCode, locked.StatusCode);
        Assert.Equal(unknown.Content.Headers.ContentType, locked.Content.Headers.ContentType);
        var lockedBody = await ConsoleHost.BodyWithoutTokenAsync(locked);
        Assert.Equal(await ConsoleHost.BodyWithoutTokenAsync(unknown), lockedBody);
        Assert.Contains(HtmlEncoder.Default.Encode(AdministratorService.InvalidSentence), lockedBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_guessing_many_names_is_told_429_while_another_address_signs_in()
    {
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        await using var host = await ConsoleHost.StartAsync(database, o => o.FailuresPerAddress = 3);
        await host.CreateAdministratorAsync("alice", AlicePassword);
        using var guesser = host.Browser();
        using var colleague = host.Browser(OtherClient);

        foreach (var name in new[] { "admin", "root", "administrator" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await ConsoleHost.SignInAsync(guesser, name, "password123")).StatusCode);
        }

        // Even the right password is not checked from the guesser's address now.
        using var limited = await ConsoleHost.SignInAsync(guesser, "alice", AlicePassword);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.Contains(HtmlEncoder.Default.Encode(AdministratorService.AddressLimitedSentence), await limited.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        await using (var connection = await database.Database.OpenAsync(Ct))
        {
            // Not even counted against alice: nothing from that address is looked at any more.
            Assert.Equal(0, await connection.QuerySingleAsync<long>("SELECT failed_attempts FROM administrators WHERE name = 'alice'"));
        }

        using var signedIn = await ConsoleHost.SignInAsync(colleague, "alice", AlicePassword);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        using var dashboard = await colleague.GetAsync(new Uri("/", UriKind.Relative), Ct);
        Assert.Contains("<span class=\"who-name\">alice</span>", await dashboard.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
