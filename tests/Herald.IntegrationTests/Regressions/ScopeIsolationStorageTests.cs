using Dapper;
using Herald.IntegrationTests.Notifications;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Notifications;
using Herald.Storage.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Regressions;

/// <summary>
/// Issue 13, findings 6 and 7, in the stores on both engines. Written against what the stores
/// offered before the fix (they compile and fail on 2728b51): an event id of one scope made the
/// same id of another scope a duplicate, and a subtree query matched '_' as any character.
/// </summary>
public sealed class ScopeIsolationStorageTests
{
    private static readonly DateTimeOffset Now = NotificationHarness.Start;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_event_id_used_in_one_scope_is_still_free_in_another_and_a_duplicate_only_within_a_scope(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await ScopesAsync(db, "/hr", "/finance");
        var store = new SqlNotificationEventStore(db.Database);

        var hr = await store.AddAsync([NotificationHarness.Event("doc-4711", EventTypes.ItemChanged, "/hr", "/a", title: "HR's")], Ct);
        var finance = await store.AddAsync([NotificationHarness.Event("doc-4711", EventTypes.ItemChanged, "/finance", "/b", title: "Finance's")], Ct);
        var again = await store.AddAsync([NotificationHarness.Event("doc-4711", EventTypes.ItemChanged, "/finance", "/c", title: "Finance's again")], Ct);

        Assert.Equal([false], hr);
        Assert.Equal([false], finance);
        Assert.Equal([true], again);
        await using var connection = await db.Database.OpenAsync(Ct);
        var stored = await connection.QueryAsync<(string Scope, string Id, string Title, string State)>(
            "SELECT scope_path, id, title, state FROM notification_events ORDER BY scope_path");
        Assert.Equal([("/finance", "doc-4711", "Finance's", "pending"), ("/hr", "doc-4711", "HR's", "pending")], stored);
        // Both are fanned out: each scope's event is claimed as its own.
        var claimed = await store.ClaimAsync("node", 10, Now, TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(["/finance doc-4711", "/hr doc-4711"], claimed.Select(e => $"{e.Scope} {e.Id}").Order(StringComparer.Ordinal));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_with_an_underscore_lists_its_own_subscriptions_and_rules_and_never_a_look_alike_scopes(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        string[] scopes = ["/eu_west", "/eu_west/x", "/eu-west", "/eu-west/x", "/euxwest", "/eu_west2", "/eu_west.x", "/eu_wes"];
        await ScopesAsync(db, scopes);
        var store = new SqlSubscriptionStore(db.Database);
        foreach (var scope in scopes)
        {
            var id = $"s{Array.IndexOf(scopes, scope)}";
            await store.SaveAsync(new Subscription(id, ScopePath.Parse(scope), Principal.User("alice"), id, EventFilter.Everything, NotificationSchedule.Immediate, false, true, Now, Now), Ct);
            await store.SaveRuleAsync(new NotificationRule(id, ScopePath.Parse(scope), id, EventFilter.Everything, [EmailAddress.Parse("ops@example.org")], [], false, true, Now, Now), Ct);
        }

        var subscriptions = await store.ListAsync(null, ScopePath.Parse("/eu_west"), Ct);
        var rules = await store.ListRulesAsync(ScopePath.Parse("/eu_west"), Ct);
        var owned = await store.ListAsync(Principal.User("alice"), ScopePath.Parse("/eu_west"), Ct);

        Assert.Equal(["/eu_west", "/eu_west/x"], subscriptions.Select(s => s.Scope.Value));
        Assert.Equal(["/eu_west", "/eu_west/x"], rules.Select(r => r.Scope.Value));
        Assert.Equal(["/eu_west", "/eu_west/x"], owned.Select(s => s.Scope.Value));
        Assert.Equal(["/eu-west", "/eu-west/x"], (await store.ListAsync(null, ScopePath.Parse("/eu-west"), Ct)).Select(s => s.Scope.Value));
    }

    private static async Task ScopesAsync(TestDatabase db, params string[] scopes)
    {
        var settings = new SqlSettingsStore(db.Database, new FakeTimeProvider(Now));
        foreach (var scope in scopes.OrderBy(s => s.Length))
        {
            await settings.AddScopeAsync(ScopePath.Parse(scope), Ct);
        }
    }
}
