using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using Dapper;
using Herald.Access;
using Herald.IntegrationTests.SignIn;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Notifications.SelfService;
using Herald.Notifications.Subscriptions;
using Herald.Notifications.Unsubscribe;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Herald.IntegrationTests.SelfService.PersonBrowser;

namespace Herald.IntegrationTests.SelfService;

/// <summary>
/// A directory user's console session on real SQLite and real PostgreSQL: what it reaches and
/// what it is refused (administrator pages, the API, anyone else's alerts), what ends it, and the
/// links that start it — forged, altered, expired and used links sign nobody in and change
/// nothing; the sign-in link page answers the same for every address.
/// </summary>
public sealed class SelfServiceSessionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_person_is_refused_administrator_pages_the_api_and_anyone_elses_alert_by_id(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await using var host = await StartAsync(db);
        await CliAsync(host, "group", "add", "hr-team", "--name", "HR team", "--member", "user:bob");
        await CliAsync(host, "access", "grant", "--scope", "/hr", "--principal", "group:hr-team", "--level", "view");
        await CliAsync(host, "subscription", "add", "--id", "bob-alert", "--scope", "/hr", "--owner", "user:bob", "--name", "Bob's alert");
        await CliAsync(host, "subscription", "add", "--id", "team-alert", "--scope", "/hr", "--owner", "group:hr-team", "--name", "Team alert");
        using var alice = await SignedInAsync(host, "alice");

        foreach (var page in new[] { "", "queue", "users", "settings", "subscriptions?scope=%2Fhr", "access?scope=%2Fhr" })
        {
            using var refused = await alice.GetAsync(new Uri(page, UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Contains("This page is for administrators.", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        using (var api = await alice.GetAsync(new Uri("api/v1/subscriptions", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        }

        var before = await RowsAsync(db, "SELECT id, name, frequency, enabled FROM subscriptions ORDER BY id");
        var token = await TokenAsync(alice, "me");
        foreach (var (handler, fields) in new (string, (string, string)[])[]
        {
            ("remove", [("id", "bob-alert")]),
            ("frequency", [("id", "bob-alert"), ("frequency", "weekly"), ("at", "08:00"), ("day", "monday")]),
            ("enabled", [("id", "bob-alert"), ("enabled", "false")]),
            ("optout", [("id", "bob-alert"), ("optOut", "true")]),
            // Not alice's group: to her, it is not there.
            ("optout", [("id", "team-alert"), ("optOut", "true")]),
        })
        {
            using var answer = await PostWithTokenAsync(alice, $"me?handler={handler}", token, fields);
            Assert.True(answer.StatusCode == HttpStatusCode.NotFound, $"{handler}: {(int)answer.StatusCode}");
        }

        Assert.Equal(before, await RowsAsync(db, "SELECT id, name, frequency, enabled FROM subscriptions ORDER BY id"));
        Assert.Equal("", await RowsAsync(db, "SELECT recipient FROM notification_opt_outs"));

        // A person is found by their exact id only: a display name or an email is nobody.
        var alerts = host.Services.GetRequiredService<MyAlertsService>();
        Assert.Null((await alerts.ShowAsync(new Caller.Person("Bob Jones"), Ct)).User);
        Assert.Null((await alerts.ShowAsync(new Caller.Person("bob@example.org"), Ct)).User);
        Assert.Equal("bob", (await alerts.ShowAsync(new Caller.Person("bob"), Ct)).User?.Id);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_person_session_ends_when_their_email_changes_or_they_are_removed_and_links_to_the_old_address_stop_working(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await using var host = await StartAsync(db);
        var old = await ManageLinkAsync(host, "alice");
        using var alice = await SignedInAsync(host, "alice");

        await CliAsync(host, "user", "set", "alice", "--email", "alice.smith@example.org");
        Assert.False(await PersonBrowser.SignedInAsync(alice));
        using (var stale = await alice.GetAsync(new Uri(old, UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, stale.StatusCode);
        }

        using var again = await SignedInAsync(host, "alice");
        await CliAsync(host, "user", "remove", "alice");
        Assert.False(await PersonBrowser.SignedInAsync(again));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Forged_altered_expired_and_used_links_sign_nobody_in_and_change_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await using var host = await StartAsync(db);
        var genuine = await ManageLinkAsync(host, "alice");
        var token = genuine.Split('/')[^1];
        var middle = token.Length / 2;
        var altered = token[..middle] + (token[middle] == 'A' ? 'B' : 'A') + token[(middle + 1)..];
        var forged = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(token.Length * 3 / 4));

        // Genuine, but made 31 days ago: past the 30 days a manage link works.
        var services = host.Services;
        var then = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(-31));
        var old = new ManageLinks(
            services.GetRequiredService<ISigningKeyStore>(), services.GetRequiredService<IDirectoryStore>(), services.GetRequiredService<IOptions<SelfServiceOptions>>(),
            services.GetRequiredService<PublicUrlService>(), then);
        var alice = await services.GetRequiredService<IDirectoryStore>().FindUserAsync("alice", Ct);
        var expired = (await old.CreateAsync(alice!, Ct)).AbsolutePath;

        // Emailed sign-in links: one used already, one expired a minute ago, one never issued.
        var store = services.GetRequiredService<ISignInLinkStore>();
        var used = await IssueSignInLinkAsync(store, "alice", DateTimeOffset.UtcNow.AddMinutes(15));
        Assert.Equal("alice", await store.ConsumeAsync(SignInLinks.HashOf(used), DateTimeOffset.UtcNow, Ct));
        var late = await IssueSignInLinkAsync(store, "alice", DateTimeOffset.UtcNow.AddMinutes(-1));
        var never = SignInLinks.NewToken();

        var before = await RowsAsync(db, "SELECT id, name, frequency, enabled FROM subscriptions ORDER BY id");
        foreach (var (link, status) in new[]
        {
            ($"me/manage/{forged}", HttpStatusCode.NotFound), ($"me/manage/{altered}", HttpStatusCode.NotFound), (expired, HttpStatusCode.Gone),
            ($"signin/link/{used}", HttpStatusCode.Gone), ($"signin/link/{late}", HttpStatusCode.Gone), ($"signin/link/{never}", HttpStatusCode.Gone),
        })
        {
            using var browser = host.Browser();
            using (var opened = await browser.GetAsync(new Uri(link.TrimStart('/'), UriKind.Relative), Ct))
            {
                Assert.True(opened.StatusCode == status, $"GET {link}: {(int)opened.StatusCode}");
            }

            using (var confirmed = await PostWithTokenAsync(browser, link.TrimStart('/'), await TokenAsync(browser)))
            {
                Assert.True(confirmed.StatusCode == status, $"POST {link}: {(int)confirmed.StatusCode}");
            }

            Assert.False(await PersonBrowser.SignedInAsync(browser), link);
            using var add = await PostWithTokenAsync(browser, "me?handler=add", await TokenAsync(browser), ("name", "Sneaky"), ("scope", "/hr"), ("frequency", "immediate"));
            Assert.Equal(HttpStatusCode.Redirect, add.StatusCode);
            Assert.Contains("/signin", add.Headers.Location?.OriginalString, StringComparison.Ordinal);
        }

        Assert.Equal(before, await RowsAsync(db, "SELECT id, name, frequency, enabled FROM subscriptions ORDER BY id"));
        // Refused links are not spent either: the expired one is unused, the genuine manage link still works.
        Assert.Equal("1", await RowsAsync(db, "SELECT COUNT(*) FROM sign_in_links WHERE used_at IS NOT NULL"));
        using var person = host.Browser();
        using var good = await PostFormAsync(person, genuine.TrimStart('/'), null);
        Assert.Equal(HttpStatusCode.Redirect, good.StatusCode);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_sign_in_link_page_answers_byte_identically_for_a_known_and_an_unknown_address_and_queues_mail_only_for_the_user(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await using var host = await StartAsync(db);

        using var known = host.Browser();
        using var knownAnswer = await PostFormAsync(known, "signin/link", null, ("email", "alice@example.org"));
        using var unknown = host.Browser(IPAddress.Parse("127.0.0.2"));
        using var unknownAnswer = await PostFormAsync(unknown, "signin/link", null, ("email", "nobody@example.org"));
        Assert.Equal(HttpStatusCode.OK, knownAnswer.StatusCode);
        Assert.Equal(knownAnswer.StatusCode, unknownAnswer.StatusCode);
        Assert.Equal(await ConsoleHost.BodyWithoutTokenAsync(knownAnswer), await ConsoleHost.BodyWithoutTokenAsync(unknownAnswer));
        Assert.Equal("", await RowsAsync(db, "SELECT id FROM messages"));

        // Off the request: the mailer finds the user and queues their link in the outbox of /.
        await host.Services.GetRequiredService<SignInLinkMailer>().RunOnceAsync(Ct);
        Assert.Equal("/|alice@example.org|Your Herald sign-in link", await RowsAsync(db,
            "SELECT m.scope_path, r.address, m.subject FROM messages m JOIN recipients r ON r.message_id = m.id"));
        Assert.Equal("no-user\nsent", await RowsAsync(db, "SELECT state FROM sign_in_links ORDER BY state"));
        Assert.Equal("", await RowsAsync(db, "SELECT id FROM sign_in_links WHERE token_hash IS NOT NULL AND user_id <> 'alice'"));

        // Three a window per address, whoever has it: the fourth is refused alike for both.
        for (var i = 0; i < 2; i++)
        {
            using var more = await PostFormAsync(host.Browser(IPAddress.Parse("127.0.0.3")), "signin/link", null, ("email", "nobody@example.org"));
            Assert.Equal(HttpStatusCode.OK, more.StatusCode);
            using var moreKnown = await PostFormAsync(host.Browser(IPAddress.Parse("127.0.0.3")), "signin/link", null, ("email", "alice@example.org"));
            Assert.Equal(HttpStatusCode.OK, moreKnown.StatusCode);
        }

        using var limitedUnknown = await PostFormAsync(host.Browser(IPAddress.Parse("127.0.0.4")), "signin/link", null, ("email", "nobody@example.org"));
        using var limitedKnown = await PostFormAsync(host.Browser(IPAddress.Parse("127.0.0.4")), "signin/link", null, ("email", "alice@example.org"));
        Assert.Equal(HttpStatusCode.TooManyRequests, limitedUnknown.StatusCode);
        Assert.Equal(limitedUnknown.StatusCode, limitedKnown.StatusCode);
        Assert.Equal(await ConsoleHost.BodyWithoutTokenAsync(limitedUnknown), await ConsoleHost.BodyWithoutTokenAsync(limitedKnown));
    }

    private static async Task<ConsoleHost> StartAsync(TestDatabase db)
    {
        var host = await ConsoleHost.StartAsync(db);
        await CliAsync(host, "scope", "add", "/hr");
        await CliAsync(host, "smtp", "set", "--server", "127.0.0.1", "--port", "9", "--security", "none", "--from", "herald@example.org", "--node-tags", "elsewhere");
        await CliAsync(host, "user", "add", "alice", "--name", "Alice Smith", "--email", "alice@example.org");
        await CliAsync(host, "user", "add", "bob", "--name", "Bob Jones", "--email", "bob@example.org");
        await CliAsync(host, "access", "grant", "--scope", "/hr", "--principal", "user:alice", "--level", "view");
        await CliAsync(host, "access", "grant", "--scope", "/hr", "--principal", "user:bob", "--level", "view");
        return host;
    }

    private static async Task CliAsync(ConsoleHost host, params string[] args)
    {
        var result = await host.Cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"herald {string.Join(' ', args)}: {result}");
    }

    /// <summary>The path of a "Manage your alerts" link of the user, as a notification carries it.</summary>
    private static async Task<string> ManageLinkAsync(ConsoleHost host, string userId)
    {
        var user = await host.Services.GetRequiredService<IDirectoryStore>().FindUserAsync(userId, Ct);
        return (await host.Services.GetRequiredService<ManageLinks>().CreateAsync(user!, Ct)).AbsolutePath;
    }

    /// <summary>A browser signed in as the user through their manage link, confirmed.</summary>
    private static async Task<HttpClient> SignedInAsync(ConsoleHost host, string userId)
    {
        var browser = host.Browser();
        var link = (await ManageLinkAsync(host, userId)).TrimStart('/');
        using var confirmed = await PostFormAsync(browser, link, null);
        Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
        Assert.True(await PersonBrowser.SignedInAsync(browser));
        return browser;
    }

    /// <summary>A link as the mailer leaves one in the database: the request, then its token's hash.</summary>
    private static async Task<string> IssueSignInLinkAsync(ISignInLinkStore store, string userId, DateTimeOffset expires)
    {
        var id = "sil-test-" + Guid.NewGuid().ToString("N");
        Assert.True(await store.AddRequestAsync(new(id, userId + "@example.org", "192.0.2.1", DateTimeOffset.UtcNow), DateTimeOffset.UtcNow, 100, 100, Ct));
        var token = SignInLinks.NewToken();
        await store.CompleteAsync(id, SignInLinkOutcome.Sent, userId, SignInLinks.HashOf(token), expires, Ct);
        return token;
    }

    private static async Task<string> RowsAsync(TestDatabase db, string sql)
    {
        await using var connection = await db.Database.OpenAsync(Ct);
        var rows = (await connection.QueryAsync(sql)).Cast<IDictionary<string, object?>>();
        return string.Join("\n", rows.Select(r => string.Join("|", r.Values.Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)))));
    }
}
