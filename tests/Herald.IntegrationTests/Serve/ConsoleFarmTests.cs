using System.Net;
using System.Text.RegularExpressions;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Testing;

namespace Herald.IntegrationTests.Serve;

/// <summary>
/// The web console behind a load balancer: two <c>herald serve</c> nodes on one PostgreSQL
/// database with the same credential key. A browser's requests may reach either node, so a
/// session signed in on one and a form rendered by one must be good on the other.
/// </summary>
public sealed partial class ConsoleFarmTests : IDisposable
{
    private const string Passphrase = "console farm passphrase";

    private const string AdministratorPassword = "alice's long password";

    private readonly List<string> _dataDirectories = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_session_and_a_form_from_one_node_are_accepted_by_another()
    {
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        using (var cli = new HeraldCommandLine())
        {
            cli.Environment["HERALD_DATABASE"] = database.Url!;
            cli.Environment["HERALD_CREDENTIAL_KEY"] = Passphrase;
            var created = await cli.RunWithInputAsync(AdministratorPassword + "\n", "admin", "create", "--name", "alice", "--scope", "/");
            Assert.True(created.ExitCode == 0, created.ToString());
        }

        var environment = new Dictionary<string, string> { ["HERALD_DATABASE"] = database.Url!, ["HERALD_CREDENTIAL_KEY"] = Passphrase };
        await using var a = HeraldServer.Launch(NodeDirectory(), environment, "--node-name", "node-a");
        await using var b = HeraldServer.Launch(NodeDirectory(), environment, "--node-name", "node-b");
        await Task.WhenAll(a.WaitUntilHealthyAsync(), b.WaitUntilHealthyAsync());
        // One browser: its cookies go to both nodes, as they would through a load balancer.
        var cookies = new CookieContainer();
        using var toA = Browser(a, cookies);
        using var toB = Browser(b, cookies);

        var signInPage = await toA.GetStringAsync(new Uri("/signin", UriKind.Relative), Ct);
        using var signedIn = await toA.PostAsync(new Uri("/signin", UriKind.Relative), Form(signInPage, ("name", "alice"), ("password", AdministratorPassword), ("returnUrl", "/")), Ct);
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        Assert.Contains(cookies.GetCookies(a.BaseAddress), c => c.Name == "herald-console");

        // A form rendered by node A, posted to node B.
        var addUser = await toA.GetStringAsync(new Uri("/users/edit", UriKind.Relative), Ct);
        using var saved = await toB.PostAsync(
            new Uri("/users/edit?handler=Save", UriKind.Relative),
            Form(addUser, ("id", "carol"), ("name", "Carol Farm"), ("email", "carol@example.org"), ("timeZone", "UTC"), ("language", "en")),
            Ct);
        Assert.True(saved.StatusCode == HttpStatusCode.Redirect, $"node B answered {(int)saved.StatusCode} {saved.Headers.Location}:\n{await saved.Content.ReadAsStringAsync(Ct)}\n{b.Output}");
        Assert.Equal("/users?q=carol", saved.Headers.Location?.OriginalString);
        await using (var connection = await database.Database.OpenAsync(Ct))
        {
            Assert.Equal("Carol Farm", await connection.QuerySingleOrDefaultAsync<string>("SELECT name FROM directory_users WHERE id = 'carol'"));
        }

        // The session signed in on node A opens node B's pages.
        using var dashboard = await toB.GetAsync(new Uri("/", UriKind.Relative), Ct);
        var page = await dashboard.Content.ReadAsStringAsync(Ct);
        Assert.True(dashboard.StatusCode == HttpStatusCode.OK, $"node B answered {(int)dashboard.StatusCode} {dashboard.Headers.Location}");
        Assert.Contains("<span class=\"who-name\">alice</span>", page, StringComparison.Ordinal);

        foreach (var node in new[] { a, b })
        {
            Assert.Contains("Console sign-in keys are kept in the database, sealed with the credential key", node.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("unencrypted form", node.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(Passphrase, node.Output, StringComparison.Ordinal);
        }
    }

    public void Dispose()
    {
        foreach (var directory in _dataDirectories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A temporary directory left behind is harmless.
            }
        }
    }

    private static HttpClient Browser(HeraldServer node, CookieContainer cookies) =>
        new(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The page's form fields as a browser posts them: the anti-forgery token the page
    /// carries, and the values typed.</summary>
    private static FormUrlEncodedContent Form(string page, params (string Name, string Value)[] fields)
    {
        var token = AntiforgeryToken().Match(page);
        Assert.True(token.Success, "The page has no anti-forgery token:\n" + page);
        return new FormUrlEncodedContent([new("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value)), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
    }

    private string NodeDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("herald-console-farm-").FullName;
        _dataDirectories.Add(directory);
        return directory;
    }

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
