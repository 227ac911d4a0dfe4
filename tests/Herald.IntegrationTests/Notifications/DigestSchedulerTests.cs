using System.Text;
using Dapper;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Notifications.Digests;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage;
using Herald.Storage.Database;
using Herald.Storage.Notifications;
using Herald.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The digest scheduler on real SQLite and PostgreSQL, with a fake clock: one digest per
/// window with all its events, nothing again after a restart, one message from two nodes.</summary>
public sealed class DigestSchedulerTests
{
    /// <summary>Alice is in Berlin; her daily digest is at 08:00 local. The window that ends on
    /// Sunday 29 March 2026 (the spring change) runs from 08:00 CET Saturday (07:00 UTC) to 08:00
    /// CEST Sunday (06:00 UTC): 23 hours.</summary>
    private static readonly DateTimeOffset SaturdayAfterEight = new(2026, 3, 28, 7, 30, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset SundayEight = new(2026, 3, 29, 6, 0, 0, TimeSpan.Zero);

    private static readonly DirectoryUser Alice = new("alice", "Alice Martin", EmailAddress.Parse("alice@example.org"), "Europe/Berlin", "en");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_daily_subscriber_gets_one_digest_with_all_the_days_events_and_a_restart_sends_nothing_again(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(SaturdayAfterEight);
        var store = await PrepareAsync(db.Database, time);

        await using (var node = Node(db.Database, time, store, "node-a"))
        {
            // The window that ended at 08:00 this morning had no events: recorded, nothing sent.
            Assert.Equal(0, await node.Scheduler.RunOnceAsync(Ct));
            await AddEventsAsync(db.Database, node.Services);

            time.SetUtcNow(SundayEight.AddMinutes(-1));
            Assert.Equal(0, await node.Scheduler.RunOnceAsync(Ct));
            time.SetUtcNow(SundayEight);
            Assert.Equal(1, await node.Scheduler.RunOnceAsync(Ct));
            Assert.Equal(0, await node.Scheduler.RunOnceAsync(Ct));
        }

        // A restarted node (new scheduler, same database) finds the window done.
        time.Advance(TimeSpan.FromMinutes(5));
        await using (var restarted = Node(db.Database, time, store, "node-a"))
        {
            Assert.Equal(0, await restarted.Scheduler.RunOnceAsync(Ct));
        }

        var message = Assert.Single(await MessagesAsync(db.Database));
        Assert.Equal(("digest", DigestScheduler.IdempotencyKey("daily", "alice", SundayEight)), (message.Source, message.IdempotencyKey));
        var mime = message.Mime;
        Assert.Contains("Subject: Daily summary of Shared Documents: 3 changes", mime, StringComparison.Ordinal);
        Assert.Contains("Saturday, 28 March 2026, 08:00 to Sunday, 29 March 2026, 08:00 (Europe/Berlin)", mime, StringComparison.Ordinal);
        Assert.Contains("Budget.xlsx", mime, StringComparison.Ordinal);
        Assert.Contains("Minutes.docx", mime, StringComparison.Ordinal);
        Assert.Contains("Early.docx", mime, StringComparison.Ordinal);
        Assert.DoesNotContain("Mine.docx", mime, StringComparison.Ordinal);
        Assert.DoesNotContain("Tomorrow.docx", mime, StringComparison.Ordinal);
        Assert.Contains("List-Unsubscribe: <http://127.0.0.1:8025/unsubscribe/", mime, StringComparison.Ordinal);
        Assert.Equal(["alice@example.org"], await RecipientsAsync(db.Database));
        await using var connection = await db.Database.OpenAsync(Ct);
        Assert.Equal(2, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_runs WHERE subscription_id = 'daily'"));

        // Sixteen days later the next check sends what came after (Tomorrow.docx) and purges
        // digest items older than 15 days.
        time.SetUtcNow(SundayEight.AddDays(16));
        await using (var later = Node(db.Database, time, store, "node-a"))
        {
            Assert.Equal(1, await later.Scheduler.RunOnceAsync(Ct));
        }

        Assert.Contains("Tomorrow.docx", (await MessagesAsync(db.Database)).Single(m => m.IdempotencyKey != message.IdempotencyKey).Mime, StringComparison.Ordinal);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM digest_events"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_first_digest_of_a_subscription_made_during_the_window_covers_only_the_time_since_it_was_made(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(SaturdayAfterEight);
        // Made three minutes before Sunday's digest time (07:57 CEST).
        var store = await PrepareAsync(db.Database, time, created: SundayEight.AddMinutes(-3));

        await using (var node = Node(db.Database, time, store, "node-a"))
        {
            await AddEventsAsync(db.Database, node.Services);
            time.SetUtcNow(SundayEight);
            Assert.Equal(1, await node.Scheduler.RunOnceAsync(Ct));
        }

        var mime = Assert.Single(await MessagesAsync(db.Database)).Mime;
        Assert.Contains("Sunday, 29 March 2026, 07:57 to Sunday, 29 March 2026, 08:00 (Europe/Berlin)", mime, StringComparison.Ordinal);
        Assert.DoesNotContain("Saturday, 28 March 2026, 08:00 to", mime, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Two_nodes_on_one_database_queue_one_digest_for_the_window(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(SaturdayAfterEight);
        var store = await PrepareAsync(db.Database, time);
        var second = db.OpenAnother();
        await using var closeSecond = second as IAsyncDisposable;
        await using var a = Node(db.Database, time, store, "node-a");
        await using var b = Node(second, time, store, "node-b");
        await a.Scheduler.RunOnceAsync(Ct);
        await AddEventsAsync(db.Database, a.Services);
        time.SetUtcNow(SundayEight.AddMinutes(1));

        var queued = await Task.WhenAll(a.Scheduler.RunOnceAsync(Ct), b.Scheduler.RunOnceAsync(Ct), a.Scheduler.RunOnceAsync(Ct), b.Scheduler.RunOnceAsync(Ct));

        Assert.InRange(queued.Sum(), 1, 4);
        var message = Assert.Single(await MessagesAsync(db.Database));
        Assert.Equal(DigestScheduler.IdempotencyKey("daily", "alice", SundayEight), message.IdempotencyKey);
        Assert.Equal(["alice@example.org"], await RecipientsAsync(db.Database));
        await using var connection = await db.Database.OpenAsync(Ct);
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM digest_runs WHERE subscription_id = 'daily' AND window_end = @end", new { end = SundayEight.ToUnixTimeMilliseconds() }));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Windows_missed_while_down_are_sent_as_one_digest_covering_everything_since_the_last_run(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(SaturdayAfterEight);
        var store = await PrepareAsync(db.Database, time);
        await using var node = Node(db.Database, time, store, "node-a");
        await node.Scheduler.RunOnceAsync(Ct);
        await AddEventsAsync(db.Database, node.Services);

        // Down from Saturday until Monday 09:00 CEST: Sunday's and Monday's windows are due.
        time.SetUtcNow(new DateTimeOffset(2026, 3, 30, 7, 0, 0, TimeSpan.Zero));
        Assert.Equal(1, await node.Scheduler.RunOnceAsync(Ct));

        var message = Assert.Single(await MessagesAsync(db.Database));
        Assert.Equal(DigestScheduler.IdempotencyKey("daily", "alice", new DateTimeOffset(2026, 3, 30, 6, 0, 0, TimeSpan.Zero)), message.IdempotencyKey);
        Assert.Contains("4 changes", message.Mime, StringComparison.Ordinal);
        Assert.Contains("Tomorrow.docx", message.Mime, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_digest_due_while_its_scopes_email_is_turned_off_is_dropped_and_turning_email_back_on_does_not_send_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(SaturdayAfterEight);
        var store = await PrepareAsync(db.Database, time);
        await using var node = Node(db.Database, time, store, "node-a");
        await node.Scheduler.RunOnceAsync(Ct);
        await AddEventsAsync(db.Database, node.Services);
        var settings = node.Services.GetRequiredService<OutgoingSettingsService>();

        var off = await settings.ApplyAsync(Herald.Access.Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Root) { Enabled = false }, Ct);
        Assert.Contains("Email is turned off for scope /: notifications are dropped; queued messages wait until email is turned back on.", off.Value!.Notes);
        time.SetUtcNow(SundayEight);
        Assert.Equal(0, await node.Scheduler.RunOnceAsync(Ct));
        Assert.Equal(1, node.Services.GetRequiredService<NotificationMetrics>().DroppedTotals.Single(t => t.Key == (ScopePath.Root, DroppedKind.Digest)).Value);

        // Turned back on, the dropped window stays done: nothing is sent for it, now or later.
        Assert.Null((await settings.ApplyAsync(Herald.Access.Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Root) { Enabled = true }, Ct)).Refusal);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(0, await node.Scheduler.RunOnceAsync(Ct));
        Assert.Empty(await MessagesAsync(db.Database));
        await using var connection = await db.Database.OpenAsync(Ct);
        Assert.Equal(SundayEight.ToUnixTimeMilliseconds(), await connection.ExecuteScalarAsync<long>("SELECT MAX(window_end) FROM digest_runs WHERE subscription_id = 'daily'"));
    }

    private static async Task<InMemorySubscriptionStore> PrepareAsync(HeraldDatabase database, TimeProvider time, DateTimeOffset? created = null)
    {
        await new Herald.Storage.Settings.SqlSettingsStore(database, time).SaveOutgoingAsync(
            new ScopeOutgoingSettings(ScopePath.Root) { Enabled = true, ConnectionId = "default", FromAddress = EmailAddress.Parse("alerts@example.org") },
            new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "127.0.0.1", Port = 2525 },
            Ct);
        var subscription = new Subscription(
            "daily", ScopePath.Root, Principal.User("alice"), "Shared Documents", EventFilter.Everything,
            new NotificationSchedule(NotificationFrequency.Daily, new TimeOnly(8, 0), DayOfWeek.Monday), ExcludeActor: true, Enabled: true,
            created ?? SaturdayAfterEight.AddDays(-10), created ?? SaturdayAfterEight.AddDays(-10));
        await using var connection = await database.OpenAsync(Ct);
        // The subscriptions table belongs to another part of the engine; the row is here for the
        // digest tables' foreign keys.
        await connection.ExecuteAsync(
            """
            INSERT INTO subscriptions (id, scope_path, owner_kind, owner_id, name, event_types, path_prefixes, change_kinds, conditions,
                frequency, digest_at, digest_day, exclude_actor, enabled, created_at, updated_at)
            VALUES ('daily', '/', 'user', 'alice', 'Shared Documents', '', '', '', '[]', 'daily', '08:00', 'monday', 1, 1, 0, 0)
            """);
        var store = new InMemorySubscriptionStore();
        store.Add(subscription);
        return store;
    }

    /// <summary>Events received on Saturday and Sunday (UTC times), stored as the event intake
    /// would, and handed to the digest inbox as matching would.</summary>
    private static async Task AddEventsAsync(HeraldDatabase database, IServiceProvider services)
    {
        var events = new (string Id, string Title, string Actor, DateTimeOffset Received)[]
        {
            ("e1", "Budget.xlsx", "bob", new(2026, 3, 28, 8, 0, 0, TimeSpan.Zero)),
            ("e2", "Mine.docx", "alice", new(2026, 3, 28, 11, 0, 0, TimeSpan.Zero)),
            ("e3", "Minutes.docx", "carol@example.org", new(2026, 3, 28, 19, 0, 0, TimeSpan.Zero)),
            ("e4", "Early.docx", "bob", new(2026, 3, 29, 5, 59, 0, TimeSpan.Zero)),
            ("e5", "Tomorrow.docx", "bob", new(2026, 3, 29, 6, 0, 0, TimeSpan.Zero)),
        };
        await using (var connection = await database.OpenAsync(Ct))
        {
            foreach (var e in events)
            {
                await connection.ExecuteAsync(
                    """
                    INSERT INTO notification_events (id, scope_path, type, resource_path, actor, title, link, data, occurred_at, received_at, state)
                    VALUES (@Id, '/', 'item.changed', @Path, @Actor, @Title, NULL, '{"list":"Shared Documents"}', @At, @At, 'done')
                    """,
                    new { e.Id, Path = "/Shared Documents/" + e.Title, e.Actor, e.Title, At = e.Received.ToUnixTimeMilliseconds() });
            }
        }

        var inbox = services.GetRequiredService<IDigestInbox>();
        await inbox.AddAsync(events.Select(e => new DigestEntry("daily", new EventKey(ScopePath.Root, e.Id), e.Received)).ToArray(), Ct);
        // A fan-out that runs again after a crash hands the same entries again: no duplicates.
        await inbox.AddAsync([new DigestEntry("daily", new EventKey(ScopePath.Root, "e1"), events[0].Received)], Ct);
    }

    private static async Task<IReadOnlyList<(string Source, string? IdempotencyKey, string Mime)>> MessagesAsync(HeraldDatabase database)
    {
        await using var connection = await database.OpenAsync(Ct);
        var rows = await connection.QueryAsync<(string Source, string? IdempotencyKey, byte[] Mime)>("SELECT source, idempotency_key, mime FROM messages");
        return rows.Select(r => (r.Source, r.IdempotencyKey, Decode(r.Mime))).ToArray();
    }

    private static async Task<IReadOnlyList<string>> RecipientsAsync(HeraldDatabase database)
    {
        await using var connection = await database.OpenAsync(Ct);
        return (await connection.QueryAsync<string>("SELECT address FROM recipients")).ToArray();
    }

    /// <summary>The message as text, its quoted-printable bodies unfolded so that a test can look for phrases.</summary>
    private static string Decode(byte[] mime)
    {
        using var stream = new MemoryStream(mime);
        var message = MimeKit.MimeMessage.Load(stream);
        return $"Subject: {message.Subject}\n{string.Join("\n", message.Headers.Select(h => $"{h.Field}: {h.Value}"))}\n{message.TextBody}\n{message.HtmlBody}";
    }

    internal static Node Node(HeraldDatabase database, FakeTimeProvider time, InMemorySubscriptionStore store, string name)
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddSingleton<TimeProvider>(time)
            .AddHeraldCore(new Herald.Credentials.NodePassphrase(null, Path.Combine(Path.GetTempPath(), "herald-no-key")))
            .AddHeraldStorage(database)
            // Digests are composed in memory: nothing is ever spooled here.
            .AddSingleton(new MessageSpool(Path.Combine(Path.GetTempPath(), "herald-digest-tests-spool")))
            .AddSingleton(new DiskSpaceGuard(null, Microsoft.Extensions.Options.Options.Create(new OutboxOptions()), time))
            .AddSingleton(new NodeIdentity(name, []))
            .AddSingleton<ISubscriptionStore>(store)
            .AddSingleton<IDirectory>(new InMemoryDirectory(Alice))
            .AddSingleton<ISubscriptionRecipients, OwnerRecipients>()
            .AddSingleton<DigestScheduler>();
        var provider = services.BuildServiceProvider();
        return new Node(provider, provider.GetRequiredService<DigestScheduler>());
    }
}

internal sealed record Node(ServiceProvider Services, DigestScheduler Scheduler) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Services.DisposeAsync();
}
