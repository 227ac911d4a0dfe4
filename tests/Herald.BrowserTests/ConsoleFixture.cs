using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Microsoft.Playwright;

[assembly: AssemblyFixture(typeof(Herald.BrowserTests.ConsoleFixture))]
// One browser and one server on a 2-core machine: the tests take turns.
[assembly: CollectionBehavior(CollectionBehavior.CollectionPerAssembly)]

namespace Herald.BrowserTests;

/// <summary>
/// A real <c>herald serve</c> on its own data directory with administrators, scopes and a message
/// set up through the CLI, two smtp-sinks (one that accepts everything, one that answers RCPT
/// with 4xx so that messages stay deferred), and Debian's chromium driven by Playwright.
/// </summary>
public sealed partial class ConsoleFixture : IAsyncLifetime
{
    public const string RootAdmin = "root-admin";
    public const string FinanceAdmin = "finance-admin";
    public const string LockedAdmin = "locky";
    public const string Password = "correct horse battery staple";
    public const string CredentialKey = "browser-tests-credential-key";

    /// <summary>Messages the fixture delivers to the sink through scope /deliveries before any test runs.</summary>
    public const int DeliveredMessages = 3;

    public static readonly Dictionary<string, string> Environment = new() { ["HERALD_CREDENTIAL_KEY"] = CredentialKey };

    /// <summary>Labels are matched whole: "Server" is not "The server accepts mail…".</summary>
    public static readonly PageGetByLabelOptions Exact = new() { Exact = true };

    private IPlaywright? _playwright;

    private HeraldCommandLine Cli { get; } = new();

    public string DataDirectory => Cli.DataDirectory;

    public SmtpSink Sink { get; private set; } = null!;

    public SmtpSink DeferringSink { get; private set; } = null!;

    public HeraldServer Server { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string ApiKey { get; private set; } = "";

    /// <summary>A message in scope /deferring whose recipient the upstream defers.</summary>
    public string DeferredMessageId { get; private set; } = "";

    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    public async ValueTask InitializeAsync()
    {
        foreach (var (name, value) in Environment)
        {
            Cli.Environment[name] = value;
        }

        Sink = SmtpSink.Start();
        DeferringSink = SmtpSink.Start("-r", "RCPT");
        foreach (var scope in new[] { "/hr", "/finance", "/deferring", "/deliveries" })
        {
            await MustAsync(Cli.RunAsync("scope", "add", scope));
        }

        await MustAsync(Cli.RunWithInputAsync(Password, "admin", "create", "--name", RootAdmin, "--scope", "/"));
        await MustAsync(Cli.RunWithInputAsync(Password, "admin", "create", "--name", FinanceAdmin, "--scope", "/finance"));
        await MustAsync(Cli.RunWithInputAsync(Password, "admin", "create", "--name", LockedAdmin, "--scope", "/"));
        await MustAsync(Cli.RunAsync("smtp", "set", "--scope", "/deferring", "--server", "127.0.0.1", "--port", DeferringSink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--security", "none", "--from", "alerts@example.org", "--from-name", "Deferred alerts"));
        await MustAsync(Cli.RunAsync("smtp", "set", "--scope", "/deliveries", "--server", "127.0.0.1", "--port", Sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--security", "none", "--from", "reports@example.org"));
        var key = await MustAsync(Cli.RunAsync("apikey", "create", "--scope", "/", "--role", "admin", "--name", "browser-tests"));
        ApiKey = key.Output.Trim().Split('\n')[^1].Trim();

        // A deferred message waits an hour before its next attempt, so that only Retry brings one sooner.
        Server = await HeraldServer.StartAsync(Cli.DataDirectory, new Dictionary<string, string>(Environment) { ["HERALD_Delivery__RetryDelays__0"] = "01:00:00" });
        using (var http = Server.Client(ApiKey))
        {
            using var response = await http.PostAsJsonAsync(new Uri("api/v1/messages", UriKind.Relative),
                new { scope = "/deferring", to = new[] { "waiting@example.org" }, subject = "Quarterly report is late", text = "Deferred by the upstream." });
            response.EnsureSuccessStatusCode();
            DeferredMessageId = (await response.Content.ReadFromJsonAsync<Accepted>())!.Id;
            for (var i = 1; i <= DeliveredMessages; i++)
            {
                using var delivered = await http.PostAsJsonAsync(new Uri("api/v1/messages", UriKind.Relative),
                    new { scope = "/deliveries", to = new[] { $"reader{i}@example.org" }, subject = $"Daily report {i}", text = "Delivered." });
                delivered.EnsureSuccessStatusCode();
            }
        }

        await Sink.WaitForAsync(DeliveredMessages, TimeSpan.FromSeconds(30));

        await WaitForAsync(async () => (await Cli.RunAsync("queue", "show", DeferredMessageId)).Output.Contains("deferred after 1 attempt", StringComparison.Ordinal));

        Directory.CreateDirectory(ScreenshotDirectory);
        // As the contexts' timeouts below: an expectation may wait for a slow page, never pass a wrong one.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        });
    }

    /// <summary>The CLI on a data directory of its own, for a test that starts a node of its own
    /// (<c>herald serve</c> on that directory with <see cref="Environment"/> and <paramref name="environment"/>).</summary>
    internal static HeraldCommandLine NodeCommandLine(IReadOnlyDictionary<string, string>? environment = null)
    {
        var cli = new HeraldCommandLine();
        foreach (var (name, value) in Environment.Concat(environment ?? new Dictionary<string, string>()))
        {
            cli.Environment[name] = value;
        }

        return cli;
    }

    /// <summary>A fresh browser context (no cookies) at desktop size.</summary>
    public async Task<IPage> NewPageAsync(HeraldServer? server = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = (server ?? Server).BaseAddress.ToString().TrimEnd('/'),
            ViewportSize = new ViewportSize { Width = 1280, Height = 800 },
        });
        // The browser tests run beside the integration tests on two cores: a first request to a
        // node or to the test's OpenID provider (JIT, key derivation) has taken over 30 s there.
        // Waiting longer asserts nothing about time; it only stops a slow machine failing a test.
        context.SetDefaultTimeout(90_000);
        context.SetDefaultNavigationTimeout(90_000);
        return await context.NewPageAsync();
    }

    /// <summary>A fresh page signed in as <paramref name="name"/> (with <see cref="Password"/>) on
    /// <paramref name="server"/>, the shared node unless a test brings its own.</summary>
    public async Task<IPage> SignedInPageAsync(string name = RootAdmin, HeraldServer? server = null)
    {
        var page = await NewPageAsync(server);
        await page.GotoAsync("/signin");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync(name);
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        try
        {
            // Signed in once the browser is sent on and has the page's document. A password check
            // is slow on purpose and runs one at a time per node (SignIn:HashesAtOnce, half the
            // cores): with every browser test signing in at once beside the integration tests on
            // two cores, a sign-in waited past Playwright's 30 s twice in CI, and the page captured
            // below had rendered by then. So this wait is longer; it is no timing assertion.
            await page.WaitForURLAsync(
                url => !url.Contains("/signin", StringComparison.Ordinal),
                new() { WaitUntil = WaitUntilState.DOMContentLoaded, Timeout = 120_000 });
        }
        catch (TimeoutException)
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, $"signin-failed-{name}.png"), FullPage = true });
            throw;
        }

        return page;
    }

    /// <summary>The page as it looks at 1280×800 and at a 390 px phone width, whole-page PNGs.</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        await page.SetViewportSizeAsync(1280, 800);
        // A page scrolled to a result (#test-panel) would draw its sticky header mid-page in a full-page shot.
        await page.EvaluateAsync("window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, $"{name}-desktop.png"), FullPage = true });
        await page.SetViewportSizeAsync(390, 844);
        await page.EvaluateAsync("window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, $"{name}-phone.png"), FullPage = true });
        await page.SetViewportSizeAsync(1280, 800);
    }

    /// <summary>Runs a herald verb on the server's data directory and returns what it printed (stdout and stderr).</summary>
    public async Task<string> CliAsync(params string[] args)
    {
        var result = await Cli.RunAsync(args);
        return result.Output + result.Error;
    }

    /// <summary>Runs a herald verb with standard input; it must succeed.</summary>
    public async Task CliWithInputAsync(string input, params string[] args) => await MustAsync(Cli.RunWithInputAsync(input, args));

    private static async Task<CliResult> MustAsync(Task<CliResult> run)
    {
        var result = await run;
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    public static async Task WaitForAsync(Func<Task<bool>> condition, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not hold in time.");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>The line of <c>herald smtp show</c> for one setting: value and origin.</summary>
    public static Regex SettingLine(string label, string value, string origin) =>
        new($@"^\s+{Regex.Escape(label)}\s+{Regex.Escape(value)}  \({Regex.Escape(origin)}\)\s*$", RegexOptions.Multiline);

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }

        Sink?.Dispose();
        DeferringSink?.Dispose();
        Cli.Dispose();
    }

    private sealed record Accepted(string Id, bool Duplicate);
}
