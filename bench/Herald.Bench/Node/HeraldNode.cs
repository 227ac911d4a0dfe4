using System.Diagnostics;
using System.Globalization;
using Herald.Bench.Processes;

namespace Herald.Bench.Node;

/// <summary>
/// One Herald node as an operator runs it: <c>dotnet herald.dll VERB --data-dir D …</c> for the
/// administrator verbs, then <c>herald serve</c> as a child process. With PostgreSQL every verb
/// gets <c>--database</c> too, since settings and API keys live in the database the node serves.
/// <paramref name="serveEnvironment"/> is added to the environment of <c>herald serve</c> only
/// (configuration such as <c>HERALD_Relay__GreetingDelay</c>).
/// </summary>
internal sealed class HeraldNode(
    string heraldDll, string dataDirectory, string? databaseUrl, string logFile, ChildProcesses children, IReadOnlyDictionary<string, string?>? serveEnvironment = null) : IDisposable
{
    private static readonly TimeSpan VerbTimeout = TimeSpan.FromSeconds(120);

    // A passphrase of the benchmark's own, so that no key from the operator's environment is read.
    private static readonly Dictionary<string, string?> Environment = new()
    {
        ["HERALD_CREDENTIAL_KEY"] = "herald bench passphrase, amber kestrel",
        ["HERALD_CREDENTIAL_KEY_FILE"] = null,
        ["HERALD_DATA_DIR"] = null,
    };

    private Process? _serve;

    public Uri? BaseAddress { get; private set; }

    /// <summary>The process id of the running <c>herald serve</c> (dotnet runs herald.dll in
    /// its own process, so this is the node itself).</summary>
    public int ProcessId => _serve?.Id ?? throw new InvalidOperationException("herald serve is not running.");

    /// <summary><c>herald smtp set</c>: the global scope sends to the sink, unencrypted, anonymously.</summary>
    public async Task ConfigureSmtpAsync(int sinkPort, int connectionLimit, CancellationToken cancellationToken) =>
        await RunVerbAsync(
            ["smtp", "set", "--server", "127.0.0.1", "--port", sinkPort.ToString(CultureInfo.InvariantCulture), "--security", "none",
             "--from", "bench@example.org", "--connection-limit", connectionLimit.ToString(CultureInfo.InvariantCulture)],
            cancellationToken);

    /// <summary><c>herald relay set</c>: an anonymous relay listener on 127.0.0.1 into scope /,
    /// open to loopback clients only.</summary>
    public async Task ConfigureRelayAsync(int port, CancellationToken cancellationToken) =>
        await RunVerbAsync(
            ["relay", "set", "--listen", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--scope", "/", "--access", "only-list", "--allow", "127.0.0.0/8", "--auth", "none"],
            cancellationToken);

    /// <summary>Waits until the started node's relay listener accepts connections.</summary>
    public Task WaitForRelayAsync(int port, CancellationToken cancellationToken) =>
        Ports.WaitUntilListeningAsync(port, _serve ?? throw new InvalidOperationException("herald serve is not running."), "herald serve's relay listener", logFile, cancellationToken);

    /// <summary><c>herald apikey create --scope / --role ROLE</c>; the key is the last line printed.</summary>
    public async Task<string> CreateApiKeyAsync(string role, CancellationToken cancellationToken) =>
        ApiKeyFrom(await RunVerbAsync(["apikey", "create", "--scope", "/", "--role", role], cancellationToken));

    /// <summary>The contract: the new key alone on the last line of standard output.</summary>
    public static string ApiKeyFrom(string output) =>
        output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0) is { } key && !key.Contains(' ', StringComparison.Ordinal)
            ? key
            : throw new InvalidOperationException($"'herald apikey create' did not end its output with a key:\n{output}");

    /// <summary>Starts <c>herald serve</c> and waits until <c>GET /healthz</c> answers 200.</summary>
    public async Task StartAsync(int httpPort, HttpClient http, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet");
        foreach (var argument in Arguments(["serve", "--urls", $"http://127.0.0.1:{httpPort}"]))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in Environment.Concat(serveEnvironment ?? new Dictionary<string, string?>()))
        {
            start.Environment[name] = value;
        }

        _serve = children.Start(start, logFile);
        BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/");
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(90))
        {
            if (_serve.HasExited)
            {
                throw new InvalidOperationException($"herald serve exited with {_serve.ExitCode}; see {logFile}:\n{Tail(logFile)}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(BaseAddress, "healthz"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"herald serve did not answer /healthz within 90 s; see {logFile}:\n{Tail(logFile)}");
    }

    /// <summary>SIGKILL, as a crash or a pulled plug would end it: nothing is flushed or closed.
    /// <see cref="StartAsync"/> starts it again on the same data.</summary>
    public void Kill()
    {
        if (_serve is not null)
        {
            children.Stop(_serve);
            _serve = null;
        }
    }

    public void Dispose() => Kill();

    /// <summary>Runs an administrator verb (<c>herald VERB …</c>) on this node's data; fails unless it exits 0.</summary>
    public async Task<string> RunVerbAsync(string[] verb, CancellationToken cancellationToken)
    {
        var result = await Command.RunAsync("dotnet", Arguments(verb), Environment, VerbTimeout, cancellationToken);
        return result.ExitCode == 0
            ? result.Output
            : throw new InvalidOperationException($"'herald {string.Join(' ', verb)}' failed: {result}");
    }

    private IEnumerable<string> Arguments(string[] verb) =>
        [heraldDll, .. verb, "--data-dir", dataDirectory, .. databaseUrl is null ? Array.Empty<string>() : ["--database", databaseUrl]];

    private static string Tail(string logFile) =>
        File.Exists(logFile) ? string.Join('\n', File.ReadLines(logFile).TakeLast(25)) : "(no log)";
}
