using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

namespace Herald.IntegrationTests.Outbox;

/// <summary>A configured Herald node for outbox tests: SMTP settings for / pointing at an
/// upstream, scopes /hr and /finance, API keys made with the CLI, and <c>herald serve</c> running.</summary>
internal sealed class OutboxNode : IAsyncDisposable
{
    public static readonly Dictionary<string, string> FastRetries = new()
    {
        ["HERALD_Delivery__RetryDelays__0"] = "00:00:01",
        ["HERALD_Delivery__Jitter"] = "0",
        ["HERALD_Delivery__PollInterval"] = "00:00:00.200",
    };

    private OutboxNode(HeraldCommandLine cli, HeraldServer server)
    {
        Cli = cli;
        Server = server;
    }

    public HeraldCommandLine Cli { get; }

    public HeraldServer Server { get; }

    public static Task<OutboxNode> StartAsync(int upstreamPort, IReadOnlyDictionary<string, string>? environment = null, params string[] smtpFlags) =>
        StartAsync(upstreamPort, environment, configure: null, smtpFlags);

    /// <param name="configure">More <c>herald</c> verbs to run before serve starts.</param>
    public static async Task<OutboxNode> StartAsync(
        int upstreamPort, IReadOnlyDictionary<string, string>? environment, Func<HeraldCommandLine, Task>? configure, params string[] smtpFlags)
    {
        var cli = new HeraldCommandLine();
        // Every node of a test has the credential key, so settings with a password can be stored.
        var merged = new Dictionary<string, string>(FastRetries) { ["HERALD_CREDENTIAL_KEY"] = "outbox tests' passphrase" };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            merged[name] = value;
        }

        foreach (var (name, value) in merged)
        {
            cli.Environment[name] = value;
        }

        await MustAsync(cli, ["smtp", "set", "--server", "127.0.0.1", "--port", $"{upstreamPort}", "--security", "none", "--from", "herald@example.org", .. smtpFlags]);
        await MustAsync(cli, "scope", "add", "/hr");
        await MustAsync(cli, "scope", "add", "/finance");
        if (configure is not null)
        {
            await configure(cli);
        }

        return new OutboxNode(cli, await HeraldServer.StartAsync(cli.DataDirectory, merged));
    }

    public async Task<string> KeyAsync(string scope, string role)
    {
        var created = await MustAsync(Cli, "apikey", "create", "--scope", scope, "--role", role);
        return created.Output.TrimEnd().Split('\n')[^1];
    }

    public static async Task<CliResult> MustAsync(HeraldCommandLine cli, params string[] args)
    {
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    public static async Task<string> SendAsync(HttpClient http, object message)
    {
        using var response = await http.PostAsJsonAsync("api/v1/messages", message);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Polls the message until every recipient satisfies the condition.</summary>
    public static async Task<JsonElement> WaitForAsync(HttpClient http, string id, Func<string, bool> recipientState, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        JsonElement last = default;
        while (DateTime.UtcNow < deadline)
        {
            last = JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/v1/messages/{id}", UriKind.Relative))).RootElement;
            if (Recipients(last).All(r => recipientState(r.GetProperty("state").GetString()!)))
            {
                return last;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Message {id} did not reach the expected state: {last}");
    }

    public static IEnumerable<JsonElement> Recipients(JsonElement details) =>
        details.GetProperty("message").GetProperty("recipients").EnumerateArray();

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Cli.Dispose();
    }
}
