using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Dapper;
using Herald.Cli;
using Herald.Outbox;
using Herald.Storage.Database;
using Herald.Testing;
using Herald.Notifications;
using Herald.Notifications.SelfService;
using Herald.Web.Console;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.IntegrationTests.Authorization;

/// <summary>
/// One Herald node for the whole matrix, started in process exactly as <c>herald serve</c> starts
/// it (<see cref="HeraldHost"/>), on a fresh SQLite data directory and a real Kestrel port on
/// 127.0.0.1. Its scopes, directory, administrators and API keys are made with the real
/// <c>herald</c> verbs before it starts; every caller's key and console session is made once and
/// reused by every cell.
/// </summary>
public sealed partial class MatrixHost : IAsyncLifetime
{
    internal const string Password = "matrix-password-1";

    /// <summary>Every connection the matrix makes is reserved for nodes tagged so: this node never
    /// sends, so a message stays exactly as a cell left it.</summary>
    internal const string ElsewhereTag = "elsewhere";

    private readonly Dictionary<MatrixCaller, string> _keys = [];
    private readonly Dictionary<MatrixCaller, (HttpClient Browser, CookieContainer Cookies, string Token)> _sessions = [];
    private readonly HeraldCommandLine _cli = new();
    private WebApplication? _app;
    private HeraldDatabase? _database;
    private int _counter;

    public Uri BaseAddress { get; private set; } = null!;

    internal IServiceProvider Services => _app!.Services;

    /// <summary>A port on 127.0.0.1 nobody listens on: the upstream of every connection.</summary>
    internal int ClosedPort { get; } = FreePort();

    internal WebApplication App => _app!;

    internal HttpClient Root { get; private set; } = null!;

    /// <summary>The directory user of the person's row.</summary>
    internal static string PersonName(MatrixCaller caller) => caller.Label.Split(' ')[^1];

    /// <summary>The console administrator (and directory user) of each administrator row.</summary>
    internal static string AdministratorName(MatrixCaller caller) =>
        "adm-" + (caller.Scope == "/" ? "root" : caller.Scope.Trim('/').Replace('/', '-').Replace('.', '-'));

    internal int Next() => Interlocked.Increment(ref _counter);

    /// <summary>A marker no other string of the matrix contains.</summary>
    internal string Marker() => $"mk{Next()}z";

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        foreach (var scope in MatrixCaller.Scopes)
        {
            await RunAsync("scope", "add", scope);
        }

        // A credential key, so that webhook secrets can be sealed.
        var key = await _cli.RunWithInputAsync("matrix credential passphrase 7d1\n", "key", "set");
        Assert.True(key.ExitCode == 0, key.ToString());
        await RunAsync("smtp", "set", "--server", "127.0.0.1", "--port", ClosedPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--security", "none", "--auth", "anonymous", "--node-tags", ElsewhereTag, "--from", "matrix@example.org", "--enabled", "true");
        var administrators = MatrixCaller.All.Where(c => c.Role == Role.Administrator).ToArray();
        var users = administrators.Select(AdministratorName).Concat(["alice", "bob"]).ToArray();
        foreach (var user in users)
        {
            await RunAsync("user", "add", user, "--name", "User " + user, "--email", user + "@example.org");
        }

        await RunAsync(["group", "add", "everyone", "--name", "Everyone", .. users.SelectMany(u => new[] { "--member", "user:" + u })]);
        await RunAsync("access", "grant", "--scope", "/", "--principal", "group:everyone", "--level", "view");
        foreach (var administrator in administrators)
        {
            var created = await _cli.RunWithInputAsync(Password + "\n", "admin", "create", "--name", AdministratorName(administrator), "--scope", administrator.Scope);
            Assert.True(created.ExitCode == 0, created.ToString());
        }

        foreach (var caller in MatrixCaller.All.Where(c => c.Role is Role.Sender or Role.Administrator))
        {
            var created = await RunAsync("apikey", "create", "--scope", caller.Scope, "--role", caller.Role == Role.Sender ? "sender" : "admin", "--name", caller.Label.Replace(' ', '-'));
            _keys[caller] = created.Output.Trim().Split('\n')[^1].Trim();
        }

        // A stored listener on an address no machine has: nothing of the matrix binds a real port,
        // and the implied default 127.0.0.1:2525 stays unbound while one is stored.
        await RunAsync("relay", "set", "--listen", "192.0.2.1:1", "--scope", "/", "--access", "only-list", "--allow", "127.0.0.0/8", "--auth", "none");
        await _cli.RunAsync("relay", "remove", "--listen", "127.0.0.1:2525");

        _database = HeraldDatabases.Open(null, _cli.DataDirectory);
        var console = new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, _ => null, false);
        var (app, problem) = await HeraldHost.StartAsync(
            new HeraldHostOptions(_cli.DataDirectory, _database, new NodeIdentity("matrix", []), "http://127.0.0.1:0", console)
            {
                Configure = builder =>
                {
                    builder.Logging.ClearProviders();
                    // What an operator would give as HERALD_Delivery__RetryDelays__0: a message the
                    // matrix defers stays deferred while it runs.
                    builder.Configuration.AddInMemoryCollection([new("Delivery:RetryDelays:0", "1.00:00:00")]);
                },
            },
            ct);
        _app = app ?? throw new InvalidOperationException("The matrix's node did not start: " + problem);
        BaseAddress = new Uri(_app.Urls.First(u => u.StartsWith("http://127.0.0.1:", StringComparison.Ordinal)) + "/");
        Root = Api(MatrixCaller.All.Single(c => c.Label == "admin /"));
        foreach (var caller in MatrixCaller.Console)
        {
            _sessions[caller] = await SignInAsync(caller);
        }
    }

    /// <summary>An HTTP client for the API with the caller's key (none for the signed-out row);
    /// <paramref name="cookies"/> false for a request that carries a Cookie header of its own.</summary>
    internal HttpClient Api(MatrixCaller caller, bool cookies = true)
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = cookies }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (_keys.TryGetValue(caller, out var key))
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return client;
    }

    private readonly Dictionary<MatrixCaller, HttpClient> _apiClients = [];

    internal HttpClient ApiClient(MatrixCaller caller)
    {
        lock (_apiClients)
        {
            if (!_apiClients.TryGetValue(caller, out var client))
            {
                _apiClients[caller] = client = Api(caller);
            }

            return client;
        }
    }

    /// <summary>The caller's browser (signed in for administrators, signed out for none) and an
    /// anti-forgery token of its session.</summary>
    internal (HttpClient Browser, string Token) Session(MatrixCaller caller) => (_sessions[caller].Browser, _sessions[caller].Token);

    /// <summary>A second browser holding a copy of the caller's cookies: for the cells that sign in
    /// or out, which must not end the session every other cell uses.</summary>
    internal (HttpClient Browser, string Token) CopyOfSession(MatrixCaller caller)
    {
        var (_, cookies, token) = _sessions[caller];
        var copy = new CookieContainer();
        copy.Add(cookies.GetAllCookies());
        return (NewBrowser(copy), token);
    }

    /// <summary>Raw rows, as text, for what a cell reads back from the database.</summary>
    internal async Task<string?> QueryAsync(string sql, object? parameters = null)
    {
        await using var connection = await _database!.OpenAsync(TestContext.Current.CancellationToken);
        var rows = (await connection.QueryAsync(sql, parameters)).Cast<IDictionary<string, object?>>().ToArray();
        return rows.Length == 0
            ? null
            : string.Join("\n", rows.Select(r => string.Join("|", r.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={Text(c.Value)}"))));
    }

    internal async Task ExecuteAsync(string sql, object? parameters = null)
    {
        await using var connection = await _database!.OpenAsync(TestContext.Current.CancellationToken);
        await connection.ExecuteAsync(sql, parameters);
    }

    private static string Text(object? value) => value switch
    {
        null => "null",
        byte[] bytes => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes)),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>Every endpoint the node answers, as ASP.NET Core's routing holds them.</summary>
    internal IReadOnlyList<Endpoint> Endpoints() =>
        ((IEndpointRouteBuilder)_app!).DataSources.SelectMany(d => d.Endpoints).ToArray();

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _apiClients.Values)
        {
            client.Dispose();
        }

        foreach (var (browser, _, _) in _sessions.Values)
        {
            browser.Dispose();
        }

        Root?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        _cli.Dispose();
    }

    private async Task<CliResult> RunAsync(params string[] args)
    {
        var result = await _cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, $"herald {string.Join(' ', args)}: {result}");
        return result;
    }

    private async Task<(HttpClient, CookieContainer, string)> SignInAsync(MatrixCaller caller)
    {
        var cookies = new CookieContainer();
        var browser = NewBrowser(cookies);
        var ct = TestContext.Current.CancellationToken;
        if (caller.Role == Role.None)
        {
            return (browser, cookies, Token(await browser.GetStringAsync(new Uri("signin", UriKind.Relative), ct)));
        }

        if (caller.Role == Role.Person)
        {
            await SignInPersonAsync(cookies, PersonName(caller), ct);
            return (browser, cookies, Token(await browser.GetStringAsync(new Uri("me", UriKind.Relative), ct)));
        }

        var signInToken = Token(await browser.GetStringAsync(new Uri("signin", UriKind.Relative), ct));
        using var form = new FormUrlEncodedContent(
        [
            new("__RequestVerificationToken", signInToken), new("name", AdministratorName(caller)), new("password", Password), new("returnUrl", "/"),
        ]);
        using var signedIn = await browser.PostAsync(new Uri("signin", UriKind.Relative), form, ct);
        Assert.True(signedIn.StatusCode == HttpStatusCode.Redirect, $"{caller} could not sign in: {(int)signedIn.StatusCode}");
        // The token of the signed-in session, from a page with a form.
        return (browser, cookies, Token(await browser.GetStringAsync(new Uri("settings", UriKind.Relative), ct)));
    }

    /// <summary>The session <see cref="ConsoleSessions.SignInPersonAsync"/> gives the user, sealed
    /// by the node's own cookie format: the matrix is about what a session may do, not how it was
    /// won (the link tests follow real links).</summary>
    private async Task SignInPersonAsync(CookieContainer cookies, string userId, CancellationToken ct)
    {
        var user = await Services.GetRequiredService<IDirectoryStore>().FindUserAsync(userId, ct) ?? throw new InvalidOperationException("No user " + userId);
        var options = Services.GetRequiredService<IOptionsMonitor<CookieAuthenticationOptions>>().Get(ConsoleExtensions.Scheme);
        var ticket = new AuthenticationTicket(ConsoleSessions.PersonPrincipal(user, PersonSignInMethods.ManageLink), ConsoleExtensions.Scheme);
        cookies.Add(BaseAddress, new Cookie(options.Cookie.Name!, options.TicketDataFormat.Protect(ticket)));
    }

    private HttpClient NewBrowser(CookieContainer cookies) =>
        new(new SocketsHttpHandler { CookieContainer = cookies, AllowAutoRedirect = false })
        {
            BaseAddress = BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };

    private static string Token(string html)
    {
        var match = AntiforgeryToken().Match(html);
        Assert.True(match.Success, "The page has no anti-forgery token:\n" + html);
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
