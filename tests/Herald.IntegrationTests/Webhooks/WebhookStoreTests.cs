using System.Text;
using Herald.Credentials;
using Herald.IntegrationTests.Storage;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Storage.Outbox;
using Herald.Storage.Webhooks;
using Herald.Webhooks;

namespace Herald.IntegrationTests.Webhooks;

/// <summary><see cref="SqlWebhookStore"/> and the deliveries the outbox writes with each change,
/// on real SQLite and real PostgreSQL.</summary>
public sealed class WebhookStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_recorded_outcome_writes_deliveries_for_the_endpoints_of_its_scope_and_above_never_for_a_lookalike(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var webhooks = new SqlWebhookStore(db.Database);
        var outbox = new SqlOutboxStore(db.Database, db.Spool);
        await webhooks.AddAsync(Endpoint("root", "/"), Sealed, Ct);
        await webhooks.AddAsync(Endpoint("hr", "/hr"), Sealed, Ct);
        await webhooks.AddAsync(Endpoint("hr2", "/hr2"), Sealed, Ct);
        await webhooks.AddAsync(Endpoint("bounces-only", "/", "message.recipient.bounced"), Sealed, Ct);

        await outbox.EnqueueAsync([Message("m1", "/hr/payroll", "a@example.org", "b@example.org")], Ct);
        Assert.Single(await outbox.ClaimAsync("node-a", null, 10, Now, Lease, Ct));
        await outbox.RecordAsync(
            [new AttemptOutcome("m1", "node-a", Now, [new RecipientUpdate(0, RecipientState.Sent, 250, "250 2.0.0 queued as 4711"), new RecipientUpdate(1, RecipientState.Deferred, 451, "451 4.3.0 try later")], Now.AddMinutes(1))],
            Ct);

        Assert.Equal(["message.recipient.sent m1 a@example.org", "message.recipient.deferred m1 b@example.org"], await WaitingAsync(webhooks, "root"));
        Assert.Equal(["message.recipient.sent m1 a@example.org", "message.recipient.deferred m1 b@example.org"], await WaitingAsync(webhooks, "hr"));
        Assert.Empty(await WaitingAsync(webhooks, "hr2"));
        Assert.Empty(await WaitingAsync(webhooks, "bounces-only"));
        var claimed = (await webhooks.ClaimAsync("node-a", 10, Now, Lease, Ct)).First(d => d.EndpointId == "hr");
        Assert.Equal(
            """{"type":"message.recipient.sent","timestamp":"2031-05-06T07:08:09.000Z","data":{"messageId":"m1","scope":"/hr/payroll","recipient":"a@example.org","state":"sent","attempt":1,"code":250,"reply":"250 2.0.0 queued as 4711"}}""",
            claimed.Payload);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_later_change_of_a_message_is_claimed_only_once_the_earlier_one_is_delivered(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var webhooks = new SqlWebhookStore(db.Database);
        await webhooks.AddAsync(Endpoint("e", "/"), Sealed, Ct);
        await AppendAsync(db, Change("m1", "deferred", Now), Change("m1", "sent", Now.AddSeconds(1)), Change("m2", "sent", Now.AddSeconds(2)));

        var first = await webhooks.ClaimAsync("node-a", 10, Now.AddSeconds(3), Lease, Ct);
        Assert.Equal(["m1 deferred", "m2 sent"], first.Select(Name));

        // The receiver fails m1's deferral: m1's "sent" still waits, through the backoff.
        var failedAt = Now.AddSeconds(4);
        Assert.Equal(2, await webhooks.RecordAsync([Outcome(first[0], failedAt, 503, succeeded: false), Outcome(first[1], failedAt, 200, succeeded: true)], 100, Now.AddDays(-3), Ct));
        Assert.Empty(await webhooks.ClaimAsync("node-a", 10, failedAt.AddSeconds(1), Lease, Ct));

        var again = await webhooks.ClaimAsync("node-a", 10, failedAt.AddSeconds(5), Lease, Ct);
        Assert.Equal(["m1 deferred"], again.Select(Name));
        await webhooks.RecordAsync([Outcome(again[0], failedAt.AddSeconds(6), 204, succeeded: true)], 100, Now.AddDays(-3), Ct);
        Assert.Equal(["m1 sent"], (await webhooks.ClaimAsync("node-a", 10, failedAt.AddSeconds(7), Lease, Ct)).Select(Name));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_endpoint_failing_longer_than_allowed_is_disabled_and_its_deliveries_wait_until_it_is_enabled(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var webhooks = new SqlWebhookStore(db.Database);
        await webhooks.AddAsync(Endpoint("e", "/hr"), Sealed, Ct);
        await AppendAsync(db, Change("m1", "sent", Now, "/hr/payroll"));
        var allowed = TimeSpan.FromDays(3);

        var claimed = (await webhooks.ClaimAsync("node-a", 10, Now, Lease, Ct)).Single();
        await webhooks.RecordAsync([Outcome(claimed, Now, 500, succeeded: false)], 100, Now - allowed, Ct);
        Assert.Equal(Now, (await webhooks.FindAsync("e", Ct))!.FailingSince);
        Assert.Empty(await webhooks.ListDisabledAsync(ScopePath.Root, Ct));

        var later = Now + allowed + TimeSpan.FromMinutes(1);
        claimed = (await webhooks.ClaimAsync("node-a", 10, later, Lease, Ct)).Single();
        await webhooks.RecordAsync([Outcome(claimed, later, 500, succeeded: false)], 100, later - allowed, Ct);

        var disabled = Assert.Single(await webhooks.ListDisabledAsync(ScopePath.Parse("/hr"), Ct));
        Assert.False(disabled.Enabled);
        Assert.Equal("Disabled by Herald at 2031-05-09 07:09 UTC: no delivery succeeded for 3 days; the last attempt: HTTP 500: busy", disabled.DisabledReason);
        Assert.Empty(await webhooks.ListDisabledAsync(ScopePath.Parse("/hr2"), Ct));
        Assert.Empty(await webhooks.ClaimAsync("node-a", 10, later.AddHours(1), Lease, Ct));

        await webhooks.UpdateAsync(disabled with { Enabled = true, FailingSince = null, DisabledReason = null }, later, Ct);
        Assert.Single(await webhooks.ClaimAsync("node-a", 10, later.AddHours(1), Lease, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_outcome_from_a_node_whose_lease_ran_out_is_ignored_and_the_log_keeps_the_last_attempts(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var webhooks = new SqlWebhookStore(db.Database);
        await webhooks.AddAsync(Endpoint("e", "/"), Sealed, Ct);
        await AppendAsync(db, Change("m1", "sent", Now));

        var byA = (await webhooks.ClaimAsync("node-a", 10, Now, Lease, Ct)).Single();
        var byB = (await webhooks.ClaimAsync("node-b", 10, Now + Lease + TimeSpan.FromSeconds(1), Lease, Ct)).Single();
        Assert.Equal(0, await webhooks.RecordAsync([Outcome(byA, Now.AddMinutes(2), 200, succeeded: true)], 100, Now.AddDays(-3), Ct));
        Assert.Equal(1, await webhooks.RecordAsync([Outcome(byB, Now.AddMinutes(2), 503, succeeded: false) with { Node = "node-b" }], 100, Now.AddDays(-3), Ct));

        for (var i = 0; i < 12; i++)
        {
            var at = Now.AddHours(1 + i);
            var claimed = (await webhooks.ClaimAsync("node-a", 10, at, Lease, Ct)).Single();
            await webhooks.RecordAsync([Outcome(claimed, at, 503, succeeded: false)], 10, Now.AddDays(-3), Ct);
        }

        var (attempts, waiting) = await webhooks.LogAsync("e", 100, 100, Ct);
        Assert.Equal(10, attempts.Count);
        Assert.Equal(Now.AddHours(12), attempts[0].At);
        Assert.Equal(13, Assert.Single(waiting).Attempts);
    }

    private static readonly EncryptedSecret Sealed = new(Encoding.ASCII.GetBytes("not opened in these tests"));

    private static WebhookEndpoint Endpoint(string id, string scope, params string[] types) =>
        new(id, ScopePath.Parse(scope), new Uri($"https://hooks.example.org/{id}"), "", types, true, Now, "the local operator", null, null);

    private static WebhookEvent Change(string message, string state, DateTimeOffset at, string scope = "/") =>
        WebhookPayloads.RecipientChanged(message, ScopePath.Parse(scope), "a@example.org", state, 1, null, null, at)!;

    private static WebhookOutcome Outcome(ClaimedWebhookDelivery delivery, DateTimeOffset at, int status, bool succeeded) =>
        new(delivery.Sequence, delivery.EndpointId, "node-a", at, status, succeeded, succeeded ? "ok" : "busy", at.AddSeconds(5));

    private static string Name(ClaimedWebhookDelivery delivery)
    {
        using var payload = System.Text.Json.JsonDocument.Parse(delivery.Payload);
        var data = payload.RootElement.GetProperty("data");
        return $"{data.GetProperty("messageId").GetString()} {data.GetProperty("state").GetString()}";
    }

    private static async Task AppendAsync(TestDatabase db, params WebhookEvent[] changes)
    {
        await using var connection = await db.Database.OpenAsync(Ct);
        await using var write = await db.Database.BeginWriteAsync(connection, Ct);
        await WebhookJournal.AppendAsync(db.Database, connection, write.Transaction, changes);
        await write.CommitAsync(Ct);
    }

    private static async Task<string[]> WaitingAsync(SqlWebhookStore webhooks, string endpoint) =>
        [.. (await webhooks.LogAsync(endpoint, 10, 10, Ct)).Waiting.Select(d => $"{d.Type} {d.Subject}")];

    private static NewMessage Message(string id, string scope, params string[] to) =>
        new(id, ScopePath.Parse(scope), MessageSource.Api, "alerts@example.org", null, $"<{id}@herald.example.org>",
            Encoding.ASCII.GetBytes($"Subject: {id}\r\n\r\nHello.\r\n"), to, null, Now, Now.AddDays(5));
}
