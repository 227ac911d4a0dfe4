using System.Text;
using Dapper;
using Herald.IntegrationTests.Notifications;
using Herald.Notifications;
using Herald.Notifications.Digests;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Storage.Notifications;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;
using Herald.Work;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary>Failures counted, quarantine, listing and retry of messages, events and digest runs,
/// on every engine: what the background loops and administrators rely on, read from the database.</summary>
public sealed class QuarantineStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_message_failure_is_counted_and_postponed_then_quarantined_with_its_pending_recipients_and_a_retry_makes_it_due_with_every_try(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1", "/hr"), Message("other", "/finance")], Ct);
        var claimed = Assert.Single(await store.ClaimAsync("node-a", null, 1, Now, Lease, Ct));
        Assert.Equal(0, claimed.Failures);

        // A failure of its own: counted, lease let go, due at the backoff.
        Assert.Equal(1, await store.RecordAsync([AttemptOutcome.Failed("m1", "node-a", Now, new ItemFailure("FormatException: bad", 1, Now.AddMinutes(1)))], Ct));
        Assert.DoesNotContain(await store.ClaimAsync("node-a", null, 10, Now.AddSeconds(30), Lease, Ct), m => m.Id == "m1");
        var again = (await store.ClaimAsync("node-b", null, 10, Now.AddMinutes(1), Lease, Ct)).Single(m => m.Id == "m1");
        Assert.Equal(1, again.Failures);

        // The last try: quarantined; no claim takes it, its recipients say why.
        await store.RecordAsync([AttemptOutcome.Failed("m1", "node-b", Now.AddMinutes(1), new ItemFailure("FormatException: bad", 2, null))], Ct);
        Assert.DoesNotContain(await store.ClaimAsync("node-c", null, 10, Now.AddDays(1), Lease, Ct), m => m.Id == "m1");
        var failed = Assert.Single(await store.ListAsync(new MessageFilter(ScopePath.Root, RecipientState.Failed), Ct));
        Assert.Equal(("m1", 2, "FormatException: bad"), (failed.Id, failed.Failures, failed.LastError));
        Assert.Equal((RecipientState.Failed, "FormatException: bad"), (failed.Recipients[0].State, failed.Recipients[0].LastReply));
        Assert.Equal(1, await store.CountFailedAsync(ScopePath.Parse("/hr"), Ct));
        Assert.Equal(0, await store.CountFailedAsync(ScopePath.Parse("/finance"), Ct));
        Assert.Equal(1, (await store.CountByStateAsync(Ct))[RecipientState.Failed]);

        Assert.Equal(1, await store.RetryAsync("m1", Now.AddDays(1), Now.AddDays(6), Ct));
        var retried = (await store.ClaimAsync("node-c", null, 10, Now.AddDays(1), Lease, Ct)).Single(m => m.Id == "m1");
        Assert.Equal(0, retried.Failures);
        Assert.Equal(0, await store.CountFailedAsync(ScopePath.Root, Ct));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_postponed_message_lets_its_lease_go_without_counting_anything(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("m1", "/")], Ct);
        await store.ClaimAsync("node-a", null, 1, Now, Lease, Ct);

        await store.RecordAsync([AttemptOutcome.Postponed("m1", "node-a", Now, Now.AddSeconds(5))], Ct);

        Assert.Empty(await store.ClaimAsync("node-b", null, 1, Now.AddSeconds(4), Lease, Ct));
        var claimed = Assert.Single(await store.ClaimAsync("node-b", null, 1, Now.AddSeconds(5), Lease, Ct));
        Assert.Equal((0, 0), (claimed.Attempts, claimed.Failures));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_event_failure_gives_it_back_for_its_backoff_then_quarantines_it_listed_by_scope_until_retried(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var settings = new SqlSettingsStore(db.Database, new FakeTimeProvider(Now));
        await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
        await settings.AddScopeAsync(ScopePath.Parse("/hr2"), Ct);
        var store = new SqlNotificationEventStore(db.Database);
        await store.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/hr", "/a"), NotificationHarness.Event("e2", EventTypes.ItemChanged, "/hr2", "/a")], Ct);
        var start = NotificationHarness.Start;
        var e1 = (await store.ClaimAsync("node-a", 10, start, Lease, Ct)).Single(e => e.Id == "e1");

        Assert.False(await store.FailAsync(e1.Key, "node-b", new ItemFailure("x", 1, start.AddMinutes(1)), Ct)); // not node-b's
        Assert.True(await store.FailAsync(e1.Key, "node-a", new ItemFailure("DivideByZeroException: Attempted to divide by zero.", 1, start.AddMinutes(1)), Ct));
        Assert.Empty(await store.ClaimAsync("node-b", 10, start.AddSeconds(59), Lease, Ct));
        var again = Assert.Single(await store.ClaimAsync("node-b", 10, start.AddMinutes(1).AddMilliseconds(1), Lease, Ct));
        Assert.Equal(("e1", 1), (again.Id, again.Failures));

        Assert.True(await store.FailAsync(again.Key, "node-b", new ItemFailure("DivideByZeroException: Attempted to divide by zero.", 2, null), Ct));
        Assert.DoesNotContain(await store.ClaimAsync("node-c", 10, start.AddDays(1), Lease, Ct), e => e.Id == "e1");
        var failed = Assert.Single(await store.ListFailedAsync(ScopePath.Parse("/hr"), 100, Ct));
        Assert.Equal((new EventKey(ScopePath.Parse("/hr"), "e1"), 2, "DivideByZeroException: Attempted to divide by zero."), (failed.Key, failed.Failures, failed.LastError));
        Assert.Empty(await store.ListFailedAsync(ScopePath.Parse("/hr2"), 100, Ct));
        Assert.Equal(1, await store.CountFailedAsync(ScopePath.Root, Ct));

        Assert.False(await store.RetryAsync(new EventKey(ScopePath.Parse("/hr2"), "e1"), Ct)); // another scope's name
        Assert.True(await store.RetryAsync(failed.Key, Ct));
        Assert.False(await store.RetryAsync(failed.Key, Ct)); // pending now: nothing to retry
        var retried = Assert.Single(await store.ClaimAsync("node-c", 10, start.AddDays(1), Lease, Ct));
        // (e2 is node-c's since the claim above; only the retried e1 is due.)
        Assert.Equal(("e1", 0), (retried.Id, retried.Failures));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_digest_failure_is_retried_at_its_time_then_quarantined_and_a_retry_or_a_send_settles_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var settings = new SqlSettingsStore(db.Database, new FakeTimeProvider(Now));
        await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO subscriptions (id, scope_path, owner_kind, owner_id, name, event_types, path_prefixes, change_kinds, conditions, frequency, digest_at, digest_day, exclude_actor, enabled, created_at, updated_at)
                VALUES ('daily', '/hr', 'user', 'alice', 'HR daily', '', '', '', '[]', 'daily', '08:00', 'monday', 0, 1, 0, 0)
                """);
        }

        var store = new SqlDigestStore(db.Database);
        var (start, end) = (Now.AddDays(-1), Now);
        await store.RecordFailureAsync(new DigestFailure("daily", "alice", start, end, "node-a", Now, new ItemFailure("OverflowException: too big", 1, Now.AddMinutes(1))), Ct);

        // The window counts as tried (a new window starts after it) and is due again at its time.
        Assert.Equal(end, (await store.LastRunsAsync("daily", Ct))["alice"]);
        Assert.Empty(await store.RetriesDueAsync("daily", Now.AddSeconds(59), Ct));
        Assert.Equal([new DigestRetry("alice", start, end, 1, Now.AddMinutes(1))], await store.RetriesDueAsync("daily", Now.AddMinutes(1), Ct));

        await store.RecordFailureAsync(new DigestFailure("daily", "alice", start, end, "node-a", Now.AddMinutes(1), new ItemFailure("OverflowException: too big", 2, null)), Ct);
        Assert.Empty(await store.RetriesDueAsync("daily", Now.AddDays(1), Ct));
        var failed = Assert.Single(await store.ListFailedAsync(ScopePath.Root, 100, Ct));
        Assert.Equal(("HR daily", ScopePath.Parse("/hr"), start, end, 2, "OverflowException: too big"), (failed.SubscriptionName, failed.Scope, failed.WindowStart, failed.WindowEnd, failed.Failures, failed.LastError));
        Assert.Equal(1, await store.CountFailedAsync(ScopePath.Parse("/hr"), Ct));
        Assert.Equal(failed, await store.FindFailedAsync("daily", "alice", end, Ct));

        Assert.True(await store.RetryAsync("daily", "alice", end, Ct));
        Assert.Equal(0, Assert.Single(await store.RetriesDueAsync("daily", Now.AddDays(1), Ct)).Failures);

        // Sent at last: done, and a late failure from another node does not undo it.
        await store.RecordRunsAsync([new DigestRun("daily", "alice", end, "node-b", Now.AddDays(1))], Ct);
        await store.RecordFailureAsync(new DigestFailure("daily", "alice", start, end, "node-c", Now.AddDays(1), new ItemFailure("late", 1, null)), Ct);
        Assert.Empty(await store.RetriesDueAsync("daily", Now.AddDays(2), Ct));
        Assert.Equal(0, await store.CountFailedAsync(ScopePath.Root, Ct));
    }

    private static NewMessage Message(string id, string scope) =>
        new(id, ScopePath.Parse(scope), MessageSource.Api, "alerts@example.org", null, $"<{id}@example.org>",
            Encoding.ASCII.GetBytes($"Subject: {id}\r\n\r\nx\r\n"), ["a@example.org"], null, Now, Now.AddDays(5));
}
