using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Testing;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>, /usr/bin/prometheus) on a free loopback port,
/// with its own configuration (tests/fixtures/prometheus/prometheus.yml) and data directory in a
/// temporary directory, scraping one target with a bearer key. Disposing kills it and removes the
/// directory.
/// </summary>
public sealed class PrometheusServer : IDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    private readonly string _directory;
    private readonly ProcessOutput _output = new();
    private readonly Process _process;
    private readonly HttpClient _http;

    private PrometheusServer(string directory, Process process, int port)
    {
        _directory = directory;
        _process = process;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    /// <summary>What Prometheus logged (a failed scrape is logged only at debug level: see the
    /// target's health through <see cref="TargetsAsync"/>).</summary>
    public string Output => _output.Text;

    /// <summary>Starts Prometheus scraping <c>http://{target}/metrics</c> with
    /// <c>Authorization: Bearer {bearer}</c>; returns once it says it is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(string target, string bearer)
    {
        var directory = Directory.CreateTempSubdirectory("herald-prometheus-").FullName;
        var credentials = Path.Combine(directory, "herald.key");
        await File.WriteAllTextAsync(credentials, bearer);
        File.SetUnixFileMode(credentials, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var template = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "tests", "fixtures", "prometheus", "prometheus.yml"));
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, template.Replace("{credentials_file}", credentials, StringComparison.Ordinal).Replace("{target}", target, StringComparison.Ordinal));

        for (var attempt = 1; ; attempt++)
        {
            var port = LoopbackPort.Free();
            var start = new ProcessStartInfo(Binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList =
                {
                    $"--config.file={config}",
                    $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                    $"--web.listen-address=127.0.0.1:{port}",
                },
            };
            var process = Process.Start(start) ?? throw new InvalidOperationException($"{Binary} did not start.");
            var server = new PrometheusServer(directory, process, port);
            process.OutputDataReceived += (_, e) => server._output.Append(e.Data);
            process.ErrorDataReceived += (_, e) => server._output.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (await server.WaitUntilReadyAsync())
            {
                return server;
            }

            var output = server.Output;
            server.Stop();
            // Another process took the port between the probe and the bind: take another.
            if (attempt >= 5 || !output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                Directory.Delete(directory, recursive: true);
                throw new InvalidOperationException($"Prometheus did not become ready:\n{output}");
            }
        }
    }

    /// <summary>The result of an instant query (<c>/api/v1/query</c>): each series' labels and value.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string query)
    {
        var answer = await _http.GetFromJsonAsync<JsonElement>($"api/v1/query?query={Uri.EscapeDataString(query)}");
        Assert.Equal("success", answer.GetProperty("status").GetString());
        return answer.GetProperty("data").GetProperty("result").EnumerateArray()
            .Select(series => (
                (IReadOnlyDictionary<string, string>)series.GetProperty("metric").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetString()!),
                double.Parse(series.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture)))
            .ToArray();
    }

    /// <summary>The active targets' health and last scrape error, as Prometheus's status page shows them.</summary>
    public async Task<string> TargetsAsync() => await _http.GetStringAsync(new Uri("api/v1/targets", UriKind.Relative));

    public void Dispose()
    {
        Stop();
        _http.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A file Prometheus still wrote as it died; the temporary directory is left.
        }
    }

    private async Task<bool> WaitUntilReadyAsync()
    {
        var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline && !_process.HasExited)
        {
            try
            {
                using var ready = await _http.GetAsync(new Uri("-/ready", UriKind.Relative));
                if (ready.IsSuccessStatusCode)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        return false;
    }

    private void Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.WaitForExit();
        _process.Dispose();
    }
}
