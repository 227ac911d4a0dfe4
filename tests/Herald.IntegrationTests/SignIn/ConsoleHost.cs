using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Herald.Access;
using Herald.Cli;
using Herald.IntegrationTests.Storage;
using Herald.Outbox;
using Herald.Testing;
using Herald.Web;
using Herald.Web.Console;
using Herald.Web.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.IntegrationTests.SignIn;

/// <summary>
/// The web console in process, as <c>herald serve</c> composes it, on a test's real database
/// (SQLite or PostgreSQL), with browsers that keep cookies and may connect from another loopback
/// address; administrators are managed through the real <c>herald admin</c> verbs on the same
/// database, as an operator on another node would.
/// </summary>
internal sealed partial class ConsoleHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ConsoleHost(WebApplication app, TestDatabase database)
    {
        _app = app;
        Database = database;
        BaseAddress = new Uri(app.Urls.First() + "/");
        Cli = new HeraldCommandLine(database.DataDirectory);
        if (database.Url is { } url)
        {
            Cli.Environment["HERALD_DATABASE"] = url;
        }
    }

    public TestDatabase Database { get; }

    public IServiceProvider Services => _app.Services;

    public Uri BaseAddress { get; }

    /// <summary><c>herald</c> verbs on this host's database. Not disposed: it would delete the data
    /// directory, which the database owns.</summary>
    public HeraldCommandLine Cli { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Starts the console; <paramref name="settings"/> are what an operator sets as
    /// <c>HERALD_Section__Name</c> (<c>OpenIdConnect:Authority</c> here), <paramref name="time"/> the node's clock.</summary>
    public static async Task<ConsoleHost> StartAsync(TestDatabase database, Action<SignInOptions>? signIn = null,
        IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        var console = new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, _ => null, false);
        builder.Services.AddHeraldNode(database.DataDirectory, database.Database, console);
        builder.Services.AddSingleton(new NodeIdentity("console-host", []));
        if (signIn is not null)
        {
            builder.Services.Configure(signIn);
        }

        builder.Services.AddHeraldWeb();
        // /metrics (mapped with the API) is OpenTelemetry's exporter, as serve composes it.
        builder.Services.AddHeraldTelemetry(builder.Configuration, "console-host");
        builder.Services.AddConsoleKeyRing(inDatabase: false, Path.Combine(database.DataDirectory, "console-keys"));
        var app = builder.Build();
        app.MapHeraldApi();
        await app.StartAsync(Ct);
        return new ConsoleHost(app, database);
    }

    /// <summary><c>herald admin create</c>, failing the test unless it worked.</summary>
    public async Task CreateAdministratorAsync(string name, string password, string scope = "/")
    {
        var created = await Cli.RunWithInputAsync(password + "\n", "admin", "create", "--name", name, "--scope", scope);
        Assert.True(created.ExitCode == 0, created.ToString());
    }

    /// <summary>A browser: its own cookies, redirects not followed, connecting from <paramref name="from"/>
    /// (127.0.0.1 unless said otherwise; 127.0.0.2 is "another client").</summary>
    public HttpClient Browser(IPAddress? from = null)
    {
        var handler = new SocketsHttpHandler
        {
            CookieContainer = new CookieContainer(),
            AllowAutoRedirect = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(from ?? IPAddress.Loopback, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>Fills in and posts the sign-in form.</summary>
    public static Task<HttpResponseMessage> SignInAsync(HttpClient browser, string name, string password) =>
        PostFormAsync(browser, "signin", ("name", name), ("password", password), ("returnUrl", "/"));

    /// <summary>Opens <paramref name="page"/> and posts its form back, as a browser does: the page's
    /// anti-forgery token with the typed fields.</summary>
    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient browser, string page, params (string Name, string Value)[] fields)
    {
        var uri = new Uri(page, UriKind.Relative);
        var html = await browser.GetStringAsync(uri, Ct);
        var token = AntiforgeryToken().Match(html);
        Assert.True(token.Success, $"{page} has no anti-forgery token:\n{html}");
        using var form = new FormUrlEncodedContent(
            [new("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value)), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
        return await browser.PostAsync(uri, form, Ct);
    }

    /// <summary>The response's body with its anti-forgery token (new on every page) blanked out.</summary>
    public static async Task<string> BodyWithoutTokenAsync(HttpResponseMessage response) =>
        AntiforgeryToken().Replace(await response.Content.ReadAsStringAsync(Ct), m => m.Value.Replace(m.Groups[1].Value, "TOKEN", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    internal static partial Regex AntiforgeryToken();
}
