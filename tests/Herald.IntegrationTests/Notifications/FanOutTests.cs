using Dapper;
using Herald.Notifications;
using Herald.Outbox;
using Herald.Settings;

namespace Herald.IntegrationTests.Notifications;

/// <summary>Events through matching and fan-out into a real outbox (SQLite): who gets an email,
/// how many, and what the stored message says.</summary>
public sealed class FanOutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_subscriber_who_loses_View_receives_nothing_more()
    {
        await using var h = await NotificationHarness.StartAsync();
        h.Directory.AddUser("alice");
        h.Directory.Grant("/hr", Principal.User("alice"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("s1", "user:alice", "/hr"), Ct);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/hr/payroll", "/lib/a.docx")], Ct);
        await engine.RunOnceAsync(Ct);
        h.Directory.Revoke("/hr", Principal.User("alice"));
        await h.Events.AddAsync([NotificationHarness.Event("e2", EventTypes.ItemChanged, "/hr/payroll", "/lib/a.docx")], Ct);
        await engine.RunOnceAsync(Ct);

        var sent = await h.OutboxAsync();
        Assert.Equal(["event:e1:alice@example.com"], sent.Select(s => s.IdempotencyKey));
        Assert.Equal("done", await PendingStateAsync(h, "e2"));
    }

    [Fact]
    public async Task Overlapping_subscriptions_nested_groups_and_rules_send_one_email_per_recipient()
    {
        await using var h = await NotificationHarness.StartAsync();
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            h.Directory.AddUser(user);
        }

        h.Directory.AddGroup("writers", members: [Principal.User("alice"), Principal.User("carol")]);
        h.Directory.AddGroup("team", members: [Principal.User("alice"), Principal.User("bob"), Principal.Group("writers")]);
        h.Directory.Grant("/", Principal.Group("team"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("personal", "user:alice", "/docs"), Ct);
        await h.Subscriptions.SaveAsync(h.Subscription("team-docs", "group:team", "/docs", Filter(prefixes: ["/lib"])), Ct);
        await h.Subscriptions.SaveAsync(h.Subscription("team-all", "group:team", "/"), Ct);
        await h.Subscriptions.SaveRuleAsync(Rule("route", "/docs", [EmailAddress.Parse("CAROL@example.com"), EmailAddress.Parse("ops@example.com")], [Principal.Group("writers")]), Ct);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemAdded, "/docs", "/lib/a.docx")], Ct);
        await engine.RunOnceAsync(Ct);

        var sent = await h.OutboxAsync();
        Assert.Equal(["alice@example.com", "bob@example.com", "carol@example.com", "ops@example.com"], sent.Select(s => s.Address));
        // The first source that named a recipient is the one its unsubscribe link turns off.
        Assert.Equal("<https://herald.test/unsubscribe/subscription/personal/alice>", sent[0].Unsubscribe);
        Assert.Equal("<https://herald.test/unsubscribe/subscription/team-docs/bob>", sent[1].Unsubscribe);
        Assert.Equal("<https://herald.test/unsubscribe/rule/route/ops%40example.com>", sent[3].Unsubscribe);
        Assert.All(sent, s => Assert.Equal("item.added: Policy updated", s.Mime.Subject));
    }

    [Fact]
    public async Task A_member_who_opted_out_of_a_group_subscription_is_left_out_and_can_opt_back_in()
    {
        await using var h = await NotificationHarness.StartAsync();
        h.Directory.AddUser("alice");
        h.Directory.AddUser("bob");
        h.Directory.AddGroup("team", members: [Principal.User("alice"), Principal.User("bob")]);
        h.Directory.Grant("/", Principal.Group("team"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("team-all", "group:team"), Ct);
        await h.Subscriptions.AddOptOutAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "team-all", "bob"), h.Time.GetUtcNow(), Ct);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/hr", "/x")], Ct);
        await engine.RunOnceAsync(Ct);
        await h.Subscriptions.RemoveOptOutAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "team-all", "bob"), Ct);
        await h.Events.AddAsync([NotificationHarness.Event("e2", EventTypes.ItemChanged, "/hr", "/x")], Ct);
        await engine.RunOnceAsync(Ct);

        var keys = (await h.OutboxAsync()).Select(s => s.IdempotencyKey).Order(StringComparer.Ordinal);
        Assert.Equal(["event:e1:alice@example.com", "event:e2:alice@example.com", "event:e2:bob@example.com"], keys);
    }

    [Fact]
    public async Task The_actor_is_left_out_only_where_the_subscription_asks_whether_named_by_id_or_email()
    {
        await using var h = await NotificationHarness.StartAsync();
        h.Directory.AddUser("alice");
        h.Directory.AddUser("bob");
        h.Directory.Grant("/", Principal.User("alice"), AccessLevel.View);
        h.Directory.Grant("/", Principal.User("bob"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("a", "user:alice", excludeActor: true), Ct);
        await h.Subscriptions.SaveAsync(h.Subscription("b", "user:bob", excludeActor: false), Ct);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync(
            [
                NotificationHarness.Event("by-email", EventTypes.ItemChanged, "/hr", "/x", actor: "ALICE@Example.com"),
                NotificationHarness.Event("by-id", EventTypes.ItemChanged, "/hr", "/x", actor: "Alice"),
                NotificationHarness.Event("by-bob", EventTypes.ItemChanged, "/hr", "/x", actor: "bob"),
            ], Ct);
        await engine.RunOnceAsync(Ct);

        var keys = (await h.OutboxAsync()).Select(s => s.IdempotencyKey).Order(StringComparer.Ordinal);
        Assert.Equal(["event:by-bob:alice@example.com", "event:by-bob:bob@example.com", "event:by-email:bob@example.com", "event:by-id:bob@example.com"], keys);
    }

    [Fact]
    public async Task Conditions_on_data_and_change_kinds_decide_who_is_notified()
    {
        await using var h = await NotificationHarness.StartAsync();
        h.Directory.AddUser("alice");
        h.Directory.Grant("/", Principal.User("alice"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("main-failures", "user:alice", filter: new EventFilter(
            [], [], ["failed"], [new EventCondition("pipeline.branch", ConditionOperator.Equals, ["main"])])), Ct);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync(
            [
                NotificationHarness.Event("main", EventTypes.PipelineFailed, "/hr", "/pipelines/build", data: """{"pipeline":{"branch":"main"}}"""),
                NotificationHarness.Event("feature", EventTypes.PipelineFailed, "/hr", "/pipelines/build", data: """{"pipeline":{"branch":"feature"}}"""),
                NotificationHarness.Event("ok", EventTypes.PipelineSucceeded, "/hr", "/pipelines/build", data: """{"pipeline":{"branch":"main"}}"""),
            ], Ct);
        await engine.RunOnceAsync(Ct);

        Assert.Equal(["event:main:alice@example.com"], (await h.OutboxAsync()).Select(s => s.IdempotencyKey));
    }

    [Fact]
    public async Task Daily_subscriptions_get_digest_entries_instead_of_an_email()
    {
        await using var h = await NotificationHarness.StartAsync();
        h.Directory.AddUser("alice");
        h.Directory.Grant("/", Principal.User("alice"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("daily", "user:alice", frequency: NotificationFrequency.Daily), Ct);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/hr", "/x")], Ct);
        await engine.RunOnceAsync(Ct);

        Assert.Empty(await h.OutboxAsync());
        Assert.Equal([new DigestEntry("daily", new EventKey(Scopes.ScopePath.Parse("/hr"), "e1"), NotificationHarness.Start)], h.Digests.Entries);
    }

    [Fact]
    public async Task An_event_whose_scope_cannot_send_stays_pending_and_is_sent_once_settings_exist()
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.ConfiguredSenderOnly, Storage.TestDatabases.Sqlite, configureSending: false);
        h.Directory.AddUser("alice");
        h.Directory.Grant("/", Principal.User("alice"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("s", "user:alice"), Ct);
        var (engine, _, _) = h.Node("node-a");
        await h.Events.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/hr", "/x")], Ct);

        await engine.RunOnceAsync(Ct);
        Assert.Equal("pending", await PendingStateAsync(h, "e1"));
        await h.ConfigureSendingAsync();
        Assert.Equal(0, await engine.RunOnceAsync(Ct)); // not before the retry delay
        h.Time.Advance(TimeSpan.FromSeconds(31));
        await engine.RunOnceAsync(Ct);

        Assert.Equal("done", await PendingStateAsync(h, "e1"));
        Assert.Single(await h.OutboxAsync());
    }

    [Fact]
    public async Task An_event_claimed_by_a_node_that_died_mid_fan_out_is_taken_over_after_the_lease_without_duplicate_emails()
    {
        await using var h = await NotificationHarness.StartAsync();
        for (var i = 0; i < 30; i++)
        {
            h.Directory.AddUser($"u{i}");
        }

        h.Directory.AddGroup("all", members: Enumerable.Range(0, 30).Select(i => Principal.User($"u{i}")).ToArray());
        h.Directory.Grant("/", Principal.Group("all"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("s", "group:all"), Ct);
        await h.Events.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/hr", "/x")], Ct);
        var (_, deadMatcher, deadFanOut) = h.Node("node-dead", lease: TimeSpan.FromMinutes(1));
        var (survivor, _, _) = h.Node("node-b", lease: TimeSpan.FromMinutes(1));

        // node-dead claims the event and writes its emails, then dies before marking it done.
        var claimed = await h.Events.ClaimAsync("node-dead", 10, h.Time.GetUtcNow(), TimeSpan.FromMinutes(1), Ct);
        await deadMatcher.RefreshAsync(Ct);
        var first = await deadFanOut.RunAsync(Assert.Single(claimed), Ct);
        Assert.Equal(0, await survivor.RunOnceAsync(Ct)); // still leased
        h.Time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await survivor.RunOnceAsync(Ct));

        Assert.Equal(30, first.Stored);
        Assert.Equal(30, (await h.OutboxAsync()).Count);
        Assert.Equal("done", await PendingStateAsync(h, "e1"));
    }

    [Fact]
    public async Task A_fan_out_that_outlasts_its_lease_keeps_its_events_from_other_nodes()
    {
        await using var h = await NotificationHarness.StartAsync();
        h.Directory.AddUser("u1");
        h.Directory.Grant("/", Principal.User("u1"), AccessLevel.View);
        await h.Subscriptions.SaveAsync(h.Subscription("s", "user:u1"), Ct);
        await h.Events.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/hr", "/x"), NotificationHarness.Event("e2", EventTypes.ItemChanged, "/hr", "/y")], Ct);
        var slow = new GatedTemplates();
        var (busy, _, _) = h.Node("node-a", lease: TimeSpan.FromMinutes(1), templates: slow);
        var (other, _, _) = h.Node("node-b", lease: TimeSpan.FromMinutes(1));

        // node-a claims both events and is held in e1's fan-out for three leases.
        var running = busy.RunOnceAsync(Ct);
        await slow.Entered.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        for (var step = 0; step < 9; step++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(20));
            await LeaseRenewedAsync(h, h.Time.GetUtcNow() + TimeSpan.FromMinutes(1), "e1", "e2");
            Assert.Equal(0, await other.RunOnceAsync(Ct));
        }

        slow.Open();
        Assert.Equal(2, await running);

        Assert.Equal(["done", "done"], [await PendingStateAsync(h, "e1"), await PendingStateAsync(h, "e2")]);
        Assert.Equal(2, (await h.OutboxAsync()).Count);
    }

    /// <summary>Waits until the renewal that the last advance of the clock set off is stored.</summary>
    private static async Task LeaseRenewedAsync(NotificationHarness h, DateTimeOffset until, params string[] ids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            await using var connection = await h.Db.Database.OpenAsync(Ct);
            var leases = (await connection.QueryAsync<long>("SELECT lease_until FROM notification_events WHERE id IN @ids", new { ids })).ToArray();
            if (leases.All(l => l == until.ToUnixTimeMilliseconds()))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The leases of {string.Join(", ", ids)} were not renewed to {until:O}: {string.Join(", ", leases)}");
            await Task.Delay(20, Ct);
        }
    }

    internal static EventFilter Filter(string[]? types = null, string[]? prefixes = null) => new(types ?? [], prefixes ?? [], [], []);

    internal static NotificationRule Rule(string id, string scope, EmailAddress[] addresses, Principal[] recipients, string[]? types = null) =>
        new(id, Scopes.ScopePath.Parse(scope), $"Rule {id}", Filter(types), addresses, recipients, ExcludeActor: false, Enabled: true, NotificationHarness.Start, NotificationHarness.Start);

    private static async Task<string> PendingStateAsync(NotificationHarness h, string id)
    {
        await using var connection = await h.Db.Database.OpenAsync(Ct);
        return await connection.QuerySingleAsync<string>("SELECT state FROM notification_events WHERE id = @id", new { id });
    }
}
