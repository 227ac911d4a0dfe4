using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Herald.Testing;

namespace Herald.IntegrationTests.Serve;

/// <summary><c>herald serve</c> as a real process, as an operator starts it.</summary>
public sealed class ServeTests : IDisposable
{
    private readonly HeraldCommandLine _herald = new();

    [Fact]
    public async Task Serve_migrates_the_database_answers_healthz_and_logs_where_everything_is()
    {
        var port = FreePort();
        using var serve = StartServe(port, ("HERALD_CREDENTIAL_KEY", "serve test passphrase"));
        using var http = new HttpClient();

        var (status, body) = await WaitForHealthAsync(http, port, serve);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"status\":\"ok\"", body, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_herald.DataDirectory, "herald.db")));
        var log = serve.Output;
        Assert.Contains($"Data directory {_herald.DataDirectory}", log, StringComparison.Ordinal);
        Assert.Contains($"http://127.0.0.1:{port}", log, StringComparison.Ordinal);
        Assert.Contains("Credential key from the HERALD_CREDENTIAL_KEY environment variable matches the database", log, StringComparison.Ordinal);
        Assert.DoesNotContain("serve test passphrase", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_whose_credential_key_differs_from_the_database_refuses_to_start()
    {
        var set = await _herald.RunWithInputAsync("the farm's passphrase\n", "key", "set");
        Assert.Equal(0, set.ExitCode);
        using var serve = StartServe(FreePort(), ("HERALD_CREDENTIAL_KEY", "another node's passphrase"));

        Assert.True(serve.Process.WaitForExit(TimeSpan.FromSeconds(60)), "serve kept running with the wrong key");

        Assert.NotEqual(0, serve.Process.ExitCode);
        Assert.Contains("does not match this database's key", serve.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("another node's passphrase", serve.Output, StringComparison.Ordinal);
    }

    private RunningServe StartServe(int port, params (string Name, string Value)[] environment)
    {
        var herald = Path.Combine(AppContext.BaseDirectory, "herald.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { herald, "serve", "--data-dir", _herald.DataDirectory, "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("HERALD_CREDENTIAL_KEY");
        start.Environment.Remove("HERALD_DATA_DIR");
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return new RunningServe(Process.Start(start)!);
    }

    private static async Task<(HttpStatusCode, string)> WaitForHealthAsync(HttpClient http, int port, RunningServe serve)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !serve.Process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"), TestContext.Current.CancellationToken);
                return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            }
            catch (HttpRequestException)
            {
                await Task.Delay(200, TestContext.Current.CancellationToken);
            }
        }

        throw new TimeoutException("herald serve did not answer /healthz:\n" + serve.Output);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose() => _herald.Dispose();

    /// <summary>A serve process whose output is collected as it runs, and which is stopped at the end.</summary>
    private sealed class RunningServe : IDisposable
    {
        private readonly StringBuilder _output = new();

        public RunningServe(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(line);
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit();
            }

            Process.Dispose();
        }
    }
}
