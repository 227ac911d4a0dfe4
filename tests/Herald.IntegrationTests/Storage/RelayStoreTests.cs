using Dapper;
using Herald.Access;
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

        var saved = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate(" [::1]:2525 ")
        {
            Scope = "/hr",
            Access = "all-except",
            Entries = ["192.0.2.0/24", "2001:db8::/32", "spam.example"],
            Auth = "required",
            SenderDomains = ["Example.org"],
            RecipientDomains = ["example.net", "example.com"],
            AuthWithoutTls = true,
        }, isNew: null, Ct);
        Assert.Null(saved.Refusal);
        await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1:2526") { Entries = ["127.0.0.1"] }, isNew: null, Ct);
        await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("[::1]:2525") { Auth = "none" }, isNew: null, Ct);

        var listeners = await store.ListListenersAsync(Ct);
        Assert.Equal(["127.0.0.1:2526", "[::1]:2525"], listeners.Select(l => l.Listen));
        var v6 = listeners[1];
        Assert.Equal(("/hr", RelayAccessMode.AllExcept, RelayAuthMode.None, true), (v6.Scope.Value, v6.Access, v6.Auth, v6.AuthWithoutTls));
        Assert.Equal(["192.0.2.0/24", "2001:db8::/32", "spam.example"], v6.Entries);
        Assert.Equal(["example.org"], v6.SenderDomains);
        Assert.Equal(["example.net", "example.com"], v6.RecipientDomains);
        Assert.Equal(saved.Value!.Listener.Entries, v6.Entries);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_names_the_field_and_leaves_the_stored_listener_untouched(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);
        await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1:2526") { Entries = ["10.0.0.0/8"] }, isNew: null, Ct);
        var before = await store.ListListenersAsync(Ct);

        var badEntry = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1:2526") { Entries = ["10.0.0.0/8", "10.0.0.0/99"], Auth = "required" }, isNew: null, Ct);
        var missingScope = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1:2526") { Scope = "/nowhere" }, isNew: null, Ct);
        var badListen = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1") { Entries = ["10.0.0.1"] }, isNew: null, Ct);

        Assert.Equal("entries[1]", Assert.Single(badEntry.Refusal!.Errors).Field);
        Assert.Equal("scope", Assert.Single(missingScope.Refusal!.Errors).Field);
        Assert.Equal("listen", Assert.Single(badListen.Refusal!.Errors).Field);
        var after = Assert.Single(await store.ListListenersAsync(Ct));
        Assert.Equal((before[0].Auth, before[0].Scope), (after.Auth, after.Scope));
        Assert.Equal(before[0].Entries, after.Entries);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Storing_a_listener_leaves_the_implied_default_running_until_it_is_removed_explicitly(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, cache) = await ServicesAsync(db);
        Assert.Equal([RelaySettingsService.DefaultListener], await cache.GetListenersAsync(Ct));

        var saved = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1:2526") { Entries = ["127.0.0.1"] }, isNew: true, Ct);
        Assert.Equal(["127.0.0.1:2525", "127.0.0.1:2526"], (await cache.GetListenersAsync(Ct)).Select(l => l.Listen));

        Assert.Null((await service.RemoveListenerAsync(Caller.Operator, "127.0.0.1:2525", Ct)).Refusal);
        Assert.Equal(["127.0.0.1:2526"], (await cache.GetListenersAsync(Ct)).Select(l => l.Listen));
        Assert.True(await store.IsDefaultListenerRemovedAsync(Ct));

        // Removing the last stored listener does not bring the default back: it was removed on purpose.
        Assert.Null((await service.RemoveListenerAsync(Caller.Operator, saved.Value!.Listener.Listen, Ct)).Refusal);
        Assert.Equal(RefusalKind.NotFound, (await service.RemoveListenerAsync(Caller.Operator, "127.0.0.1:2526", Ct)).Refusal!.Kind);
        Assert.Empty(await store.ListListenersAsync(Ct));
        Assert.Empty(await cache.GetListenersAsync(Ct));

        // Stored on its endpoint again, it is an ordinary stored listener.
        await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1:2525") { Entries = ["127.0.0.1"] }, isNew: true, Ct);
        Assert.Equal(["127.0.0.1:2525"], (await store.ListListenersAsync(Ct)).Select(l => l.Listen));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_listener_on_every_address_of_the_defaults_port_is_refused_until_the_default_is_removed(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);

        var clash = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("0.0.0.0:2525") { Entries = ["10.0.0.0/8"] }, isNew: true, Ct);
        Assert.Equal((RefusalKind.Conflict, "listen"), (clash.Refusal!.Kind, clash.Refusal.Errors[0].Field));
        Assert.Contains("herald relay remove --listen 127.0.0.1:2525", clash.Refusal.Sentence, StringComparison.Ordinal);
        Assert.Empty(await store.ListListenersAsync(Ct));

        await service.RemoveListenerAsync(Caller.Operator, "127.0.0.1:2525", Ct);
        Assert.Null((await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("0.0.0.0:2525") { Entries = ["10.0.0.0/8"] }, isNew: true, Ct)).Refusal);
        Assert.Equal(["0.0.0.0:2525"], (await store.ListListenersAsync(Ct)).Select(l => l.Listen));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_migration_keeps_an_installation_that_stored_listeners_running_without_the_default(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine, migrate: false);
        await db.Database.MigrateAsync(Ct);
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            // As a version before 0011 left it: a stored listener, which had replaced the default.
            await connection.ExecuteAsync("DELETE FROM relay_default_listener");
            await connection.ExecuteAsync("DELETE FROM schema_migrations WHERE version = 11");
            await connection.ExecuteAsync("DROP TABLE relay_default_listener");
            await connection.ExecuteAsync("ALTER TABLE messages DROP COLUMN subject");
            await connection.ExecuteAsync(
                "INSERT INTO relay_listeners (listen, scope_path, access, entries, auth, sender_domains, recipient_domains, auth_without_tls, updated_at) VALUES ('0.0.0.0:2525', '/', 'only-list', '10.0.0.0/8', 'none', '', '', 0, 0)");
        }

        Assert.Equal(1, await db.Database.MigrateAsync(Ct));

        var store = new SqlRelayStore(db.Database);
        Assert.True(await store.IsDefaultListenerRemovedAsync(Ct));
        Assert.Equal(["0.0.0.0:2525"], (await new RelaySettingsCache(store, new FakeTimeProvider(Now)).GetListenersAsync(Ct)).Select(l => l.Listen));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_account_keeps_only_a_hash_and_a_second_save_changes_its_password_and_scope(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);

        var created = await service.SaveAccountAsync(Caller.Operator, "/hr", "scanner@hr", "first secret", Ct);
        Assert.True(created.Value!.Created);
        var first = await store.FindAccountAsync(RelayUserName.Parse("scanner@hr"), Ct);
        Assert.DoesNotContain("first secret", first!.PasswordHash, StringComparison.Ordinal);
        Assert.True(RelayPasswords.Verify("first secret", first.PasswordHash));

        var changed = await service.SaveAccountAsync(Caller.Operator, "/", " scanner@hr ", "second secret", Ct);
        var second = await store.FindAccountAsync(RelayUserName.Parse("scanner@hr"), Ct);

        Assert.False(changed.Value!.Created);
        Assert.Equal("/", second!.Scope.Value);
        Assert.False(RelayPasswords.Verify("first secret", second.PasswordHash));
        Assert.True(RelayPasswords.Verify("second secret", second.PasswordHash));
        Assert.Equal(["scanner@hr"], (await store.ListAccountsAsync(Ct)).Select(a => a.UserName.Value));
        Assert.Null(await store.FindAccountAsync(RelayUserName.Parse("Scanner@hr"), Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Bad_account_input_names_each_field_and_saves_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);

        var bad = await service.SaveAccountAsync(Caller.Operator, "hr", "has space", "", Ct);
        var badName = await service.SaveAccountAsync(Caller.Operator, "/hr", "has space", "", Ct);
        var missingScope = await service.SaveAccountAsync(Caller.Operator, "/nowhere", "app", "secret", Ct);

        Assert.Equal(["scope", "user", "password"], bad.Refusal!.Errors.Select(e => e.Field));
        Assert.Equal(["user", "password"], badName.Refusal!.Errors.Select(e => e.Field));
        Assert.Equal("scope", Assert.Single(missingScope.Refusal!.Errors).Field);
        Assert.Empty(await store.ListAccountsAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Removing_a_scope_removes_its_listeners_and_accounts(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);
        await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("127.0.0.1:2527") { Scope = "/hr", Entries = ["127.0.0.1"] }, isNew: null, Ct);
        await service.SaveAccountAsync(Caller.Operator, "/hr", "app", "secret", Ct);

        Assert.True(await new SqlSettingsStore(db.Database, new FakeTimeProvider(Now)).RemoveScopeAsync(ScopePath.Parse("/hr"), Ct));

        Assert.Empty(await store.ListListenersAsync(Ct));
        Assert.False(await store.RemoveAccountAsync(RelayUserName.Parse("app"), Ct));
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
