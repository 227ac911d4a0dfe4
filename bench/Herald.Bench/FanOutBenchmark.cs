using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Bench.Node;
using Herald.Bench.Processes;
using Herald.Bench.Upstream;

namespace Herald.Bench;

internal sealed record FanOutOptions(string HeraldDll, string WorkDirectory, int Members, int ConnectionLimit, TimeSpan StallTimeout, bool RecordExplanations = true);

/// <summary>What one event to a large group cost: until its 202, until its explanation was stored
/// (when recorded), until the sink counted the last mail; and how much the SQLite database (file and
/// write-ahead log) grew from before the event until then.</summary>
internal sealed record FanOutFigures(
    int Members, TimeSpan Import, TimeSpan Acknowledged, TimeSpan? Delivered, long Counted, bool RecordExplanations, TimeSpan? Explained, long DatabaseGrowth)
{
    public string Format() => string.Join('\n',
        $"explain records                 {(RecordExplanations ? "on" : "off (Notifications:RecordExplanations=false)")}",
        $"members                         {Members:#,0}",
        $"directory import (herald CLI)   {Import.TotalSeconds:0.0} s (set-up, not part of the figure)",
        $"event POST → 202                {Acknowledged.TotalMilliseconds:0} ms",
        Explained is { } explained
            ? $"event POST → explanation stored {explained.TotalSeconds:0.0} s (every candidate's row written)"
            : "event POST → explanation stored —",
        Delivered is { } delivered
            ? $"event POST → last mail at sink  {delivered.TotalSeconds:0.0} s ({Counted / delivered.TotalSeconds:#,0} mails/s; target under 60 s)"
            : $"event POST → last mail at sink  not reached: the sink counted {Counted:#,0} of {Members:#,0} before delivery stalled",
        $"database growth (db + WAL)      {DatabaseGrowth / 1048576.0:0.0} MiB ({DatabaseGrowth / (double)Members:0} bytes per member)");
}

/// <summary>
/// One event to a group of <see cref="FanOutOptions.Members"/> users, end to end: a fresh SQLite
/// node, the directory imported with <c>herald directory import</c> (every user in one group, which
/// holds View on /), one immediate group subscription, then one <c>item.changed</c> posted over
/// HTTP; timed until smtp-sink has counted one mail per member.
/// </summary>
internal sealed class FanOutBenchmark(FanOutOptions options, ChildProcesses children, HttpClient http, TextWriter progress)
{
    public async Task<FanOutFigures> RunAsync(CancellationToken cancellationToken)
    {
        var directory = Path.Combine(options.WorkDirectory, "fanout");
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory);
        using var sink = await SinkCounter.StartAsync(children, Ports.Free(), Path.Combine(directory, "smtp-sink.log"), cancellationToken);
        var data = Path.Combine(directory, "data");
        using var node = new HeraldNode(
            options.HeraldDll, data, null, Path.Combine(directory, "serve.log"), children,
            new Dictionary<string, string?> { ["HERALD_Notifications__RecordExplanations"] = options.RecordExplanations ? "true" : "false" });
        await node.ConfigureSmtpAsync(sink.Port, options.ConnectionLimit, cancellationToken);

        progress.WriteLine($"fanout: importing {options.Members:#,0} users in one group");
        var people = Path.Combine(directory, "people.json");
        await File.WriteAllTextAsync(people, JsonSerializer.Serialize(new
        {
            users = Enumerable.Range(0, options.Members).Select(i => new { id = $"u{i}", name = $"User {i}", email = $"u{i}@example.org", timeZone = "UTC", language = "en" }),
            groups = new[] { new { id = "everyone", name = "Everyone", delivery = "members", members = Enumerable.Range(0, options.Members).Select(i => $"user:u{i}") } },
        }), cancellationToken);
        var import = Stopwatch.StartNew();
        await node.RunVerbAsync(["directory", "import", people], cancellationToken);
        import.Stop();
        await node.RunVerbAsync(["access", "grant", "--scope", "/", "--principal", "group:everyone", "--level", "view"], cancellationToken);
        await node.RunVerbAsync(["subscription", "add", "--id", "all-docs", "--owner", "group:everyone", "--scope", "/", "--type", "item.changed"], cancellationToken);
        var key = await node.CreateApiKeyAsync("sender", cancellationToken);
        var admin = await node.CreateApiKeyAsync("admin", cancellationToken);
        await node.StartAsync(Ports.Free(), http, cancellationToken);

        progress.WriteLine("fanout: posting one item.changed event");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.BaseAddress!, "api/v1/events"))
        {
            Content = JsonContent.Create(new { id = "fanout-1", type = "item.changed", scope = "/", resourcePath = "/docs/handbook.pdf", actor = "author@example.org", title = "Employee handbook" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var before = DatabaseBytes(data);
        var started = Stopwatch.GetTimestamp();
        using (var response = await http.SendAsync(request, cancellationToken))
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST /api/v1/events answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }

        var acknowledged = Stopwatch.GetElapsedTime(started);
        var explained = options.RecordExplanations ? WhenExplainedAsync(node.BaseAddress!, admin, started, cancellationToken) : Task.FromResult<TimeSpan?>(null);
        var reachedAt = await sink.WaitForMessagesAsync(options.Members, options.StallTimeout, cancellationToken);
        var explainedAfter = await explained;
        return new FanOutFigures(
            options.Members, import.Elapsed, acknowledged, reachedAt is { } at ? Stopwatch.GetElapsedTime(started, at) : null, sink.Latest.Messages,
            options.RecordExplanations, explainedAfter, DatabaseBytes(data) - before);
    }

    /// <summary>Asks for one member's explanation until it is there: it is written once every
    /// email is stored, in one go.</summary>
    private async Task<TimeSpan?> WhenExplainedAsync(Uri baseAddress, string key, long started, CancellationToken cancellationToken)
    {
        while (Stopwatch.GetElapsedTime(started) < options.StallTimeout * 10)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseAddress, "api/v1/events/fanout-1/explain?scope=%2F&recipient=u0"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return Stopwatch.GetElapsedTime(started);
            }

            await Task.Delay(50, cancellationToken);
        }

        return null;
    }

    private static readonly string[] DatabaseFiles = ["herald.db", "herald.db-wal"];

    private static long DatabaseBytes(string data) =>
        DatabaseFiles.Select(name => new FileInfo(Path.Combine(data, name))).Where(f => f.Exists).Sum(f => f.Length);
}
