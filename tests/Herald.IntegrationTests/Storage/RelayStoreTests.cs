using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Relay;
using Herald.Storage.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary><see cref="SqlRelayStore"/> and <see cref="RelaySettingsService"/> on real SQLite and real PostgreSQL.</summary>
public sealed class RelayStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_listener_is_stored_by_its_endpoint_with_every_field_and_replaced_in_place(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);

        var (saved, errors) = await service.SetListenerAsync(new RelayListenerUpdate(" [::1]:2525 ")
        {
            Scope = "/hr",
            Access = "all-except",
            Entries = ["192.0.2.0/24", "2001:db8::/32", "spam.example"],
            Auth = "required",
            SenderDomains = ["Example.org"],
            RecipientDomains = ["example.net", "example.com"],
            AuthWithoutTls = true,
        }, Ct);
        Assert.Empty(errors);
        await service.SetListenerAsync(new RelayListenerUpdate("127.0.0.1:2525") { Entries = ["127.0.0.1"] }, Ct);
        await service.SetListenerAsync(new RelayListenerUpdate("[::1]:2525") { Auth = "none" }, Ct);

        var listeners = await store.ListListenersAsync(Ct);
        Assert.Equal(["127.0.0.1:2525", "[::1]:2525"], listeners.Select(l => l.Listen));
        var v6 = listeners[1];
        Assert.Equal(("/hr", RelayAccessMode.AllExcept, RelayAuthMode.None, true), (v6.Scope.Value, v6.Access, v6.Auth, v6.AuthWithoutTls));
        Assert.Equal(["192.0.2.0/24", "2001:db8::/32", "spam.example"], v6.Entries);
        Assert.Equal(["example.org"], v6.SenderDomains);
        Assert.Equal(["example.net", "example.com"], v6.RecipientDomains);
        Assert.Equal(saved!.Entries, v6.Entries);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_names_the_field_and_leaves_the_stored_listener_untouched(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);
        await service.SetListenerAsync(new RelayListenerUpdate("127.0.0.1:2525") { Entries = ["10.0.0.0/8"] }, Ct);
        var before = await store.ListListenersAsync(Ct);

        var (_, badEntry) = await service.SetListenerAsync(new RelayListenerUpdate("127.0.0.1:2525") { Entries = ["10.0.0.0/8", "10.0.0.0/99"], Auth = "required" }, Ct);
        var (_, missingScope) = await service.SetListenerAsync(new RelayListenerUpdate("127.0.0.1:2525") { Scope = "/nowhere" }, Ct);
        var (_, badListen) = await service.SetListenerAsync(new RelayListenerUpdate("127.0.0.1") { Entries = ["10.0.0.1"] }, Ct);

        Assert.Equal("entries[1]", Assert.Single(badEntry).Field);
        Assert.Equal("scope", Assert.Single(missingScope).Field);
        Assert.Equal("listen", Assert.Single(badListen).Field);
        var after = Assert.Single(await store.ListListenersAsync(Ct));
        Assert.Equal((before[0].Auth, before[0].Scope), (after.Auth, after.Scope));
        Assert.Equal(before[0].Entries, after.Entries);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_listener_is_removed_and_the_default_applies_again_when_none_is_left(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, cache) = await ServicesAsync(db);
        Assert.Equal([RelaySettingsService.DefaultListener], await cache.GetListenersAsync(Ct));

        var (saved, _) = await service.SetListenerAsync(new RelayListenerUpdate("127.0.0.1:2526") { Entries = ["127.0.0.1"] }, Ct);
        Assert.Equal(["127.0.0.1:2526"], (await cache.GetListenersAsync(Ct)).Select(l => l.Listen));

        Assert.True(await service.RemoveListenerAsync(saved!, Ct));
        Assert.False(await service.RemoveListenerAsync(saved!, Ct));
        Assert.Empty(await store.ListListenersAsync(Ct));
        Assert.Equal([RelaySettingsService.DefaultListener], await cache.GetListenersAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_account_keeps_only_a_hash_and_a_second_add_changes_its_password_and_scope(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);

        var (created, errors) = await service.SetAccountAsync("/hr", "scanner@hr", "first secret", Ct);
        Assert.True(created);
        Assert.Empty(errors);
        var first = await store.FindAccountAsync("scanner@hr", Ct);
        Assert.DoesNotContain("first secret", first!.PasswordHash, StringComparison.Ordinal);
        Assert.True(RelayPasswords.Verify("first secret", first.PasswordHash));

        var (createdAgain, _) = await service.SetAccountAsync("/", "scanner@hr", "second secret", Ct);
        var second = await store.FindAccountAsync("scanner@hr", Ct);

        Assert.False(createdAgain);
        Assert.Equal("/", second!.Scope.Value);
        Assert.False(RelayPasswords.Verify("first secret", second.PasswordHash));
        Assert.True(RelayPasswords.Verify("second secret", second.PasswordHash));
        Assert.Equal(["scanner@hr"], (await store.ListAccountsAsync(Ct)).Select(a => a.UserName));
        Assert.Null(await store.FindAccountAsync("Scanner@hr", Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Bad_account_input_names_each_field_and_saves_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);

        var (_, errors) = await service.SetAccountAsync("hr", "has space", "", Ct);
        var (_, missingScope) = await service.SetAccountAsync("/nowhere", "app", "secret", Ct);

        Assert.Equal(["scope", "user", "password"], errors.Select(e => e.Field));
        Assert.Equal("scope", Assert.Single(missingScope).Field);
        Assert.Empty(await store.ListAccountsAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Removing_a_scope_removes_its_listeners_and_accounts(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);
        await service.SetListenerAsync(new RelayListenerUpdate("127.0.0.1:2527") { Scope = "/hr", Entries = ["127.0.0.1"] }, Ct);
        await service.SetAccountAsync("/hr", "app", "secret", Ct);

        Assert.True(await new SqlSettingsStore(db.Database, new FakeTimeProvider(Now)).RemoveScopeAsync(ScopePath.Parse("/hr"), Ct));

        Assert.Empty(await store.ListListenersAsync(Ct));
        Assert.True(await store.RemoveAccountAsync("app", Ct) is false);
    }

    private static async Task<(RelaySettingsService Service, SqlRelayStore Store, RelaySettingsCache Cache)> ServicesAsync(TestDatabase db)
    {
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
        var store = new SqlRelayStore(db.Database);
        var cache = new RelaySettingsCache(store, time);
        return (new RelaySettingsService(store, settings, cache, time), store, cache);
    }
}
