using Herald.Access;
using Herald.IntegrationTests.Storage;
using Herald.Relay;
using Herald.Scopes;
using Herald.Storage.Relay;
using Herald.Storage.Settings;
using Microsoft.Extensions.Time.Testing;
using static Herald.IntegrationTests.UseCases.Outcome;

namespace Herald.IntegrationTests.UseCases;

/// <summary>
/// Who may change the relay's listeners and accounts (<see cref="RelaySettingsService"/>), asked of
/// every caller of <see cref="Callers"/> on SQLite and PostgreSQL; each test reads what the
/// database holds afterwards, not only the answer.
/// </summary>
public sealed class RelayUseCaseTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Port(int first, int i) => $"127.0.0.1:{first + i}";

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Only_administrators_of_root_add_a_listener(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);

        await Callers.ExpectAsync(
            Callers.Expect(NotAllowed, NotAllowed, NotAllowed, NotAllowed, NotAllowed, Done),
            async (i, caller) => Callers.Of(await service.SaveListenerAsync(caller, new RelayListenerUpdate(Port(3000, i)) { Scope = "/hr", Entries = ["10.0.0.0/8"] }, isNew: true, Ct)));

        Assert.Equal([Port(3000, 5)], (await store.ListListenersAsync(Ct)).Select(l => l.Listen));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_lists_of_a_listener_are_edited_by_administrators_of_its_scope_and_above(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            await MustAsync(service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate(Port(3100, i)) { Scope = "/hr", Entries = ["10.0.0.0/8"] }, isNew: true, Ct));
        }

        await Callers.ExpectAsync(
            Callers.Expect(NotFound, Done, NotFound, NotFound, NotFound, Done),
            async (i, caller) => Callers.Of(await service.SaveListenerAsync(caller, new RelayListenerUpdate(Port(3100, i))
            {
                Access = "only-list",
                Entries = ["192.0.2.0/24"],
                Auth = "required",
                SenderDomains = ["apps.example.org"],
                RecipientDomains = ["example.org"],
            }, isNew: false, Ct)));

        var stored = (await store.ListListenersAsync(Ct)).ToDictionary(l => l.Listen);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            var changed = Callers.All[i].Name is "admin /hr" or "admin /";
            var listener = stored[Port(3100, i)];
            Assert.Equal((changed ? "192.0.2.0/24" : "10.0.0.0/8", changed ? RelayAuthMode.Required : RelayAuthMode.None, "/hr"), (listener.Entries.Single(), listener.Auth, listener.Scope.Value));
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Only_administrators_of_root_move_a_listener_or_let_it_offer_auth_without_tls(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            await MustAsync(service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate(Port(3200, i)) { Scope = "/hr", Entries = ["10.0.0.0/8"] }, isNew: true, Ct));
            await MustAsync(service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate(Port(3300, i)) { Scope = "/hr", Entries = ["10.0.0.0/8"], Auth = "required" }, isNew: true, Ct));
        }

        var expected = Callers.Expect(NotFound, NotAllowed, NotFound, NotFound, NotFound, Done);
        await Callers.ExpectAsync(expected, async (i, caller) =>
            Callers.Of(await service.SaveListenerAsync(caller, new RelayListenerUpdate(Port(3200, i)) { Scope = "/hr/payroll" }, isNew: false, Ct)));
        await Callers.ExpectAsync(expected, async (i, caller) =>
            Callers.Of(await service.SaveListenerAsync(caller, new RelayListenerUpdate(Port(3300, i)) { AuthWithoutTls = true }, isNew: false, Ct)));

        var stored = (await store.ListListenersAsync(Ct)).ToDictionary(l => l.Listen);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            var root = Callers.All[i].Name == "admin /";
            Assert.Equal(root ? "/hr/payroll" : "/hr", stored[Port(3200, i)].Scope.Value);
            Assert.Equal(root, stored[Port(3300, i)].AuthWithoutTls);
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Only_administrators_of_root_remove_a_listener(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            await MustAsync(service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate(Port(3400, i)) { Scope = "/hr", Entries = ["10.0.0.0/8"] }, isNew: true, Ct));
        }

        await Callers.ExpectAsync(
            Callers.Expect(NotFound, NotAllowed, NotFound, NotFound, NotFound, Done),
            async (i, caller) => Callers.Of(await service.RemoveListenerAsync(caller, Port(3400, i), Ct)));

        Assert.Equal(Enumerable.Range(0, 5).Select(i => Port(3400, i)), (await store.ListListenersAsync(Ct)).Select(l => l.Listen));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_implied_default_listener_is_changed_or_removed_by_administrators_of_root_alone(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);
        var listen = RelaySettingsService.DefaultListener.Listen;

        await Callers.ExpectAsync(
            // To whoever may neither see it nor add listeners, the default is not there.
            Callers.Expect(NotFound, NotFound, NotFound, NotFound, NotFound, Done),
            async (_, caller) => Callers.Of(await service.SaveListenerAsync(
                caller, new RelayListenerUpdate(listen) { Scope = caller.AdministersRoot ? null : "/hr", Auth = "required" }, isNew: null, Ct)));

        // Root's save stored it, still in /, with root's change; nobody else's was taken.
        var stored = Assert.Single(await store.ListListenersAsync(Ct));
        Assert.Equal((listen, "/", RelayAuthMode.Required), (stored.Listen, stored.Scope.Value, stored.Auth));
        Assert.Equal(RelaySettingsService.DefaultListener.Entries, stored.Entries);

        await Callers.ExpectAsync(
            Callers.Expect(NotFound, NotFound, NotFound, NotFound, NotFound, Done),
            async (_, caller) => Callers.Of(await service.RemoveListenerAsync(caller, listen, Ct)));
        Assert.Empty(await store.ListListenersAsync(Ct));
        Assert.True(await store.IsDefaultListenerRemovedAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Each_caller_lists_the_listeners_and_accounts_of_its_own_scopes_only(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _) = await ServicesAsync(db);
        var scopes = new[] { "/", "/hr", "/hr2", "/hr.x", "/hr/payroll" };
        for (var i = 0; i < scopes.Length; i++)
        {
            await MustAsync(service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate(Port(3500, i)) { Scope = scopes[i], Entries = ["10.0.0.0/8"] }, isNew: true, Ct));
            await MustAsync(service.SaveAccountAsync(Caller.Operator, scopes[i], $"app-{i}", "secret", Ct));
        }

        var expected = new Dictionary<string, string>
        {
            ["sender /hr"] = "",
            ["admin /hr"] = "/hr /hr/payroll",
            ["admin /hr2"] = "/hr2",
            ["admin /hr.x"] = "/hr.x",
            ["admin /hr/payroll"] = "/hr/payroll",
            ["admin /"] = "/ / /hr /hr.x /hr/payroll /hr2",
        };
        foreach (var (name, caller) in Callers.All)
        {
            var listeners = (await service.ListListenersAsync(caller, Ct)).Value!.Select(v => v.Listener.Scope.Value).Order(StringComparer.Ordinal);
            var accounts = (await service.ListAccountsAsync(caller, Ct)).Value!.Select(a => a.Scope.Value).Order(StringComparer.Ordinal);
            // Root also sees the implied default listener, which belongs to /.
            Assert.Equal($"{name}: {expected[name]}", $"{name}: {string.Join(' ', listeners)}");
            Assert.Equal($"{name}: {expected[name].Replace("/ / ", "/ ", StringComparison.Ordinal)}", $"{name}: {string.Join(' ', accounts)}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Accounts_are_added_by_administrators_of_their_scope_and_above(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);

        await Callers.ExpectAsync(
            Callers.Expect(NotAllowed, Done, NotAllowed, NotAllowed, NotAllowed, Done),
            async (i, caller) => Callers.Of(await service.SaveAccountAsync(caller, "/hr", $"app-{i}", "secret", Ct)));

        Assert.Equal(["app-1", "app-5"], (await store.ListAccountsAsync(Ct)).Select(a => a.UserName.Value));
        Assert.All(await store.ListAccountsAsync(Ct), a => Assert.Equal("/hr", a.Scope.Value));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Moving_an_account_needs_administration_of_both_scopes_and_a_refused_move_keeps_its_password(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            await MustAsync(service.SaveAccountAsync(Caller.Operator, "/hr/payroll", $"move-{i}", "old secret", Ct));
        }

        await Callers.ExpectAsync(
            // An account of a scope the caller does not administer is not there to it; one it
            // administers cannot go where it does not.
            Callers.Expect(NotFound, NotAllowed, NotFound, NotFound, NotAllowed, Done),
            async (i, caller) => Callers.Of(await service.SaveAccountAsync(caller, "/hr2", $"move-{i}", "new secret", Ct)));

        for (var i = 0; i < Callers.All.Count; i++)
        {
            var moved = Callers.All[i].Name == "admin /";
            var account = (await store.FindAccountAsync(RelayUserName.Parse($"move-{i}"), Ct))!;
            Assert.Equal((moved ? "/hr2" : "/hr/payroll", moved), (account.Scope.Value, RelayPasswords.Verify("new secret", account.PasswordHash)));
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_name_with_spaces_around_it_is_the_same_account_and_cannot_take_over_another_scopes(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);
        await MustAsync(service.SaveAccountAsync(Caller.Operator, "/hr2", "scanner", "hr2 secret", Ct));

        await Callers.ExpectAsync(
            Callers.Expect(NotFound, NotFound, Done, NotFound, NotFound, Done),
            async (_, caller) =>
            {
                // The administrators who may (of /hr2 and of /) are put back after their turn.
                var outcome = Callers.Of(await service.SaveAccountAsync(caller, caller.Administers(ScopePath.Parse("/hr")) ? "/hr" : "/hr2", " scanner ", "taken over", Ct));
                await MustAsync(service.SaveAccountAsync(Caller.Operator, "/hr2", "scanner", "hr2 secret", Ct));
                return outcome;
            });

        var account = Assert.Single(await store.ListAccountsAsync(Ct));
        Assert.Equal(("scanner", "/hr2"), (account.UserName.Value, account.Scope.Value));
        Assert.True(RelayPasswords.Verify("hr2 secret", account.PasswordHash));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Accounts_are_removed_by_administrators_of_their_scope_and_above(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            await MustAsync(service.SaveAccountAsync(Caller.Operator, "/hr", $"gone-{i}", "secret", Ct));
        }

        await Callers.ExpectAsync(
            Callers.Expect(NotFound, Done, NotFound, NotFound, NotFound, Done),
            async (i, caller) => Callers.Of(await service.RemoveAccountAsync(caller, $"gone-{i}", Ct)));

        Assert.Equal(["gone-0", "gone-2", "gone-3", "gone-4"], (await store.ListAccountsAsync(Ct)).Select(a => a.UserName.Value));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_open_relay_is_refused_even_to_administrators_of_root_and_nothing_is_stored(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store) = await ServicesAsync(db);

        var open = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("0.0.0.0:3600") { Access = "all-except", Entries = ["192.0.2.7"] }, isNew: true, Ct);
        var stillOpen = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("0.0.0.0:3600") { Entries = ["0.0.0.0/0"] }, isNew: true, Ct);
        var restricted = await service.SaveListenerAsync(
            Caller.Operator, new RelayListenerUpdate("0.0.0.0:3600") { Access = "all-except", Entries = ["192.0.2.7"], RecipientDomains = ["example.org"] }, isNew: true, Ct);
        var reopened = await service.SaveListenerAsync(Caller.Operator, new RelayListenerUpdate("0.0.0.0:3600") { RecipientDomains = [] }, isNew: false, Ct);

        Assert.Equal((RefusalKind.Invalid, "access"), (open.Refusal!.Kind, open.Refusal.Errors.Single().Field));
        Assert.Equal("entries[0]", stillOpen.Refusal!.Errors.Single().Field);
        Assert.Null(restricted.Refusal);
        Assert.Equal("access", reopened.Refusal!.Errors.Single().Field);
        Assert.Equal(["example.org"], Assert.Single(await store.ListListenersAsync(Ct)).RecipientDomains);
    }

    private static async Task MustAsync<T>(Task<Result<T>> use)
    {
        var result = await use;
        Assert.True(result.Refusal is null, result.Refusal?.ToString());
    }

    private static async Task<(RelaySettingsService Service, SqlRelayStore Store)> ServicesAsync(TestDatabase db)
    {
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        foreach (var scope in Callers.Scopes)
        {
            await settings.AddScopeAsync(ScopePath.Parse(scope), Ct);
        }

        var store = new SqlRelayStore(db.Database);
        return (new RelaySettingsService(store, settings, new RelaySettingsCache(store, time), time), store);
    }
}
