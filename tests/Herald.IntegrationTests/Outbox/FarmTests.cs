using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Storage.Database;
using Herald.Testing;

namespace Herald.IntegrationTests.Outbox;

/// <summary>
/// Several <c>herald serve</c> nodes on one PostgreSQL database (DESIGN.md, "More than one
/// node"): they share the settings configured once with the CLI, claim outbox work with leases,
/// and a node that dies loses nothing. Each node has its own data directory and name and the
/// same credential key.
/// </summary>
public sealed partial class FarmTests(ITestOutputHelper output) : IDisposable
{
    private const string Passphrase = "farm tests' passphrase";

    /// <summary>Short, so that the dead node's messages are taken over within seconds.</summary>
    private const string Lease = "00:00:05";

    private readonly List<string> _dataDirectories = [];

    [Fact]
    public async Task A_node_killed_mid_run_loses_nothing_and_only_messages_it_had_claimed_are_delivered_twice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        // The upstream answers the final dot a second after storing the message, so node-b dies
        // with transactions the upstream has accepted and node-b never heard of.
        using var sink = SmtpSink.Start("-W", ".:1");
        using var cli = Cli(database);
        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org", "--connection-limit", "32");
        var apiKey = await AdminKeyAsync(cli);

        string[] names = ["node-a", "node-b", "node-c"];
        const string victim = "node-b";
        var nodes = names.Select(name => HeraldServer.Launch(NodeDirectory(), NodeEnvironment(database), "--node-name", name)).ToArray();
        try
        {
            await Task.WhenAll(nodes.Select(n => n.WaitUntilHealthyAsync()));
            // Request n goes to node n mod 3; while node-b is dead its share simply fails.
            var load = SubmissionLoad.Start(clients: 6, TimeSpan.FromMilliseconds(50), apiKey, n => new(names[n % 3], nodes[n % 3].BaseAddress));
            HashSet<string> claimedByVictim;
            await using (load)
            {
                // Every node accepts and delivers part of the stream before node-b dies.
                foreach (var name in names)
                {
                    await load.WaitUntilAcknowledgedAsync(name, 25);
                }

                nodes[1].Kill();
                // node-b renewed its leases at most a third of a lease ago, so for seconds more no
                // other node may touch these rows: this is exactly what it held when it died
                // (claimed, perhaps sent, never recorded).
                claimedByVictim = await ClaimedByAsync(database, victim, ct);
                output.WriteLine($"{victim} killed holding {claimedByVictim.Count} claimed, unrecorded message(s); {load.Acknowledged.Count} acknowledged so far");
                // The survivors go on accepting while they take over node-b's messages.
                await load.WaitUntilAcknowledgedAsync("node-a", load.AcknowledgedBy("node-a") + 30);
                await load.WaitUntilAcknowledgedAsync("node-c", load.AcknowledgedBy("node-c") + 30);
                await load.StopAsync();
            }

            var acknowledged = load.Acknowledged;
            output.WriteLine($"{acknowledged.Count} acknowledged ({string.Join(", ", names.Select(n => $"{n} {acknowledged.Values.Count(v => v == n)}"))}), {load.Failed} request(s) failed");
            Assert.Empty(load.Unexpected);

            using var http = nodes[0].Client(apiKey);
            await CrashTests.WaitUntilNothingPendingAsync(http, ct);
            await CrashTests.SettleAsync(sink, TimeSpan.Parse(Lease, CultureInfo.InvariantCulture) + TimeSpan.FromSeconds(1));
            var details = await DetailsAsync(http, acknowledged.Keys, ct);
            var received = CrashTests.CopiesByMessageId(sink);

            var lost = details.Where(d => !received.ContainsKey(d.Value.MessageId)).Select(d => d.Key).ToArray();
            Assert.True(lost.Length == 0, $"{lost.Length} acknowledged message(s) never reached the sink: {string.Join(", ", lost.Take(20))}");
            var stored = await StoredMessageIdsAsync(database, ct);
            var unknown = received.Keys.Where(m => !stored.ContainsKey(m)).ToArray();
            Assert.True(unknown.Length == 0, $"The sink received message(s) the outbox never stored: {string.Join(", ", unknown.Take(20))}");

            // The history holds exactly one successful attempt per message: a node whose lease
            // was taken over never records over the node that took it.
            var notOnce = details.Where(d => d.Value.Attempts.Count(a => a.Outcome == "sent") != 1 || d.Value.Attempts.Any(a => a.Outcome != "sent")).ToArray();
            Assert.True(notOnce.Length == 0, "Attempt history not a single 'sent': " + string.Join("; ", notOnce.Take(5).Select(d => $"{d.Key}: {string.Join(", ", d.Value.Attempts)}")));

            var duplicates = received.Where(r => r.Value > 1).Select(r => (Id: stored[r.Key], Copies: r.Value)).ToArray();
            output.WriteLine(
                $"{received.Count} distinct message(s) received; {duplicates.Length} delivered twice or more (bound: {claimedByVictim.Count} claimed by {victim}); "
                + "sent by " + string.Join(", ", details.Values.SelectMany(d => d.Attempts).GroupBy(a => a.Node).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}")));
            foreach (var (id, copies) in duplicates)
            {
                var recorded = details.TryGetValue(id, out var d) ? string.Join(", ", d.Attempts.Select(a => a.Node)) : "(not acknowledged)";
                output.WriteLine($"  duplicate {id}: {copies} copies; claimed by {victim} at its death: {claimedByVictim.Contains(id)}; recorded as sent by {recorded}");
            }

            // A second copy is the takeover of a message the dead node held: it held the lease
            // when it died, it sent at most once, and the surviving node that took the message
            // over is the one whose attempt is recorded.
            var unexplained = duplicates.Where(d => d.Copies > 2 || !claimedByVictim.Contains(d.Id)).ToArray();
            Assert.True(unexplained.Length == 0, "Delivered twice without having been claimed by the killed node: " + string.Join(", ", unexplained.Select(d => $"{d.Id} x{d.Copies}")));
            foreach (var (id, _) in duplicates.Where(d => details.ContainsKey(d.Id)))
            {
                Assert.All(details[id].Attempts, a => Assert.NotEqual(victim, a.Node));
            }

            foreach (var node in nodes)
            {
                Assert.DoesNotContain("failed unexpectedly", node.Output, StringComparison.Ordinal);
            }
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Messages_held_longer_than_a_lease_behind_a_rate_limit_are_still_sent_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        using var sink = SmtpSink.Start();
        using var cli = Cli(database);
        // One message a second per node: most of a burst waits in a node's rate limiter for
        // longer than the lease, as a burst behind a smart host's per-minute limit does.
        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org", "--rate-limit", "60");
        var apiKey = await AdminKeyAsync(cli);
        var environment = NodeEnvironment(database);
        environment["HERALD_Delivery__Lease"] = "00:00:03";
        await using var a = HeraldServer.Launch(NodeDirectory(), environment, "--node-name", "node-a");
        await using var b = HeraldServer.Launch(NodeDirectory(), environment, "--node-name", "node-b");
        await Task.WhenAll(a.WaitUntilHealthyAsync(), b.WaitUntilHealthyAsync());
        using var http = a.Client(apiKey);

        using var batch = await http.PostAsJsonAsync("api/v1/messages/batch",
            new { messages = Enumerable.Range(1, 12).Select(i => new { scope = "/", to = new[] { $"burst{i}@example.org" }, subject = $"Burst {i}", text = "x" }).ToArray() }, ct);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, batch.StatusCode);
        var ids = JsonDocument.Parse(await batch.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray();

        await CrashTests.WaitUntilNothingPendingAsync(http, ct);
        await CrashTests.SettleAsync(sink, TimeSpan.FromSeconds(4));
        var details = await DetailsAsync(http, ids, ct);
        var copies = CrashTests.CopiesByMessageId(sink);
        output.WriteLine(string.Join("\n", details.Select(d => $"{d.Key}: {copies.GetValueOrDefault(d.Value.MessageId)} cop(ies), {string.Join(", ", d.Value.Attempts)}")));
        Assert.All(details.Values, d => Assert.Equal(1, copies.GetValueOrDefault(d.MessageId)));
        Assert.Equal(ids.Length, copies.Values.Sum());
        Assert.All(details.Values, d => Assert.Equal("sent", Assert.Single(d.Attempts).Outcome));
        // The scenario did put the leases to the test: the burst took longer to send than a lease.
        var sentAt = details.Values.Select(d => d.Attempts.Single().At).ToArray();
        Assert.True(sentAt.Max() - sentAt.Min() > TimeSpan.FromSeconds(3), $"The burst was sent within {sentAt.Max() - sentAt.Min()}, less than one lease.");
    }

    [Fact]
    public async Task Three_nodes_started_at_the_same_moment_on_a_fresh_database_migrate_it_once_and_all_come_up()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres, migrate: false);
        // The versions the migration files name (numbers may have gaps while branches land).
        const string Prefix = "Herald.Storage.Migrations.postgres.";
        var expected = typeof(HeraldDatabase).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(n => int.Parse(n[Prefix.Length..n.IndexOf('_', Prefix.Length)], System.Globalization.CultureInfo.InvariantCulture))
            .Order()
            .ToArray();
        var migrations = expected.Length;

        var nodes = new[] { "node-a", "node-b", "node-c" }
            .Select(name => HeraldServer.Launch(NodeDirectory(), NodeEnvironment(database), "--node-name", name))
            .ToArray();
        try
        {
            var health = await Task.WhenAll(nodes.Select(n => n.WaitUntilHealthyAsync()));

            Assert.All(health, h => Assert.Equal(System.Net.HttpStatusCode.OK, h.Status));
            var applied = new int[nodes.Length];
            for (var i = 0; i < nodes.Length; i++)
            {
                applied[i] = await AppliedMigrationsAsync(nodes[i]);
            }

            output.WriteLine($"migrations applied by each node: {string.Join(", ", applied)} (of {migrations})");
            Assert.Equal(migrations, applied.Sum());
            await using var connection = await database.Database.OpenAsync(ct);
            var versions = (await connection.QueryAsync<int>("SELECT version FROM schema_migrations ORDER BY version")).ToArray();
            Assert.Equal(expected, versions);
            Assert.All(nodes, n => Assert.Contains("Credential key from the HERALD_CREDENTIAL_KEY environment variable matches the database", n.Output, StringComparison.Ordinal));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_connection_with_node_tags_is_used_only_by_a_node_carrying_one_of_them()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        using var sink = SmtpSink.Start();
        using var cli = Cli(database);
        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org");
        await OutboxNode.MustAsync(cli, "scope", "add", "/eu");
        await OutboxNode.MustAsync(cli, "smtp", "set", "--scope", "/eu", "--connection", "eu-relay", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--node-tags", "eu");
        var apiKey = await AdminKeyAsync(cli);

        await using var plain = HeraldServer.Launch(NodeDirectory(), NodeEnvironment(database), "--node-name", "node-plain");
        await plain.WaitUntilHealthyAsync();
        using var http = plain.Client(apiKey);
        var tagged = await OutboxNode.SendAsync(http, new { scope = "/eu", to = new[] { "eu@example.org" }, subject = "Stays in the EU", text = "x" });
        var control = await OutboxNode.SendAsync(http, new { scope = "/", to = new[] { "any@example.org" }, subject = "Any node", text = "x" });

        // The untagged node delivers the later message: it has looked at the queue since the
        // tagged one was stored, and left it.
        await OutboxNode.WaitForAsync(http, control, s => s == "sent");
        var waiting = JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/v1/messages/{tagged}", UriKind.Relative), ct)).RootElement;
        output.WriteLine($"with only node-plain running: {waiting}");
        Assert.Equal("queued", Assert.Single(OutboxNode.Recipients(waiting)).GetProperty("state").GetString());
        Assert.Equal("/eu:eu-relay", waiting.GetProperty("connectionName").GetString());
        Assert.Empty(waiting.GetProperty("attempts").EnumerateArray());
        Assert.Equal([MessageIdOf(await DetailsOfAsync(http, control))], CrashTests.CopiesByMessageId(sink).Keys);
        var reason = await WaitForOutputAsync(plain, "eu-relay");
        output.WriteLine($"node-plain says: {reason}");
        Assert.Contains("reserved for nodes tagged eu", reason, StringComparison.Ordinal);
        Assert.Contains("stay queued", reason, StringComparison.Ordinal);

        await using var eu = HeraldServer.Launch(NodeDirectory(), NodeEnvironment(database), "--node-name", "node-eu", "--node-tags", "eu");
        await eu.WaitUntilHealthyAsync();

        var sent = await OutboxNode.WaitForAsync(http, tagged, s => s == "sent");
        var attempt = Assert.Single(sent.GetProperty("attempts").EnumerateArray());
        Assert.Equal("node-eu", attempt.GetProperty("node").GetString());
        Assert.Equal("sent", attempt.GetProperty("outcome").GetString());
        var copies = CrashTests.CopiesByMessageId(sink);
        Assert.Equal(1, copies[MessageIdOf(sent)]);
        Assert.Equal(2, copies.Values.Sum());
    }

    public void Dispose()
    {
        foreach (var directory in _dataDirectories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Left to the OS's temporary-file clean-up.
            }
        }
    }

    private static HeraldCommandLine Cli(TestDatabase database)
    {
        var cli = new HeraldCommandLine();
        cli.Environment["HERALD_DATABASE"] = database.Url!;
        cli.Environment["HERALD_CREDENTIAL_KEY"] = Passphrase;
        return cli;
    }

    private static Dictionary<string, string> NodeEnvironment(TestDatabase database) => new(OutboxNode.FastRetries)
    {
        ["HERALD_DATABASE"] = database.Url!,
        ["HERALD_CREDENTIAL_KEY"] = Passphrase,
        ["HERALD_Delivery__Lease"] = Lease,
    };

    private static async Task<string> AdminKeyAsync(HeraldCommandLine cli) =>
        (await OutboxNode.MustAsync(cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];

    private string NodeDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("herald-farm-").FullName;
        _dataDirectories.Add(directory);
        return directory;
    }

    /// <summary>Messages <paramref name="node"/> holds a lease on and has not recorded.</summary>
    private static async Task<HashSet<string>> ClaimedByAsync(TestDatabase database, string node, CancellationToken ct)
    {
        await using var connection = await database.Database.OpenAsync(ct);
        var ids = await connection.QueryAsync<string>("SELECT id FROM messages WHERE state = 'pending' AND lease_owner = @node", new { node });
        return ids.ToHashSet(StringComparer.Ordinal);
    }

    private static async Task<Dictionary<string, string>> StoredMessageIdsAsync(TestDatabase database, CancellationToken ct)
    {
        await using var connection = await database.Database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(string Id, string Header)>("SELECT id, message_id_header FROM messages");
        return rows.ToDictionary(r => r.Header.Trim('<', '>'), r => r.Id, StringComparer.Ordinal);
    }

    private sealed record Attempt(string Node, string Outcome, DateTimeOffset At)
    {
        public override string ToString() => $"{Outcome} by {Node}";
    }

    private sealed record Details(string MessageId, IReadOnlyList<Attempt> Attempts);

    private static async Task<Dictionary<string, Details>> DetailsAsync(HttpClient http, IEnumerable<string> ids, CancellationToken ct)
    {
        var details = new ConcurrentDictionary<string, Details>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (id, _) =>
        {
            var json = await DetailsOfAsync(http, id);
            details[id] = new Details(
                MessageIdOf(json),
                json.GetProperty("attempts").EnumerateArray().Select(a => new Attempt(a.GetProperty("node").GetString()!, a.GetProperty("outcome").GetString()!, a.GetProperty("at").GetDateTimeOffset())).ToArray());
        });
        return new Dictionary<string, Details>(details, StringComparer.Ordinal);
    }

    private static async Task<JsonElement> DetailsOfAsync(HttpClient http, string id) =>
        JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/v1/messages/{id}", UriKind.Relative), TestContext.Current.CancellationToken)).RootElement;

    private static string MessageIdOf(JsonElement details) => details.GetProperty("messageIdHeader").GetString()!.Trim('<', '>');

    /// <summary>The number in the node's "(N migration(s) applied now)" start-up line.</summary>
    private static async Task<int> AppliedMigrationsAsync(HeraldServer node)
    {
        var line = await WaitForOutputAsync(node, "migration(s) applied now");
        return int.Parse(AppliedNow().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>The first line of the node's output containing <paramref name="text"/>, once
    /// it has arrived through the pipe.</summary>
    private static async Task<string> WaitForOutputAsync(HeraldServer node, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (node.Output.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
            {
                return line.Trim();
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The node never printed '{text}':\n{node.Output}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    [GeneratedRegex(@"\((\d+) migration\(s\) applied now\)")]
    private static partial Regex AppliedNow();
}
