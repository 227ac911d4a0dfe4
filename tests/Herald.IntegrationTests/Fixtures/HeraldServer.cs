using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>A real <c>herald serve</c> process, as an operator runs it: its own data directory
/// (or a shared PostgreSQL database), environment and loopback port; its output is collected.</summary>
public sealed class HeraldServer : IAsyncDisposable
{
    private readonly ProcessOutput _output = new();
    private readonly ProcessOutput _standardOutput = new();

    private HeraldServer(Process process, int port)
    {
        Process = process;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        process.OutputDataReceived += (_, e) =>
        {
            _output.Append(e.Data);
            _standardOutput.Append(e.Data);
        };
        process.ErrorDataReceived += (_, e) => _output.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public Uri BaseAddress { get; }

    /// <summary>Standard output and standard error, in the order they came.</summary>
    public string Output => _output.Text;

    /// <summary>Standard output alone (where the log goes).</summary>
    public string StandardOutput => _standardOutput.Text;

    /// <summary>Starts the process without waiting for it to answer.</summary>
    public static HeraldServer Launch(string dataDirectory, IReadOnlyDictionary<string, string>? environment = null, params string[] extraArgs)
    {
        var port = LoopbackPort.Free();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "herald.dll"), "serve", "--data-dir", dataDirectory, "--urls", $"http://127.0.0.1:{port}" }.Concat(extraArgs))
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("HERALD_", StringComparison.Ordinal)).ToArray())
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return new HeraldServer(Process.Start(start)!, port);
    }

    /// <summary>Starts the process and returns once <c>/healthz</c> answers.</summary>
    public static async Task<HeraldServer> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string>? environment = null, params string[] extraArgs)
    {
        var server = Launch(dataDirectory, environment, extraArgs);
        await server.WaitUntilHealthyAsync();
        return server;
    }

    public async Task<(HttpStatusCode Status, string Body)> WaitUntilHealthyAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseAddress };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !Process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(new Uri("healthz", UriKind.Relative));
                return (response.StatusCode, await response.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException("herald serve did not answer /healthz:\n" + Output);
    }

    /// <summary>An HTTP client for the API, with a bearer key when given.</summary>
    public HttpClient Client(string? apiKey = null)
    {
        var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return http;
    }

    /// <summary>Waits until the process has written <paramref name="text"/> (its log reaches the
    /// output a moment after the event).</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"herald serve did not write '{text}':\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: the node dies at once, mid-whatever, as in a crash.</summary>
    public void Kill()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        Process.Dispose();
        return ValueTask.CompletedTask;
    }


}
