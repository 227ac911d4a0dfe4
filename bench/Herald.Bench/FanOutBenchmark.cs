using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.Bench.Node;
using Herald.Bench.Processes;
using Herald.Bench.Upstream;
using Microsoft.Data.Sqlite;

namespace Herald.Bench;

internal sealed record FanOutOptions(string HeraldDll, string WorkDirectory, int Members, int ConnectionLimit, TimeSpan StallTimeout, bool RecordExplanations = true);

/// <summary>What one event to a large group cost: until its 202, until its explanation was stored
/// (when recorded), until the sink counted the last mail; and how much the SQLite database (file and
/// write-ahead log) grew from before the event until then.</summary>
internal sealed record FanOutFigures(
    int Members, TimeSpan Import, TimeSpan Acknowledged, TimeSpan? Delivered, long Counted, bool RecordExplanations, TimeSpan? Explained, long DatabaseGrowth,
    long PagesGrowth, long Candidates)
{
    public string Format() => string.Join('\n',
        $"explain records                 {(RecordExplanations ? "on" : "off (Notifications:RecordExplanations=false)")}",
        $"members                         {Members:#,0}",
        $"directory import (herald CLI)   {Import.TotalSeconds:0.0} s (set-up, not part of the figure)",
        $"event POST → 202                {Acknowledged.TotalMilliseconds:0} ms",
        Explained is { } explained
            ? $"event POST → explanation stored {explained.TotalSeconds:0.0} s (the last of every candidate's rows committed)"
            : "event POST → explanation stored —",
        Delivered is { } delivered
            ? $"event POST → last mail at sink  {delivered.TotalSeconds:0.0} s ({Counted / delivered.TotalSeconds:#,0} mails/s; target under 60 s)"
            : $"event POST → last mail at sink  not reached: the sink counted {Counted:#,0} of {Members:#,0} before delivery stalled",
        $"database growth (db + WAL)      {DatabaseGrowth / 1048576.0:0.0} MiB ({DatabaseGrowth / (double)Members:0} bytes per member; the WAL's size is its high-water mark)",
        $"database pages in use, growth   {PagesGrowth / 1048576.0:0.0} MiB ({PagesGrowth / (double)Members:0} bytes per member), {Candidates:#,0} explain candidate rows");
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
        await node.StartAsync(Ports.Free(), http, cancellationToken);

        progress.WriteLine("fanout: posting one item.changed event");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.BaseAddress!, "api/v1/events"))
        {
            Content = JsonContent.Create(new { id = "fanout-1", type = "item.changed", scope = "/", resourcePath = "/docs/handbook.pdf", actor = "author@example.org", title = "Employee handbook" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var before = DatabaseBytes(data);
        var pagesBefore = (await DatabaseUseAsync(data, cancellationToken)).Bytes;
        var started = Stopwatch.GetTimestamp();
        using (var response = await http.SendAsync(request, cancellationToken))
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST /api/v1/events answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }

        var acknowledged = Stopwatch.GetElapsedTime(started);
        var explained = options.RecordExplanations ? WhenExplainedAsync(data, started, cancellationToken) : Task.FromResult<TimeSpan?>(null);
        var reachedAt = await sink.WaitForMessagesAsync(options.Members, options.StallTimeout, cancellationToken);
        var explainedAfter = await explained;
        var after = await DatabaseUseAsync(data, cancellationToken);
        return new FanOutFigures(
            options.Members, import.Elapsed, acknowledged, reachedAt is { } at ? Stopwatch.GetElapsedTime(started, at) : null, sink.Latest.Messages,
            options.RecordExplanations, explainedAfter, DatabaseBytes(data) - before, after.Bytes - pagesBefore, after.Candidates);
    }

    /// <summary>Waits until the explanation holds a row for every member: the first is readable
    /// through the API as soon as its first transaction commits (rows are written 10,000 to a
    /// transaction), so the end is counted in the database, read-only.</summary>
    private async Task<TimeSpan?> WhenExplainedAsync(string data, long started, CancellationToken cancellationToken)
    {
        while (Stopwatch.GetElapsedTime(started) < options.StallTimeout * 10)
        {
            if ((await DatabaseUseAsync(data, cancellationToken)).Candidates >= options.Members)
            {
                return Stopwatch.GetElapsedTime(started);
            }

            await Task.Delay(200, cancellationToken);
        }

        return null;
    }

    /// <summary>The database's pages in use (page count less free pages, as a reader sees it, WAL
    /// included) and its explain candidate rows, read-only beside the running node: growth without
    /// the WAL file's high-water mark.</summary>
    private static async Task<(long Bytes, long Candidates)> DatabaseUseAsync(string data, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(data, "herald.db"), Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT ((SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())) * (SELECT page_size FROM pragma_page_size()),
                   (SELECT COUNT(*) FROM event_candidates)
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static readonly string[] DatabaseFiles = ["herald.db", "herald.db-wal"];

    private static long DatabaseBytes(string data) =>
        DatabaseFiles.Select(name => new FileInfo(Path.Combine(data, name))).Where(f => f.Exists).Sum(f => f.Length);
}
