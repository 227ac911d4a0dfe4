using Herald.IntegrationTests.Notifications;
using Herald.Notifications;
using Herald.Notifications.Matching;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Notifications;
using Herald.Storage.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary>Events, subscriptions, rules and opt-outs on every engine.</summary>
public sealed class NotificationStoreTests
{
    private static readonly DateTimeOffset Now = NotificationHarness.Start;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_repeated_event_id_is_stored_once_and_reported_as_a_duplicate(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlNotificationEventStore(db.Database);
        var first = NotificationHarness.Event("e1", EventTypes.ItemChanged, "/", "/a", data: """{"n":1}""");

        var added = await store.AddAsync([first, NotificationHarness.Event("e2", EventTypes.ItemAdded, "/", "/b")], Ct);
        var again = await store.AddAsync([first with { Title = "changed" }, NotificationHarness.Event("e3", "custom.kind", "/", "/c")], Ct);

        Assert.Equal([false, false], added);
        Assert.Equal([true, false], again);
        var stored = await store.FindAsync(Root("e1"), Ct);
        Assert.Equal("Policy updated", stored!.Title);
        Assert.Equal(1, stored.Data!.Value.GetProperty("n").GetInt32());
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_event_keeps_the_trace_it_was_posted_in_for_whichever_node_claims_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlNotificationEventStore(db.Database);
        const string TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        await store.AddAsync(
            [NotificationHarness.Event("traced", EventTypes.ItemChanged, "/", "/a") with { TraceParent = TraceParent },
             NotificationHarness.Event("untraced", EventTypes.ItemChanged, "/", "/b") with { TraceParent = null }], Ct);

        var claimed = await store.ClaimAsync("node-b", 10, Now, TimeSpan.FromMinutes(1), Ct);

        Assert.Equal(TraceParent, claimed.Single(e => e.Id == "traced").TraceParent);
        Assert.Null(claimed.Single(e => e.Id == "untraced").TraceParent);
        Assert.Equal(TraceParent, (await store.FindAsync(Root("traced"), Ct))!.TraceParent);
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_claimed_event_is_not_claimed_again_until_its_lease_runs_out_and_done_is_final(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlNotificationEventStore(db.Database);
        await store.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/", "/a"), NotificationHarness.Event("e2", EventTypes.ItemChanged, "/", "/a")], Ct);

        var a = await store.ClaimAsync("a", 1, Now, TimeSpan.FromMinutes(1), Ct);
        var b = await store.ClaimAsync("b", 10, Now, TimeSpan.FromMinutes(1), Ct);
        var none = await store.ClaimAsync("b", 10, Now.AddSeconds(30), TimeSpan.FromMinutes(1), Ct);
        var takenOver = await store.ClaimAsync("b", 10, Now.AddMinutes(2), TimeSpan.FromMinutes(1), Ct);

        Assert.Equal(["e1"], a.Select(e => e.Id));
        Assert.Equal(["e2"], b.Select(e => e.Id));
        Assert.Empty(none);
        Assert.Equal(["e1", "e2"], takenOver.Select(e => e.Id));
        Assert.False(await store.CompleteAsync(Root("e1"), "a", Now, Ct)); // node a's lease is gone
        Assert.True(await store.CompleteAsync(Root("e1"), "b", Now, Ct));
        await store.ReleaseAsync(Root("e2"), "b", Now.AddMinutes(10), Ct);
        Assert.Empty(await store.ClaimAsync("c", 10, Now.AddMinutes(5), TimeSpan.FromMinutes(1), Ct));
        Assert.Equal(["e2"], (await store.ClaimAsync("c", 10, Now.AddMinutes(11), TimeSpan.FromMinutes(1), Ct)).Select(e => e.Id));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_node_renews_only_the_leases_it_still_holds_and_a_renewed_event_is_not_taken_over(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlNotificationEventStore(db.Database);
        await store.AddAsync([NotificationHarness.Event("e1", EventTypes.ItemChanged, "/", "/a"), NotificationHarness.Event("e2", EventTypes.ItemChanged, "/", "/a")], Ct);
        await store.ClaimAsync("a", 1, Now, TimeSpan.FromMinutes(1), Ct);
        await store.ClaimAsync("b", 1, Now, TimeSpan.FromMinutes(1), Ct);

        var renewed = await store.RenewAsync("a", [Root("e1"), Root("e2")], Now.AddMinutes(3), Ct);

        Assert.Equal([Root("e1")], renewed);
        // At +2 min e2's lease (node b's, not renewed by a) has run out; e1's has not.
        Assert.Equal(["e2"], (await store.ClaimAsync("c", 10, Now.AddMinutes(2), TimeSpan.FromMinutes(1), Ct)).Select(e => e.Id));
        Assert.True(await store.CompleteAsync(Root("e1"), "a", Now.AddMinutes(2), Ct));
        Assert.Empty(await store.RenewAsync("a", [Root("e1")], Now.AddMinutes(4), Ct)); // done: nothing to hold
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Subscriptions_and_rules_round_trip_and_list_by_owner_and_scope(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = await StoreAsync(db);
        var filter = new EventFilter(["item.changed"], ["/Shared Documents", "/lib"], ["changed"], [new EventCondition("status", ConditionOperator.In, ["a", "b"])]);
        var weekly = new Subscription("w", ScopePath.Parse("/hr/payroll"), Principal.Group("team"), "Weekly", filter,
            new NotificationSchedule(NotificationFrequency.Weekly, new TimeOnly(7, 30), DayOfWeek.Friday), true, true, Now, Now);
        var rule = new NotificationRule("r", ScopePath.Parse("/hr"), "Failures", filter, [EmailAddress.Parse("ops@example.com")], [Principal.Group("team"), Principal.User("alice")], false, true, Now, Now);

        Assert.True(await store.SaveAsync(weekly, Ct));
        Assert.False(await store.SaveAsync(weekly with { Name = "Weekly summary" }, Ct));
        await store.SaveAsync(weekly with { Id = "other", Owner = Principal.User("bob"), Scope = ScopePath.Parse("/hr2") }, Ct);
        Assert.True(await store.SaveRuleAsync(rule, Ct));

        var found = await store.FindAsync("w", Ct);
        Assert.Equal(weekly.Filter.Conditions[0].Values, found!.Filter.Conditions[0].Values);
        Assert.Equal(weekly with { Name = "Weekly summary", Filter = found.Filter }, found);
        Assert.Equal(filter.PathPrefixes, found.Filter.PathPrefixes);
        Assert.Equal(["w"], (await store.ListAsync(Principal.Group("team"), null, Ct)).Select(s => s.Id));
        Assert.Equal(["w"], (await store.ListAsync(null, ScopePath.Parse("/hr"), Ct)).Select(s => s.Id));
        Assert.Equal(["w", "other"], (await store.ListDigestSubscriptionsAsync(Ct)).Select(s => s.Id).OrderDescending());
        var storedRule = await store.FindRuleAsync("r", Ct);
        Assert.Equal(rule.Recipients, storedRule!.Recipients);
        Assert.Equal(["ops@example.com"], storedRule.Addresses.Select(a => a.Value));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Another_node_index_follows_saves_disables_and_removals(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = await StoreAsync(db);
        var time = new FakeTimeProvider(Now);
        using var matcher = new NotificationMatcher(store, time);
        var subscription = new Subscription("s", ScopePath.Parse("/hr"), Principal.User("alice"), "s", EventFilter.Everything, NotificationSchedule.Immediate, false, true, Now, Now);
        await store.SaveAsync(subscription, Ct);
        await matcher.RefreshAsync(Ct);
        var e = NotificationHarness.Event("e", EventTypes.ItemChanged, "/hr", "/x");
        Assert.Single(matcher.Subscriptions.Match(e));

        await store.DisableAsync("s", Now.AddSeconds(1), Ct);
        await matcher.RefreshAsync(Ct);
        Assert.Empty(matcher.Subscriptions.Match(e));

        await store.SaveAsync(subscription with { UpdatedAt = Now.AddSeconds(2) }, Ct);
        await matcher.RefreshAsync(Ct);
        Assert.Single(matcher.Subscriptions.Match(e));

        Assert.False(await store.RemoveAsync("s", ScopePath.Parse("/hr2"), Now.AddSeconds(3), Ct)); // not there
        Assert.True(await store.RemoveAsync("s", ScopePath.Parse("/hr"), Now.AddSeconds(3), Ct));
        await matcher.RefreshAsync(Ct);
        Assert.Empty(matcher.Subscriptions.Match(e));
        Assert.False(await store.RemoveAsync("s", ScopePath.Parse("/hr"), Now.AddSeconds(4), Ct));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Opt_outs_are_recorded_once_and_can_be_withdrawn(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = await StoreAsync(db);
        var optOut = new NotificationOrigin(NotificationSourceKind.Rule, "r", "ops@example.com");

        Assert.True(await store.AddOptOutAsync(optOut, Now, Ct));
        Assert.False(await store.AddOptOutAsync(optOut, Now, Ct));
        // Recipients compare exactly: an address recipient's key is its address in lower case.
        Assert.Equal(["ops@example.com"], await store.OptOutsAsync(NotificationSourceKind.Rule, "r", Ct));
        Assert.Empty(await store.OptOutsAsync(NotificationSourceKind.Subscription, "r", Ct));
        Assert.True(await store.RemoveOptOutAsync(optOut, Ct));
        Assert.Empty(await store.OptOutsAsync(NotificationSourceKind.Rule, "r", Ct));
    }

    private static EventKey Root(string id) => new(ScopePath.Root, id);

    private static async Task<ISubscriptionRegistry> StoreAsync(TestDatabase db)
    {
        var settings = new SqlSettingsStore(db.Database, new FakeTimeProvider(Now));
        foreach (var scope in new[] { "/hr", "/hr/payroll", "/hr2" })
        {
            await settings.AddScopeAsync(ScopePath.Parse(scope), Ct);
        }

        return new SqlSubscriptionStore(db.Database);
    }
}
