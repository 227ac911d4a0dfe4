using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Storage.Database;
using Herald.Testing;

namespace Herald.IntegrationTests.Outbox;

/// <summary>
/// One node on SQLite, killed with SIGKILL again and again while producers submit a steady stream
/// through the API, and restarted each time on the same data directory. What it acknowledged
/// (202) must reach the upstream; only a message it had claimed and not yet recorded when it died
/// may reach it twice (at-least-once: the dead node's lease expires and the message is sent again).
/// And the database going away under a node: what the node sent meanwhile is recorded once the
/// database is back, and not sent again.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Kills = 4;

    /// <summary>Short, so that what a dead incarnation had claimed is taken up again within
    /// seconds rather than the default two minutes.</summary>
    private const string Lease = "00:00:05";

    private static readonly TimeSpan LeaseLength = TimeSpan.Parse(Lease, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Every_acknowledged_message_is_delivered_across_repeated_sigkills_and_only_messages_in_flight_at_a_kill_arrive_twice()
    {
        var ct = TestContext.Current.CancellationToken;
        // The upstream takes a second to answer the final dot, after it has stored the message,
        // and the node may hold 32 connections to it: a kill always finds transactions under
        // way, and those in that second were accepted without the node hearing of it.
        using var sink = SmtpSink.Start("-W", ".:1");
        using var cli = new HeraldCommandLine();
        var environment = new Dictionary<string, string>(OutboxNode.FastRetries)
        {
            ["HERALD_CREDENTIAL_KEY"] = "crash tests' passphrase",
            ["HERALD_Delivery__Lease"] = Lease,
        };
        foreach (var (name, value) in environment)
        {
            cli.Environment[name] = value;
        }

        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org", "--connection-limit", "32");
        var apiKey = (await OutboxNode.MustAsync(cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];

        var seed = Random.Shared.Next();
        var random = new Random(seed);
        output.WriteLine($"seed {seed} (when each incarnation is killed)");
        var incarnations = new List<HeraldServer>();
        var launchedAt = new List<DateTimeOffset>();
        // Each kill's snapshot: the messages the dead incarnation had claimed and not recorded.
        var inFlightAtKills = new List<HashSet<string>>();
        try
        {
            await StartAsync(incarnations, launchedAt, cli.DataDirectory, environment);
            var target = new SubmissionLoad.Target("incarnation 1", incarnations[0].BaseAddress);
            var load = SubmissionLoad.Start(clients: 3, TimeSpan.FromMilliseconds(50), apiKey, _ => Volatile.Read(ref target));
            await using (load)
            {
                for (var kill = 1; kill <= Kills; kill++)
                {
                    // Killed at a random point of the stream, while it accepts and delivers.
                    await load.WaitUntilAcknowledgedAsync($"incarnation {kill}", random.Next(20, 120));
                    incarnations[^1].Kill();
                    var inFlight = await ClaimedAndUnrecordedAsync(cli.DataDirectory, launchedAt[^1] + LeaseLength, ct);
                    inFlightAtKills.Add(inFlight);
                    output.WriteLine($"kill {kill}: {inFlight.Count} message(s) claimed and not recorded; {load.Acknowledged.Count} acknowledged so far");

                    await StartAsync(incarnations, launchedAt, cli.DataDirectory, environment);
                    Volatile.Write(ref target, new SubmissionLoad.Target($"incarnation {kill + 1}", incarnations[^1].BaseAddress));
                }

                await load.WaitUntilAcknowledgedAsync($"incarnation {Kills + 1}", 50);
                await load.StopAsync();
            }

            var acknowledged = load.Acknowledged;
            output.WriteLine($"{acknowledged.Count} acknowledged, {load.Failed} request(s) failed while a node was down or dying");
            Assert.Empty(load.Unexpected);
            using var http = incarnations[^1].Client(apiKey);
            await WaitUntilNothingPendingAsync(http, ct);
            await SettleAsync(sink, LeaseLength + TimeSpan.FromSeconds(1));
            var messageIds = await MessageIdHeadersAsync(http, acknowledged.Keys, ct);
            var stored = await StoredMessageIdsAsync(cli.DataDirectory, ct);
            var received = CopiesByMessageId(sink);

            var lost = acknowledged.Keys.Where(id => !received.ContainsKey(messageIds[id])).ToArray();
            Assert.True(lost.Length == 0, $"{lost.Length} acknowledged message(s) never reached the sink: {string.Join(", ", lost.Take(20))}");
            var unknown = received.Keys.Where(m => !stored.ContainsKey(m)).ToArray();
            Assert.True(unknown.Length == 0, $"The sink received message(s) the outbox never stored: {string.Join(", ", unknown.Take(20))}");

            // A message may arrive once more for every kill that found it claimed and unrecorded;
            // any other extra copy is a double delivery the leases should have prevented.
            var duplicates = received.Where(r => r.Value > 1).Select(r => (Id: stored[r.Key], Extra: r.Value - 1)).ToArray();
            var unexplained = duplicates
                .Select(d => (d.Id, d.Extra, InFlight: inFlightAtKills.Count(s => s.Contains(d.Id))))
                .Where(d => d.Extra > d.InFlight)
                .ToArray();
            var extraCopies = duplicates.Sum(d => d.Extra);
            var couldHaveBeenInFlight = inFlightAtKills.Sum(s => s.Count);
            output.WriteLine(
                $"{received.Count} distinct message(s) received ({stored.Count - acknowledged.Count} stored but never acknowledged); "
                + $"{duplicates.Length} message(s) arrived more than once, {extraCopies} extra cop(ies); "
                + $"bound: {couldHaveBeenInFlight} claimed-and-unrecorded at the {Kills} kills ({string.Join(" + ", inFlightAtKills.Select(s => s.Count))})");
            foreach (var (id, extra) in duplicates)
            {
                output.WriteLine($"  duplicate {id}: {extra + 1} copies, in flight at {inFlightAtKills.Count(s => s.Contains(id))} kill(s)");
            }

            Assert.True(unexplained.Length == 0, "Sent twice without having been in flight at a kill: "
                + string.Join("; ", unexplained.Select(d => $"{d.Id} ({d.Extra} extra, in flight at {d.InFlight} kill(s))")));
            Assert.True(extraCopies <= couldHaveBeenInFlight, $"{extraCopies} extra copies, but only {couldHaveBeenInFlight} message(s) were in flight at the kills");
            foreach (var incarnation in incarnations)
            {
                Assert.DoesNotContain("failed unexpectedly", incarnation.Output, StringComparison.Ordinal);
            }
        }
        finally
        {
            foreach (var incarnation in incarnations)
            {
                await incarnation.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_outcome_is_recorded_after_a_database_outage_longer_than_the_recorders_first_retries_and_the_message_is_sent_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        var postgres = (await TestContext.Current.GetFixture<PostgresFixture>())!;
        // The upstream takes four seconds to answer DATA: time to cut the database off while the
        // node is in the middle of the transaction, so that its outcome cannot be recorded.
        using var sink = SmtpSink.Start("-w", "4");
        using var cli = new HeraldCommandLine();
        var environment = new Dictionary<string, string>(OutboxNode.FastRetries)
        {
            ["HERALD_DATABASE"] = database.Url!,
            ["HERALD_CREDENTIAL_KEY"] = "crash tests' passphrase",
            ["HERALD_Delivery__Lease"] = Lease,
        };
        foreach (var (name, value) in environment)
        {
            cli.Environment[name] = value;
        }

        await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org");
        var apiKey = (await OutboxNode.MustAsync(cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];
        await using var node = HeraldServer.Launch(database.DataDirectory, environment, "--node-name", "node-1");
        await node.WaitUntilHealthyAsync();
        using var http = node.Client(apiKey);

        var id = await OutboxNode.SendAsync(http, new { scope = "/", to = new[] { "outage@example.org" }, subject = "Through an outage", text = "x" });
        // The node has resolved the connection and is in the middle of the transaction.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (sink.InProgress == 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The node did not start sending within 30 s:\n" + node.Output);
            }

            await Task.Delay(20, ct);
        }

        // The database goes away (no connections at all) for longer than the recorder's first
        // ten retries, which gave up after about nine seconds.
        await using (var admin = await postgres.Admin.OpenConnectionAsync(ct))
        {
            await admin.ExecuteAsync($"ALTER DATABASE {database.PostgresName} ALLOW_CONNECTIONS false");
            await admin.ExecuteAsync("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = @name", new { name = database.PostgresName });
            await WaitForOutputAsync(node, "Recording 1 message outcome(s) failed");
            await Task.Delay(TimeSpan.FromSeconds(12), ct);
            await admin.ExecuteAsync($"ALTER DATABASE {database.PostgresName} ALLOW_CONNECTIONS true");
        }

        var sent = await OutboxNode.WaitForAsync(http, id, s => s == "sent", TimeSpan.FromSeconds(60));
        await SettleAsync(sink, LeaseLength + TimeSpan.FromSeconds(1));
        output.WriteLine(sent.ToString());
        Assert.Equal("sent", Assert.Single(sent.GetProperty("attempts").EnumerateArray()).GetProperty("outcome").GetString());
        var copies = CopiesByMessageId(sink);
        Assert.Equal(1, copies.GetValueOrDefault(sent.GetProperty("messageIdHeader").GetString()!.Trim('<', '>')));
        Assert.Equal(1, copies.Values.Sum());
    }

    private static async Task WaitForOutputAsync(HeraldServer node, string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!node.Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The node never printed '{text}':\n{node.Output}");
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Another incarnation of the node on the same data directory, under the same name;
    /// listed before it answers, so that it is cleaned up even if it never does.</summary>
    private static async Task StartAsync(List<HeraldServer> incarnations, List<DateTimeOffset> launchedAt, string dataDirectory, Dictionary<string, string> environment)
    {
        launchedAt.Add(DateTimeOffset.UtcNow);
        var server = HeraldServer.Launch(dataDirectory, environment, "--node-name", "crash-node");
        incarnations.Add(server);
        await server.WaitUntilHealthyAsync();
    }

    /// <summary>
    /// With the node dead, a pending message that still carries a lease running until
    /// <paramref name="heldSince"/> or later was claimed (or renewed) by the incarnation that just
    /// died, and its outcome never recorded: it may have reached the upstream, and will be sent
    /// again once the lease expires. Every lease an incarnation sets runs until at least its
    /// launch plus a lease; leases left over from the incarnation before end earlier, as that one
    /// was dead before this one was launched. Read straight from the SQLite file.
    /// </summary>
    private static async Task<HashSet<string>> ClaimedAndUnrecordedAsync(string dataDirectory, DateTimeOffset heldSince, CancellationToken ct)
    {
        await using var connection = await HeraldDatabases.Open(null, dataDirectory).OpenAsync(ct);
        var ids = await connection.QueryAsync<string>(
            "SELECT id FROM messages WHERE state = 'pending' AND lease_owner IS NOT NULL AND lease_until >= @since",
            new { since = heldSince.ToUnixTimeMilliseconds() });
        return ids.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Every stored message (acknowledged or not) by its Message-ID header.</summary>
    private static async Task<Dictionary<string, string>> StoredMessageIdsAsync(string dataDirectory, CancellationToken ct)
    {
        await using var connection = await HeraldDatabases.Open(null, dataDirectory).OpenAsync(ct);
        var rows = await connection.QueryAsync<(string Id, string Header)>("SELECT id, message_id_header FROM messages");
        return rows.ToDictionary(r => r.Header.Trim('<', '>'), r => r.Id, StringComparer.Ordinal);
    }

    /// <summary>Returns once the sink has received nothing new for <paramref name="quiet"/>. An
    /// empty queue does not mean that nothing more will be sent: a copy a node still holds after
    /// its lease ran out would go out later, and must be counted too.</summary>
    internal static async Task SettleAsync(SmtpSink sink, TimeSpan quiet)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var count = sink.Received().Count;
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow - since < quiet)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The sink kept receiving for 60 s after the queue was empty ({count} messages).");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
            if (sink.Received().Count is var now && now != count)
            {
                (count, since) = (now, DateTime.UtcNow);
            }
        }
    }

    /// <summary>How many copies of each Message-ID the sink accepted.</summary>
    internal static Dictionary<string, int> CopiesByMessageId(SmtpSink sink) =>
        sink.Received()
            .GroupBy(m => m.ToMimeMessage().MessageId ?? "(no Message-ID)", StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    /// <summary>Waits until no message has a recipient queued or deferred, as an administrator
    /// would check with the queue listing.</summary>
    internal static async Task WaitUntilNothingPendingAsync(HttpClient http, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var queued = await http.GetStringAsync(new Uri("api/v1/messages?state=queued&limit=5", UriKind.Relative), ct);
            var deferred = await http.GetStringAsync(new Uri("api/v1/messages?state=deferred&limit=5", UriKind.Relative), ct);
            if (queued == "[]" && deferred == "[]")
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Messages still pending after 60 s:\nqueued: {queued}\ndeferred: {deferred}");
            }

            await Task.Delay(250, ct);
        }
    }

    /// <summary>Each acknowledged message's Message-ID, from <c>GET /api/v1/messages/{id}</c>, which
    /// also has to say that every recipient was sent.</summary>
    private static async Task<Dictionary<string, string>> MessageIdHeadersAsync(HttpClient http, IEnumerable<string> ids, CancellationToken ct)
    {
        var headers = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var notSent = new ConcurrentQueue<string>();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (id, token) =>
        {
            var details = JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/v1/messages/{id}", UriKind.Relative), token)).RootElement;
            headers[id] = details.GetProperty("messageIdHeader").GetString()!.Trim('<', '>');
            if (OutboxNode.Recipients(details).Any(r => r.GetProperty("state").GetString() != "sent"))
            {
                notSent.Enqueue(details.ToString());
            }
        });
        Assert.True(notSent.IsEmpty, $"{notSent.Count} acknowledged message(s) not sent: {string.Join('\n', notSent.Take(5))}");
        return new Dictionary<string, string>(headers, StringComparer.Ordinal);
    }
}
