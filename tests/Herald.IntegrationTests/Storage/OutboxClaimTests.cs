using System.Text;
using Dapper;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;

namespace Herald.IntegrationTests.Storage;

/// <summary>
/// The claim on real SQLite and real PostgreSQL when it names the connections it takes (a node
/// with tags; connections that are down, whose backlog waits untouched): the oldest due first
/// across those connections, nothing of the others, and a plan that reads an index in order
/// instead of the table, however many messages wait.
/// </summary>
public sealed class OutboxClaimTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_claim_naming_connections_takes_the_oldest_due_across_them_and_leaves_the_rest_unleased(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync(
            [
                Message("a-3", "a", minutesAgo: 3), Message("b-5", "b", minutesAgo: 5), Message("none-4", null, minutesAgo: 4),
                Message("a-1", "a", minutesAgo: 1), Message("down-9", "down", minutesAgo: 9), Message("b-2", "b", minutesAgo: 2),
                Message("later", "a", minutesAgo: -1),
            ],
            Ct);

        var first = await store.ClaimAsync("node-a", ["a", "b"], 3, Now, Lease, Ct);
        var second = await store.ClaimAsync("node-a", ["a", "b"], 10, Now, Lease, Ct);

        Assert.Equal(["b-5", "none-4", "a-3"], first.OrderBy(m => m.CreatedAt).Select(m => m.Id));
        Assert.Equal(["b-2", "a-1"], second.OrderBy(m => m.CreatedAt).Select(m => m.Id));
        Assert.Empty(await store.ClaimAsync("node-a", ["a", "b"], 10, Now, Lease, Ct));
        Assert.Equal([("down-9", null), ("later", null)], await UnleasedAsync(db));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_backlog_of_a_connection_left_out_does_not_hide_the_due_messages_of_the_others(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        // A backlog older than anything else, as a connection that is down leaves one.
        for (var batch = 0; batch < 4; batch++)
        {
            await store.EnqueueAsync(Enumerable.Range(0, 500).Select(i => Message($"down-{batch}-{i}", "down", minutesAgo: 600 - batch)).ToArray(), Ct);
        }

        await store.EnqueueAsync([Message("up-1", "up", minutesAgo: 1), Message("up-2", "up", minutesAgo: 2), Message("none", null, minutesAgo: 3)], Ct);

        var claimed = await store.ClaimAsync("node-a", ["up"], 128, Now, Lease, Ct);

        Assert.Equal(["none", "up-1", "up-2"], claimed.Select(m => m.Id).Order(StringComparer.Ordinal));
        Assert.Equal(2000, await CountAsync(db, "SELECT COUNT(*) FROM messages WHERE connection_name = 'down' AND lease_owner IS NULL"));
        // The same backlog is claimed, oldest first, once its connection is named again.
        Assert.Equal(128, (await store.ClaimAsync("node-a", ["up", "down"], 128, Now, Lease, Ct)).Count(m => m.ConnectionName == "down" && m.Id.StartsWith("down-0-", StringComparison.Ordinal)));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Every_form_of_the_claim_reads_a_due_index_instead_of_the_messages_table(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await using var connection = await db.Database.OpenAsync(Ct);
        if (engine == TestDatabases.Postgres)
        {
            // An empty table is cheapest to read whole; forbidding that shows whether an index can serve the query at all.
            await connection.ExecuteAsync("SET enable_seqscan = off");
        }

        async Task<string> PlanAsync(IReadOnlyCollection<string>? connections)
        {
            var parameters = new DynamicParameters(new { now = Now.ToUnixTimeMilliseconds(), max = 128 });
            foreach (var (name, i) in (connections ?? []).Select((name, i) => (name, i)))
            {
                parameters.Add("c" + i, name);
            }

            var explain = engine == TestDatabases.Postgres ? "EXPLAIN " : "EXPLAIN QUERY PLAN ";
            var rows = engine == TestDatabases.Postgres
                ? await connection.QueryAsync<string>(explain + store.DueQuery(connections), parameters)
                : (await connection.QueryAsync<(long Id, long Parent, long NotUsed, string Detail)>(explain + store.DueQuery(connections), parameters)).Select(r => r.Detail);
            return string.Join('\n', rows);
        }

        var plain = await PlanAsync(null);
        var named = await PlanAsync(["a", "b"]);

        Assert.Matches("messages_due(?!_by_connection)", plain);
        Assert.Contains("messages_due_by_connection", named, StringComparison.Ordinal);
        foreach (var plan in new[] { plain, named })
        {
            Assert.DoesNotContain("SCAN messages", plan, StringComparison.Ordinal);
            Assert.DoesNotContain("Seq Scan on messages", plan, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Messages_waiting_for_a_deleted_connection_are_claimed_with_those_stored_for_none(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var settings = new SqlSettingsStore(db.Database, TimeProvider.System);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await settings.SaveConnectionAsync(new SmtpConnection { Id = "/:old", Owner = ScopePath.Root, Name = "old", Host = "smtp.example.org" }, Ct);
        await store.EnqueueAsync([Message("waiting", "/:old", minutesAgo: 1)], Ct);
        Assert.Empty(await store.ClaimAsync("node-a", ["/:new"], 10, Now, Lease, Ct));

        Assert.Empty(await settings.DeleteConnectionAsync("/:old", Ct));

        var claimed = Assert.Single(await store.ClaimAsync("node-a", ["/:new"], 10, Now, Lease, Ct));
        Assert.Equal("waiting", claimed.Id);
        Assert.Null(claimed.ConnectionName);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task When_a_connection_answers_again_its_deferred_messages_are_due_at_once_and_others_keep_their_schedule(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("tried", "back", minutesAgo: 5), Message("other", "elsewhere", minutesAgo: 5), Message("untried", "back", minutesAgo: 1)], Ct);
        // Two attempts failed before the connection was found down: deferred an hour.
        var later = Now + TimeSpan.FromHours(1);
        foreach (var claimed in await store.ClaimAsync("node-a", ["back", "elsewhere"], 2, Now, Lease, Ct))
        {
            await store.RecordAsync([new AttemptOutcome(claimed.Id, "node-a", Now, [new RecipientUpdate(0, RecipientState.Deferred, null, "connection refused")], later)], Ct);
        }

        Assert.Equal(1, await store.ResumeAsync("back", Now, Ct));

        Assert.Equal(["tried", "untried"], (await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct)).Select(m => m.Id).Order(StringComparer.Ordinal));
        // The other connection's message keeps its hour: not due now, due then.
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct));
        Assert.Equal("other", Assert.Single(await store.ClaimAsync("node-a", ["elsewhere"], 10, later, Lease, Ct)).Id);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task When_a_scopes_email_is_turned_back_on_its_deferred_messages_and_those_below_it_are_due_at_once_and_look_alike_scopes_keep_theirs(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync(
            [Message("hr", "c", 3) with { Scope = ScopePath.Parse("/hr") }, Message("payroll", "c", 3) with { Scope = ScopePath.Parse("/hr/payroll") },
             Message("hr2", "c", 3) with { Scope = ScopePath.Parse("/hr2") }],
            Ct);
        // Attempts made while /hr's email was off deferred them an hour.
        var later = Now + TimeSpan.FromHours(1);
        foreach (var claimed in await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct))
        {
            await store.RecordAsync([new AttemptOutcome(claimed.Id, "node-a", Now, [new RecipientUpdate(0, RecipientState.Deferred, null, "Email is turned off for scope /hr.")], later)], Ct);
        }

        Assert.Equal(2, await store.ResumeScopeAsync(ScopePath.Parse("/hr"), Now, Ct));

        Assert.Equal(["hr", "payroll"], (await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct)).Select(m => m.Id).Order(StringComparer.Ordinal));
        // /hr2 is not below /hr: it keeps its hour (not claimed above, due then).
        Assert.Contains("hr2", (await store.ClaimAsync("node-a", null, 10, later, Lease, Ct)).Select(m => m.Id));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_messages_waiting_for_each_connection_are_counted(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("sent", "down", 3), Message("d1", "down", 2), Message("d2", "down", 1), Message("u1", "up", 1)], Ct);
        var sent = Assert.Single(await store.ClaimAsync("node-a", ["down"], 1, Now - TimeSpan.FromMinutes(3), Lease, Ct));
        Assert.Equal("sent", sent.Id);
        await store.RecordAsync([new AttemptOutcome(sent.Id, "node-a", Now, [new RecipientUpdate(0, RecipientState.Sent, 250, "250 ok")], Now)], Ct);

        var counts = await store.CountWaitingAsync(["down", "up", "unknown"], Ct);

        Assert.Equal(new Dictionary<string, long> { ["down"] = 2, ["up"] = 1, ["unknown"] = 0 }, counts);
    }

    private static NewMessage Message(string id, string? connection, int minutesAgo)
    {
        var at = Now - TimeSpan.FromMinutes(minutesAgo);
        return new NewMessage(
            id, ScopePath.Root, MessageSource.Api, "alerts@example.org", connection, $"<{id}@herald.example.org>",
            Encoding.ASCII.GetBytes($"Message-ID: <{id}@herald.example.org>\r\nSubject: {id}\r\n\r\nBody.\r\n"), ["a@example.org"], null, at, at + TimeSpan.FromDays(5));
    }

    private static async Task<(string Id, string? Owner)[]> UnleasedAsync(TestDatabase db)
    {
        await using var raw = await db.Database.OpenAsync(Ct);
        return (await raw.QueryAsync<(string, string?)>("SELECT id, lease_owner FROM messages WHERE lease_owner IS NULL ORDER BY id")).ToArray();
    }

    private static async Task<long> CountAsync(TestDatabase db, string sql)
    {
        await using var raw = await db.Database.OpenAsync(Ct);
        return await raw.ExecuteScalarAsync<long>(sql);
    }
}
