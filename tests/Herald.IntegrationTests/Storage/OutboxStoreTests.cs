using System.Text;
using Dapper;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Storage.Outbox;
using Herald.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary><see cref="SqlOutboxStore"/> on real SQLite and real PostgreSQL: what submissions,
/// delivery workers on one or more nodes, and administrators rely on, read back from the database.</summary>
public sealed class OutboxStoreTests
{
    // Well past 2^31 milliseconds, as every real time is; whole milliseconds, as the store keeps.
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan MaximumAge = TimeSpan.FromDays(5);
    private static readonly TimeSpan OneMs = TimeSpan.FromMilliseconds(1);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_enqueued_message_reads_back_exactly_with_every_recipient_queued_and_due(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        var message = Message("m1", "/hr/payroll", key: "order-42", connection: "eu", to: ["a@example.org", "b@example.org", "Ærø@example.org"]) with
        {
            Source = MessageSource.Relay,
            EnvelopeSender = "bounces@example.org",
        };

        Assert.Equal([new EnqueueResult("m1", Duplicate: false)], await store.EnqueueAsync([message], Ct));

        var details = await store.GetAsync("m1", Ct);
        Assert.NotNull(details);
        Assert.Equal("<m1@herald.example.org>", details.MessageIdHeader);
        Assert.Equal("eu", details.ConnectionName);
        Assert.Equal(message.Mime.Length, details.SizeBytes);
        Assert.Empty(details.Attempts);
        var summary = details.Message;
        Assert.Equal("m1", summary.Id);
        Assert.Equal(Scope("/hr/payroll"), summary.Scope);
        Assert.Equal(MessageSource.Relay, summary.Source);
        Assert.Equal("bounces@example.org", summary.EnvelopeSender);
        Assert.Equal("Subject of m1", summary.Subject);
        Assert.Equal(Now, summary.CreatedAt);
        Assert.Equal(Now + MaximumAge, summary.ExpiresAt);
        Assert.Equal(
            [
                new RecipientStatus(0, "a@example.org", RecipientState.Queued, 0, null, null, Now),
                new RecipientStatus(1, "b@example.org", RecipientState.Queued, 0, null, null, Now),
                new RecipientStatus(2, "Ærø@example.org", RecipientState.Queued, 0, null, null, Now),
            ],
            summary.Recipients);
        Assert.Null(await store.GetAsync("m2", Ct));
        await using (var raw = await db.Database.OpenAsync(Ct))
        {
            Assert.Equal("order-42", await raw.ExecuteScalarAsync<string>("SELECT idempotency_key FROM messages WHERE id = 'm1'"));
        }

        // Due from the moment it was created, not before.
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, Now - OneMs, Lease, Ct));
        var claimed = Assert.Single(await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct));
        Assert.Equal("m1", claimed.Id);
        Assert.Equal(message.Mime.Bytes, claimed.Mime.Bytes);
        Assert.Equal(Scope("/hr/payroll"), claimed.Scope);
        Assert.Equal("bounces@example.org", claimed.EnvelopeSender);
        Assert.Equal("eu", claimed.ConnectionName);
        Assert.Equal(0, claimed.Attempts);
        Assert.Equal(Now, claimed.CreatedAt);
        Assert.Equal(Now + MaximumAge, claimed.ExpiresAt);
        Assert.Equal(
            [new PendingRecipient(0, "a@example.org", 0), new PendingRecipient(1, "b@example.org", 0), new PendingRecipient(2, "Ærø@example.org", 0)],
            claimed.Recipients);
        Assert.Equal(new Dictionary<RecipientState, long> { [RecipientState.Queued] = 3 }, await store.CountByStateAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_message_keeps_the_trace_it_was_accepted_in_for_whichever_node_claims_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        await store.EnqueueAsync([Message("traced", "/hr") with { TraceParent = TraceParent }, Message("untraced", "/hr") with { TraceParent = null }], Ct);

        var claimed = await store.ClaimAsync("node-b", null, 10, Now, Lease, Ct);

        Assert.Equal(TraceParent, claimed.Single(m => m.Id == "traced").TraceParent);
        Assert.Null(claimed.Single(m => m.Id == "untraced").TraceParent);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_repeated_idempotency_key_returns_the_original_message_and_stores_nothing_new_but_another_scope_is_separate(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        var original = Message("m1", "/hr", key: "order-42", to: ["a@example.org"]);
        await store.EnqueueAsync([original], Ct);

        var again = await store.EnqueueAsync([Message("m2", "/hr", key: "order-42", to: ["b@example.org", "c@example.org"])], Ct);
        var elsewhere = await store.EnqueueAsync([Message("m3", "/finance", key: "order-42")], Ct);
        // No key: never a duplicate, however alike.
        var unkeyed = await store.EnqueueAsync([Message("m4", "/hr"), Message("m5", "/hr")], Ct);

        Assert.Equal([new EnqueueResult("m1", Duplicate: true)], again);
        Assert.Equal([new EnqueueResult("m3", Duplicate: false)], elsewhere);
        Assert.Equal([new EnqueueResult("m4", Duplicate: false), new EnqueueResult("m5", Duplicate: false)], unkeyed);
        Assert.Null(await store.GetAsync("m2", Ct));
        var kept = await store.GetAsync("m1", Ct);
        Assert.NotNull(kept);
        Assert.Equal(["a@example.org"], kept.Message.Recipients.Select(r => r.Address));
        Assert.Equal(Scope("/finance"), (await store.GetAsync("m3", Ct))?.Message.Scope);
        Assert.Equal(["m1", "m3", "m4", "m5"], await AllMessageIdsAsync(db));
        Assert.Equal(4, await CountAsync(db, "SELECT COUNT(*) FROM recipients"));
        var claimed = await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct);
        Assert.Equal(original.Mime.Bytes, claimed.Single(c => c.Id == "m1").Mime.Bytes);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_batch_repeating_a_key_stores_the_first_and_answers_the_repeat_with_its_id(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("old", "/hr", key: "k0")], Ct);

        var results = await store.EnqueueAsync(
            [
                Message("a", "/hr", key: "k1"),
                Message("b", "/hr", key: "k1"),
                Message("c", "/finance", key: "k1"),
                Message("d", "/hr", key: "k0"),
                Message("e", "/hr"),
            ],
            Ct);

        Assert.Equal(
            [
                new EnqueueResult("a", Duplicate: false),
                new EnqueueResult("a", Duplicate: true),
                new EnqueueResult("c", Duplicate: false),
                new EnqueueResult("old", Duplicate: true),
                new EnqueueResult("e", Duplicate: false),
            ],
            results);
        Assert.Equal(["a", "c", "e", "old"], await AllMessageIdsAsync(db));
        Assert.Equal(4, await CountAsync(db, "SELECT COUNT(*) FROM recipients"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_claim_returns_only_due_pending_messages_and_at_most_the_number_asked(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        var setup = Now - TimeSpan.FromHours(1);
        foreach (var (id, outcome) in new[] { ("sent", Sent(0)), ("bounced", Bounced(0)), ("expired", Expired(0)), ("later", Deferred(0)) })
        {
            await store.EnqueueAsync([Message(id, created: setup)], Ct);
            await SettleAsync(store, id, setup, Now + TimeSpan.FromMinutes(10), outcome);
        }

        await store.EnqueueAsync([Message("cancelled", created: setup)], Ct);
        await store.CancelAsync("cancelled", setup, Ct);
        await store.EnqueueAsync([Message("future", created: Now + OneMs)], Ct);
        await store.EnqueueAsync([Message("due1", created: Now - TimeSpan.FromMinutes(3)), Message("due2", created: Now - TimeSpan.FromMinutes(2)), Message("due3", created: Now)], Ct);

        var first = await store.ClaimAsync("node-a", null, 2, Now, Lease, Ct);
        var second = await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct);

        Assert.Equal(2, first.Count);
        Assert.Equal(["due1", "due2", "due3"], first.Concat(second).Select(c => c.Id).Order(StringComparer.Ordinal));
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_claim_limited_to_some_connections_takes_their_messages_and_those_without_a_connection(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("eu", connection: "eu"), Message("us", connection: "us"), Message("none")], Ct);

        // Each claim comes after the previous one's leases expired, so it sees all three.
        async Task<IEnumerable<string>> ClaimAsync(IReadOnlyCollection<string>? connections, int hoursLater) =>
            (await store.ClaimAsync("node-a", connections, 10, Now + TimeSpan.FromHours(hoursLater), Lease, Ct)).Select(c => c.Id).Order(StringComparer.Ordinal);

        Assert.Equal(["eu", "none"], await ClaimAsync(["eu", "asia"], 0));
        Assert.Equal(["none"], await ClaimAsync([], 1));
        Assert.Equal(["eu", "none", "us"], await ClaimAsync(["us", "eu"], 2));
        Assert.Equal(["eu", "none", "us"], await ClaimAsync(null, 3));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_leased_message_goes_to_no_other_node_until_the_lease_expires_and_then_to_the_next_claimer(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        var message = Message("m1", to: ["a@example.org", "b@example.org"]);
        await store.EnqueueAsync([message], Ct);

        Assert.Equal("m1", Assert.Single(await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct)).Id);
        Assert.Equal(("node-a", (Now + Lease).ToUnixTimeMilliseconds()), await LeaseOfAsync(db, "m1"));

        Assert.Empty(await store.ClaimAsync("node-b", null, 10, Now + TimeSpan.FromMinutes(1), Lease, Ct));
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, Now + Lease - OneMs, Lease, Ct));

        // at-least-once: node-a said nothing within its lease, so node-b gets the whole message.
        var takeover = Now + Lease + OneMs;
        var taken = Assert.Single(await store.ClaimAsync("node-b", null, 10, takeover, Lease, Ct));
        Assert.Equal("m1", taken.Id);
        Assert.Equal(message.Mime.Bytes, taken.Mime.Bytes);
        Assert.Equal(["a@example.org", "b@example.org"], taken.Recipients.Select(r => r.Address));
        Assert.Equal(("node-b", (takeover + Lease).ToUnixTimeMilliseconds()), await LeaseOfAsync(db, "m1"));
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, takeover + TimeSpan.FromMinutes(1), Lease, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_message_stored_leased_to_its_node_is_claimed_by_no_one_until_the_lease_runs_out_and_its_node_records_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1") with { Lease = new MessageLease("node-a", Now + Lease) }, Message("m2")], Ct);

        Assert.Equal(("node-a", (Now + Lease).ToUnixTimeMilliseconds()), await LeaseOfAsync(db, "m1"));
        Assert.Equal("m2", Assert.Single(await store.ClaimAsync("node-b", null, 10, Now, Lease, Ct)).Id);
        Assert.Equal(2, await store.RecordAsync([Outcome("m1", "node-a", Now + TimeSpan.FromSeconds(1), Sent(0)), Outcome("m2", "node-b", Now + TimeSpan.FromSeconds(1), Sent(0))], Ct));
        Assert.Equal([RecipientState.Sent], (await store.GetAsync("m1", Ct))!.Message.Recipients.Select(r => r.State));

        // at-least-once: had node-a died instead, its message is anyone's once the lease ran out.
        await store.EnqueueAsync([Message("m3") with { Lease = new MessageLease("node-a", Now + Lease) }], Ct);
        Assert.Empty(await store.ClaimAsync("node-b", null, 10, Now + Lease - OneMs, Lease, Ct));
        Assert.Equal("m3", Assert.Single(await store.ClaimAsync("node-b", null, 10, Now + Lease + OneMs, Lease, Ct)).Id);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_node_that_lost_its_lease_cannot_overwrite_the_outcome_of_the_node_that_took_over(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1", to: ["a@example.org", "b@example.org"])], Ct);
        await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct);
        var takeover = Now + Lease + OneMs;
        await store.ClaimAsync("node-b", null, 10, takeover, Lease, Ct);

        var byB = await store.RecordAsync([Outcome("m1", "node-b", takeover + TimeSpan.FromSeconds(5), Sent(0), Bounced(1))], Ct);
        var staleByA = await store.RecordAsync([Outcome("m1", "node-a", takeover + TimeSpan.FromSeconds(6), Deferred(0), Deferred(1))], Ct);

        Assert.Equal(1, byB);
        Assert.Equal(0, staleByA);
        var details = await store.GetAsync("m1", Ct);
        Assert.NotNull(details);
        Assert.Equal([RecipientState.Sent, RecipientState.Bounced], details.Message.Recipients.Select(r => r.State));
        Assert.Equal([SentReply, BouncedReply], details.Message.Recipients.Select(r => r.LastReply));
        Assert.Equal(["node-b", "node-b"], details.Attempts.Select(a => a.Node));
        Assert.Empty(await store.ClaimAsync("node-c", null, 10, Now + TimeSpan.FromDays(1), Lease, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_node_that_lost_its_lease_cannot_record_while_the_new_owner_delivers(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1")], Ct);
        await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct);
        var takeover = Now + Lease + OneMs;
        await store.ClaimAsync("node-b", null, 10, takeover, Lease, Ct);

        var staleByA = await store.RecordAsync([Outcome("m1", "node-a", takeover + TimeSpan.FromSeconds(1), Sent(0))], Ct);

        Assert.Equal(0, staleByA);
        var untouched = await store.GetAsync("m1", Ct);
        Assert.Equal(RecipientState.Queued, Assert.Single(untouched!.Message.Recipients).State);
        Assert.Empty(untouched.Attempts);
        Assert.Equal(("node-b", (takeover + Lease).ToUnixTimeMilliseconds()), await LeaseOfAsync(db, "m1"));

        Assert.Equal(1, await store.RecordAsync([Outcome("m1", "node-b", takeover + TimeSpan.FromSeconds(2), Deferred(0))], Ct));
        var recorded = await store.GetAsync("m1", Ct);
        Assert.Equal(RecipientState.Deferred, Assert.Single(recorded!.Message.Recipients).State);
        Assert.Equal("node-b", Assert.Single(recorded.Attempts).Node);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_late_outcome_is_recorded_when_no_other_node_took_the_message(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1")], Ct);
        await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct);

        Assert.Equal(1, await store.RecordAsync([Outcome("m1", "node-a", Now + Lease + TimeSpan.FromMinutes(1), Sent(0))], Ct));

        Assert.Equal(RecipientState.Sent, Assert.Single((await store.GetAsync("m1", Ct))!.Message.Recipients).State);
        Assert.Equal((null, null), await LeaseOfAsync(db, "m1"));
        Assert.Empty(await store.ClaimAsync("node-b", null, 10, Now + TimeSpan.FromDays(1), Lease, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Recorded_outcomes_read_back_per_recipient_with_the_attempt_history_and_upstream_replies(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1", to: ["a@example.org", "b@example.org", "c@example.org", "d@example.org"])], Ct);
        var first = Now + TimeSpan.FromSeconds(1);
        var retryAt = Now + TimeSpan.FromMinutes(5);
        var second = retryAt + TimeSpan.FromSeconds(1);

        await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct);
        Assert.Equal(1, await store.RecordAsync([Outcome("m1", "node-a", first, retryAt, Sent(0), Bounced(1), Deferred(2), Deferred(3))], Ct));
        var retried = Assert.Single(await store.ClaimAsync("node-b", null, 10, retryAt, Lease, Ct));
        Assert.Equal(1, retried.Attempts);
        Assert.Equal([new PendingRecipient(2, "c@example.org", 1), new PendingRecipient(3, "d@example.org", 1)], retried.Recipients);
        Assert.Equal(1, await store.RecordAsync([Outcome("m1", "node-b", second, second, Sent(2), Expired(3))], Ct));

        var details = await store.GetAsync("m1", Ct);
        Assert.NotNull(details);
        Assert.Equal(
            [
                new RecipientStatus(0, "a@example.org", RecipientState.Sent, 1, 250, SentReply, first),
                new RecipientStatus(1, "b@example.org", RecipientState.Bounced, 1, 550, BouncedReply, first),
                new RecipientStatus(2, "c@example.org", RecipientState.Sent, 2, 250, SentReply, second),
                new RecipientStatus(3, "d@example.org", RecipientState.Expired, 2, null, ExpiredReply, second),
            ],
            details.Message.Recipients);
        Assert.Equal(
            [
                new AttemptRecord(0, 1, first, "node-a", RecipientState.Sent, 250, SentReply),
                new AttemptRecord(1, 1, first, "node-a", RecipientState.Bounced, 550, BouncedReply),
                new AttemptRecord(2, 1, first, "node-a", RecipientState.Deferred, 451, DeferredReply),
                new AttemptRecord(3, 1, first, "node-a", RecipientState.Deferred, 451, DeferredReply),
                new AttemptRecord(2, 2, second, "node-b", RecipientState.Sent, 250, SentReply),
                new AttemptRecord(3, 2, second, "node-b", RecipientState.Expired, null, ExpiredReply),
            ],
            details.Attempts);
        // Nothing is left to deliver, now or ever.
        Assert.Empty(await store.ClaimAsync("node-c", null, 10, Now + TimeSpan.FromDays(30), Lease, Ct));
        Assert.Equal(
            new Dictionary<RecipientState, long> { [RecipientState.Sent] = 2, [RecipientState.Bounced] = 1, [RecipientState.Expired] = 1 },
            await store.CountByStateAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Deferred_recipients_become_due_at_their_next_attempt_time(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1", to: ["a@example.org", "b@example.org"])], Ct);
        var next = Now + TimeSpan.FromMinutes(5);
        await SettleAsync(store, "m1", Now, next, Deferred(0), Sent(1));

        Assert.Empty(await store.ClaimAsync("node-a", null, 10, next - OneMs, Lease, Ct));
        var due = Assert.Single(await store.ClaimAsync("node-a", null, 10, next, Lease, Ct));
        Assert.Equal([new PendingRecipient(0, "a@example.org", 1)], due.Recipients);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Claimers_racing_on_several_nodes_never_get_the_same_message_within_a_lease(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var ids = Enumerable.Range(0, 40).Select(i => $"m{i:D2}").ToArray();
        await new SqlOutboxStore(db.Database, db.Spool).EnqueueAsync(ids.Select(id => Message(id)).ToArray(), Ct);
        // Separate HeraldDatabase instances: each node has its own connection pool.
        var databases = Enumerable.Range(0, 6).Select(_ => db.OpenAnother()).ToArray();
        var nodes = databases.Select(d => new SqlOutboxStore(d, db.Spool)).ToArray();
        try
        {
            // Six nodes with three claim loops each ask for 90 messages at once; there are 40.
            async Task<(string Node, string Id)[]> RaceAsync(DateTimeOffset now)
            {
                var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var claims = nodes.SelectMany((store, n) => Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
                {
                    await start.Task;
                    var node = $"node-{n}";
                    return (await store.ClaimAsync(node, null, 5, now, Lease, Ct)).Select(c => (node, c.Id)).ToArray();
                }))).ToArray();
                start.SetResult();
                return (await Task.WhenAll(claims)).SelectMany(c => c).ToArray();
            }

            foreach (var round in new[] { Now, Now + Lease + OneMs })
            {
                var claimed = await RaceAsync(round);

                Assert.Equal(ids, claimed.Select(c => c.Id).Order(StringComparer.Ordinal));
                foreach (var (node, id) in claimed)
                {
                    Assert.Equal((node, (round + Lease).ToUnixTimeMilliseconds()), await LeaseOfAsync(db, id));
                }

                Assert.Empty(await RaceAsync(round + Lease - OneMs));
            }
        }
        finally
        {
            foreach (var database in databases.OfType<IAsyncDisposable>())
            {
                await database.DisposeAsync();
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Cancelling_stops_every_undelivered_recipient_for_good_and_keeps_delivered_ones(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1", to: ["a@example.org", "b@example.org", "c@example.org", "d@example.org"])], Ct);
        await SettleAsync(store, "m1", Now, Now + TimeSpan.FromMinutes(5), Sent(0), Bounced(1), Deferred(2));
        var cancelAt = Now + TimeSpan.FromMinutes(1);

        Assert.Equal(2, await store.CancelAsync("m1", cancelAt, Ct));

        var details = await store.GetAsync("m1", Ct);
        Assert.Equal(
            [RecipientState.Sent, RecipientState.Bounced, RecipientState.Cancelled, RecipientState.Cancelled],
            details!.Message.Recipients.Select(r => r.State));
        Assert.Equal(cancelAt, details.Message.Recipients[3].UpdatedAt);
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, Now + TimeSpan.FromDays(30), Lease, Ct));
        // Cancelled is final: neither cancelling nor retrying again brings anything back.
        Assert.Equal(0, await store.CancelAsync("m1", cancelAt, Ct));
        Assert.Equal(0, await store.RetryAsync("m1", cancelAt, cancelAt + MaximumAge, Ct));
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, Now + TimeSpan.FromDays(30), Lease, Ct));
        Assert.Equal(0, await store.CancelAsync("missing", cancelAt, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_cancel_during_delivery_is_not_undone_by_the_attempts_outcome(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1", to: ["a@example.org", "b@example.org", "c@example.org"])], Ct);
        await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct);
        Assert.Equal(3, await store.CancelAsync("m1", Now + TimeSpan.FromSeconds(1), Ct));

        // The transaction was already under way: one recipient got the message, the others
        // were refused for now or for good.
        var recorded = await store.RecordAsync(
            [Outcome("m1", "node-a", Now + TimeSpan.FromSeconds(2), Now + TimeSpan.FromMinutes(1), Sent(0), Deferred(1), Bounced(2))], Ct);

        Assert.Equal(1, recorded);
        var details = await store.GetAsync("m1", Ct);
        // What reached the server is reported as sent; the rest stays cancelled, never retried.
        Assert.Equal([RecipientState.Sent, RecipientState.Cancelled, RecipientState.Cancelled], details!.Message.Recipients.Select(r => r.State));
        Assert.Equal(
            [RecipientState.Sent, RecipientState.Deferred, RecipientState.Bounced],
            details.Attempts.OrderBy(a => a.Ordinal).Select(a => a.Outcome));
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, Now + TimeSpan.FromDays(30), Lease, Ct));
        Assert.Equal(
            new Dictionary<RecipientState, long> { [RecipientState.Sent] = 1, [RecipientState.Cancelled] = 2 },
            await store.CountByStateAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Retrying_makes_deferred_and_expired_recipients_due_now_and_never_resends_to_delivered_or_bounced_ones(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("waiting", to: ["a@example.org", "b@example.org"])], Ct);
        await SettleAsync(store, "waiting", Now, Now + TimeSpan.FromHours(1), Sent(0), Deferred(1));
        await store.EnqueueAsync([Message("gaveup", to: ["a@example.org", "b@example.org", "c@example.org"])], Ct);
        await SettleAsync(store, "gaveup", Now, Now, Sent(0), Bounced(1), Expired(2));
        await store.EnqueueAsync([Message("done")], Ct);
        await SettleAsync(store, "done", Now, Now, Sent(0));
        var retryAt = Now + TimeSpan.FromMinutes(10);
        var newExpiry = retryAt + MaximumAge;
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, retryAt, Lease, Ct));

        Assert.Equal(1, await store.RetryAsync("waiting", retryAt, newExpiry, Ct));
        Assert.Equal(1, await store.RetryAsync("gaveup", retryAt, newExpiry, Ct));
        Assert.Equal(0, await store.RetryAsync("done", retryAt, newExpiry, Ct));
        Assert.Equal(0, await store.RetryAsync("missing", retryAt, newExpiry, Ct));

        Assert.Equal(
            [RecipientState.Sent, RecipientState.Bounced, RecipientState.Queued],
            (await store.GetAsync("gaveup", Ct))!.Message.Recipients.Select(r => r.State));
        Assert.Empty(await store.ClaimAsync("node-a", null, 10, retryAt - OneMs, Lease, Ct));
        var due = (await store.ClaimAsync("node-a", null, 10, retryAt, Lease, Ct)).ToDictionary(c => c.Id);
        Assert.Equal(["gaveup", "waiting"], due.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([new PendingRecipient(1, "b@example.org", 1)], due["waiting"].Recipients);
        Assert.Equal([new PendingRecipient(2, "c@example.org", 1)], due["gaveup"].Recipients);
        // The expired message gets a new maximum age, so it is not expired again at once.
        Assert.Equal(newExpiry, due["gaveup"].ExpiresAt);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Listing_filters_by_scope_state_recipient_and_time_newest_first(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        DateTimeOffset At(int seconds) => Now + TimeSpan.FromSeconds(seconds);
        await store.EnqueueAsync([Message("hr", "/hr", created: At(1), to: ["x@example.org", "y@example.org"])], Ct);
        await SettleAsync(store, "hr", At(1), At(600), Sent(0), Deferred(1));
        await store.EnqueueAsync(
            [
                Message("root", "/", created: At(0)),
                Message("payroll", "/hr/payroll", created: At(2), to: ["x@example.org"]),
                Message("lookalike", "/hr-x", created: At(3)),
                Message("finance", "/finance", created: At(4)),
            ],
            Ct);

        async Task<IEnumerable<string>> ListAsync(MessageFilter filter) => (await store.ListAsync(filter, Ct)).Select(m => m.Id);

        Assert.Equal(["finance", "lookalike", "payroll", "hr", "root"], await ListAsync(new MessageFilter(ScopePath.Root)));
        Assert.Equal(["payroll", "hr"], await ListAsync(new MessageFilter(Scope("/hr"))));
        Assert.Equal(["payroll"], await ListAsync(new MessageFilter(Scope("/hr/payroll"))));
        Assert.Equal(["hr"], await ListAsync(new MessageFilter(ScopePath.Root, State: RecipientState.Deferred)));
        Assert.Equal(["finance", "lookalike", "payroll", "root"], await ListAsync(new MessageFilter(ScopePath.Root, State: RecipientState.Queued)));
        Assert.Empty(await ListAsync(new MessageFilter(Scope("/finance"), State: RecipientState.Sent)));
        Assert.Equal(["payroll", "hr"], await ListAsync(new MessageFilter(ScopePath.Root, Recipient: "x@example.org")));
        Assert.Equal(["payroll", "hr"], await ListAsync(new MessageFilter(ScopePath.Root, Since: At(1), Until: At(3))));
        Assert.Equal(["finance", "lookalike"], await ListAsync(new MessageFilter(ScopePath.Root, Limit: 2)));

        var hr = Assert.Single(await store.ListAsync(new MessageFilter(Scope("/hr"), State: RecipientState.Deferred), Ct));
        Assert.Equal(Scope("/hr"), hr.Scope);
        Assert.Equal("Subject of hr", hr.Subject);
        Assert.Equal(At(1), hr.CreatedAt);
        Assert.Equal([("x@example.org", RecipientState.Sent), ("y@example.org", RecipientState.Deferred)], hr.Recipients.Select(r => (r.Address, r.State)));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Listing_and_showing_messages_never_read_the_mime_column_and_older_rows_show_no_subject(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        var big = Message("big", created: Now) with { Mime = MimeData.FromBytes([.. Mime("big"), .. new byte[5 * 1024 * 1024]]) };
        await store.EnqueueAsync([big, Message("old", created: Now + OneMs)], Ct);
        await using (var raw = await db.Database.OpenAsync(Ct))
        {
            // As a message queued before subjects were stored; then the bodies are made unreachable:
            // a list or a show that still selected them would fail.
            await raw.ExecuteAsync("UPDATE messages SET subject = NULL WHERE id = 'old'");
            await raw.ExecuteAsync("ALTER TABLE messages RENAME COLUMN mime TO mime_out_of_reach");
        }

        var listed = await store.ListAsync(new MessageFilter(ScopePath.Root), Ct);
        var shown = await store.GetAsync("big", Ct);

        Assert.Equal([("old", (string?)null), ("big", "Subject of big")], listed.Select(m => (m.Id, m.Subject)));
        Assert.Equal(("Subject of big", big.Mime.Length), (shown!.Message.Subject, shown.SizeBytes));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Counts_for_metrics_give_every_recipient_state_in_use(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        Assert.Empty(await store.CountByStateAsync(Ct));

        await store.EnqueueAsync([Message("m1", to: ["a@example.org", "b@example.org", "c@example.org", "d@example.org"])], Ct);
        await SettleAsync(store, "m1", Now, Now + TimeSpan.FromMinutes(5), Sent(0), Bounced(1), Deferred(2), Deferred(3));
        await store.EnqueueAsync([Message("m2", to: ["a@example.org", "b@example.org"]), Message("m3", to: ["a@example.org"])], Ct);
        await store.CancelAsync("m3", Now, Ct);

        Assert.Equal(
            new Dictionary<RecipientState, long>
            {
                [RecipientState.Queued] = 2,
                [RecipientState.Sent] = 1,
                [RecipientState.Bounced] = 1,
                [RecipientState.Deferred] = 2,
                [RecipientState.Cancelled] = 1,
            },
            await store.CountByStateAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_spooled_message_is_streamed_in_and_a_large_claimed_message_is_read_back_only_when_it_is_sent(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        var body = LargeBody(3 * 1024 * 1024);
        using var spool = new TemporarySpool();
        using var file = spool.Spool.Create();
        await file.AppendAsync(body, Ct);
        var prefix = Encoding.ASCII.GetBytes("Message-ID: <big@herald.example.org>\r\nSubject: Three megabytes\r\n\r\n");
        // The subject is stored beside the MIME by whoever composed or received it, as the relay does.
        var message = Message("big") with { Mime = MimeData.Prefixed(prefix, MimeData.InSpool(file)), Subject = "Three megabytes" };

        await store.EnqueueAsync([message], Ct);
        // Stored: the spool file can go; the outbox has its own copy.
        file.Dispose();

        var details = await store.GetAsync("big", Ct);
        Assert.Equal((prefix.Length + body.Length, "Three megabytes"), (details?.SizeBytes, details?.Message.Subject));
        var claimed = Assert.Single(await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct));
        Assert.Null(claimed.Mime.Bytes);
        Assert.Equal(prefix.Length + body.Length, claimed.Mime.Length);
        byte[] expected = [.. prefix, .. body];
        Assert.Equal(expected, await ReadAllAsync(claimed.Mime));
        using (var parsed = await claimed.Mime.ParseAsync(Ct))
        {
            Assert.Equal("Three megabytes", parsed.Message.Subject);
            Assert.Single(Directory.GetFiles(db.Spool.Directory));
        }

        Assert.Empty(Directory.GetFiles(db.Spool.Directory));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_large_message_composed_in_memory_is_stored_whole_and_claimed_without_its_bytes(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        byte[] mime = [.. Encoding.ASCII.GetBytes("Subject: Two megabytes\r\n\r\n"), .. LargeBody(2 * 1024 * 1024)];
        await store.EnqueueAsync([Message("large") with { Mime = mime, Subject = "Two megabytes" }, Message("small")], Ct);

        var claimed = (await store.ClaimAsync("node-a", null, 10, Now, Lease, Ct)).ToDictionary(c => c.Id);

        Assert.Null(claimed["large"].Mime.Bytes);
        Assert.Equal(mime, await ReadAllAsync(claimed["large"].Mime));
        Assert.Equal(Mime("small"), claimed["small"].Mime.Bytes);
        Assert.Equal("Two megabytes", (await store.GetAsync("large", Ct))?.Message.Subject);
    }

    private static byte[] LargeBody(int size)
    {
        var random = new Random(7);
        var body = new byte[size];
        random.NextBytes(body);
        return body;
    }

    private static async Task<byte[]> ReadAllAsync(MimeData mime)
    {
        await using var stream = await mime.OpenReadAsync(Ct);
        var bytes = new MemoryStream();
        await stream.CopyToAsync(bytes, Ct);
        return bytes.ToArray();
    }

    private const string SentReply = "250 2.0.0 Ok: queued as 4F2A1C";
    private const string BouncedReply = "550 5.1.1 <b@example.org>: Recipient address rejected: User unknown";
    private const string DeferredReply = "451 4.7.1 Greylisted, try again in 300 seconds";
    private const string ExpiredReply = "Connection refused by smtp.example.org:587";

    private static RecipientUpdate Sent(int ordinal) => new(ordinal, RecipientState.Sent, 250, SentReply);

    private static RecipientUpdate Bounced(int ordinal) => new(ordinal, RecipientState.Bounced, 550, BouncedReply);

    private static RecipientUpdate Deferred(int ordinal) => new(ordinal, RecipientState.Deferred, 451, DeferredReply);

    private static RecipientUpdate Expired(int ordinal) => new(ordinal, RecipientState.Expired, null, ExpiredReply);

    private static AttemptOutcome Outcome(string id, string node, DateTimeOffset at, params RecipientUpdate[] recipients) =>
        new(id, node, at, recipients, at + TimeSpan.FromMinutes(5));

    private static AttemptOutcome Outcome(string id, string node, DateTimeOffset at, DateTimeOffset next, params RecipientUpdate[] recipients) =>
        new(id, node, at, recipients, next);

    /// <summary>Claims message <paramref name="id"/> on node "setup" at <paramref name="at"/>, when
    /// it must be the only due message, and records one attempt with <paramref name="recipients"/>.</summary>
    private static async Task SettleAsync(SqlOutboxStore store, string id, DateTimeOffset at, DateTimeOffset next, params RecipientUpdate[] recipients)
    {
        Assert.Equal(id, Assert.Single(await store.ClaimAsync("setup", null, 10, at, Lease, Ct)).Id);
        Assert.Equal(1, await store.RecordAsync([Outcome(id, "setup", at, next, recipients)], Ct));
    }

    private static NewMessage Message(string id, string scope = "/", string? key = null, string? connection = null, DateTimeOffset? created = null, string[]? to = null)
    {
        var at = created ?? Now;
        return new NewMessage(
            id, Scope(scope), MessageSource.Api, "alerts@example.org", connection, $"<{id}@herald.example.org>", Mime(id), to ?? ["a@example.org"], key, at, at + MaximumAge)
        {
            Subject = $"Subject of {id}",
        };
    }

    /// <summary>Final MIME bytes: CRLF headers and a binary body with every byte value, NUL included.</summary>
    private static byte[] Mime(string id) =>
        [
            .. Encoding.ASCII.GetBytes(
                $"Message-ID: <{id}@herald.example.org>\r\nSubject: Subject of {id}\r\nMIME-Version: 1.0\r\n" +
                "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"),
            .. Enumerable.Range(0, 256).Select(b => (byte)b),
            (byte)'\r', (byte)'\n',
        ];

    private static ScopePath Scope(string path) => ScopePath.Parse(path);

    private static async Task<(string? Owner, long? Until)> LeaseOfAsync(TestDatabase db, string id)
    {
        await using var raw = await db.Database.OpenAsync(Ct);
        return await raw.QuerySingleAsync<(string?, long?)>("SELECT lease_owner, lease_until FROM messages WHERE id = @id", new { id });
    }

    private static async Task<string[]> AllMessageIdsAsync(TestDatabase db)
    {
        await using var raw = await db.Database.OpenAsync(Ct);
        return (await raw.QueryAsync<string>("SELECT id FROM messages")).Order(StringComparer.Ordinal).ToArray();
    }

    private static async Task<long> CountAsync(TestDatabase db, string sql)
    {
        await using var raw = await db.Database.OpenAsync(Ct);
        return await raw.ExecuteScalarAsync<long>(sql);
    }
}
