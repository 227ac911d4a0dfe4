using Herald.Access;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Database;
using Herald.Storage.Notifications;
using Herald.Storage.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary><see cref="SqlDirectoryStore"/> with <see cref="DirectoryService"/> and
/// <see cref="DirectoryCache"/> on real SQLite and real PostgreSQL.</summary>
public sealed class DirectoryStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static readonly ScopePath Hr = ScopePath.Parse("/hr");
    private static readonly ScopePath Payroll = ScopePath.Parse("/hr/payroll");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_user_is_stored_with_every_field_changed_in_place_and_each_write_bumps_the_revision(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        var start = await store.GetRevisionAsync(Ct);

        var (saved, created, errors) = await service.SetUserAsync(new UserUpdate("alice") { Name = "Alice", Email = "alice@example.org", TimeZone = "Europe/Berlin", Language = "de-de" }, Ct);
        var (_, createdAgain, _) = await service.SetUserAsync(new UserUpdate("alice") { Name = "Alice Smith" }, Ct);

        Assert.Empty(errors);
        Assert.True(created);
        Assert.False(createdAgain);
        var alice = Assert.Single(await store.ListUsersAsync(Ct));
        Assert.Equal(new DirectoryUser("alice", "Alice Smith", EmailAddress.Parse("alice@example.org"), "Europe/Berlin", "de-DE"), alice);
        Assert.Equal(saved!.Email, alice.Email);
        Assert.Equal(start + 2, await store.GetRevisionAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Bad_input_names_the_field_and_changes_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await service.SetUserAsync(new UserUpdate("alice") { Name = "Alice", Email = "alice@example.org" }, Ct);
        var revision = await store.GetRevisionAsync(Ct);

        var (_, _, badId) = await service.SetUserAsync(new UserUpdate("al ice") { Name = "A", Email = "a@example.org" }, Ct);
        var (_, _, badZone) = await service.SetUserAsync(new UserUpdate("alice") { TimeZone = "Europe/Atlantis", Email = "x" }, Ct);
        var (_, _, missing) = await service.SetGroupAsync(new GroupUpdate("team") { Name = "Team", Members = ["user:alice", "user:bob", "group:ghosts"] }, Ct);

        Assert.Equal("id", Assert.Single(badId).Field);
        Assert.Equal(["email", "timeZone"], badZone.Select(e => e.Field));
        Assert.Equal(["members[1]", "members[2]"], missing.Select(e => e.Field));
        Assert.Equal("User 'bob' does not exist.", missing[0].Message);
        Assert.Equal(("UTC", "alice@example.org"), (Assert.Single(await store.ListUsersAsync(Ct)).TimeZone, (await store.FindUserAsync("alice", Ct))!.Email.Value));
        Assert.Empty(await store.ListGroupsAsync(Ct));
        Assert.Equal(revision, await store.GetRevisionAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_groups_members_are_replaced_and_a_membership_making_a_cycle_is_refused_naming_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice", "bob", "carol");
        await MustAsync(service.SetGroupAsync(new GroupUpdate("core") { Name = "Core", Members = ["user:carol"] }, Ct));
        await MustAsync(service.SetGroupAsync(new GroupUpdate("devs") { Name = "Developers", Members = ["user:alice", "group:core"] }, Ct));
        await MustAsync(service.SetGroupAsync(new GroupUpdate("team") { Name = "Team", Alias = "team@example.org", Delivery = "both", Members = ["group:devs", "user:bob", "user:alice"] }, Ct));

        await MustAsync(service.SetGroupAsync(new GroupUpdate("devs") { Members = ["user:bob", "group:core"] }, Ct));
        var (_, _, cycle) = await service.SetGroupAsync(new GroupUpdate("core") { Members = ["user:carol", "group:team"] }, Ct);

        var members = Assert.Single(cycle);
        Assert.Equal("members", members.Field);
        Assert.Contains("group:core → group:team → group:devs → group:core", members.Message, StringComparison.Ordinal);
        var devs = await store.FindGroupAsync("devs", Ct);
        Assert.Equal([Principal.User("bob"), Principal.Group("core")], devs!.Members);
        var team = await store.FindGroupAsync("team", Ct);
        Assert.Equal(("Team", "team@example.org", GroupDelivery.Both), (team!.Name, team.Alias?.Value, team.Delivery));
        Assert.Equal([Principal.User("alice"), Principal.User("bob"), Principal.Group("devs")], team.Members);
        Assert.Equal([Principal.User("carol")], (await store.FindGroupAsync("core", Ct))!.Members);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Removing_a_user_or_group_removes_their_memberships_and_access_entries(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice", "bob");
        await MustAsync(service.SetGroupAsync(new GroupUpdate("devs") { Name = "Devs", Members = ["user:alice", "user:bob"] }, Ct));
        await MustAsync(service.SetGroupAsync(new GroupUpdate("team") { Name = "Team", Members = ["group:devs", "user:alice"] }, Ct));
        await MustAsync(service.GrantAsync("/hr", "user:alice", "admin", Ct));
        await MustAsync(service.GrantAsync("/hr", "group:devs", "view", Ct));
        await MustAsync(service.GrantAsync("/hr", "user:bob", "edit", Ct));

        Assert.True(await service.RemoveUserAsync("alice", Ct));
        Assert.True(await service.RemoveGroupAsync("devs", Ct));
        Assert.False(await service.RemoveUserAsync("alice", Ct));

        Assert.Equal(["bob"], (await store.ListUsersAsync(Ct)).Select(u => u.Id));
        Assert.Empty(Assert.Single(await store.ListGroupsAsync(Ct)).Members);
        Assert.Equal([new AccessEntry(Hr, Principal.User("bob"), AccessLevel.Edit)], await store.ListAccessAsync(null, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Access_needs_an_existing_scope_and_principal_and_shows_where_inherited_levels_come_from(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice", "bob");
        await MustAsync(service.SetGroupAsync(new GroupUpdate("hr-staff") { Name = "HR staff", Members = ["user:bob"] }, Ct));

        var (_, _, bad) = await service.GrantAsync("/nowhere", "user:nobody", "view", Ct);
        var (_, _, badLevel) = await service.GrantAsync("hr", "alice", "owner", Ct);
        await MustAsync(service.GrantAsync("/", "user:alice", "view", Ct));
        await MustAsync(service.GrantAsync("/hr", "user:alice", "edit", Ct));
        await MustAsync(service.GrantAsync("/hr", "group:hr-staff", "view", Ct));
        var (_, createdAgain, _) = await service.GrantAsync("/hr", "group:hr-staff", "admin", Ct);
        await MustAsync(service.GrantAsync("/hr/payroll", "user:alice", "view", Ct));

        Assert.Equal(["scope", "principal"], bad.Select(e => e.Field));
        Assert.Equal("User 'nobody' does not exist.", bad[1].Message);
        Assert.Equal(["scope", "principal", "level"], badLevel.Select(e => e.Field));
        Assert.False(createdAgain);
        var payroll = await service.DescribeAccessAsync(Payroll, Ct);
        Assert.Equal([new AccessEntry(Payroll, Principal.User("alice"), AccessLevel.View)], payroll.Own);
        Assert.Equal(
            [new EffectiveAccess(Principal.User("alice"), AccessLevel.Edit, Hr), new EffectiveAccess(Principal.Group("hr-staff"), AccessLevel.Admin, Hr)],
            payroll.Effective);

        var (removed, _) = await service.RevokeAsync("/hr", "group:hr-staff", Ct);
        var (removedAgain, _) = await service.RevokeAsync("/hr", "group:hr-staff", Ct);
        Assert.True(removed);
        Assert.False(removedAgain);
        Assert.Equal(3, (await store.ListAccessAsync(null, Ct)).Count);
        Assert.True(await new SqlSettingsStore(db.Database, new FakeTimeProvider(Now)).RemoveScopeAsync(Payroll, Ct));
        Assert.Equal(2, (await store.ListAccessAsync(null, Ct)).Count);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_import_with_one_bad_line_saves_nothing_and_names_every_bad_line(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice");
        var revision = await store.GetRevisionAsync(Ct);

        var report = await service.ImportAsync(DirectoryImport.FromCsv("""
            kind,id,name,email,members
            group,team,Team,,user:bob group:ops user:alice user:zoe
            user,bob,Bob,bob@example.org,
            group,ops,Ops,,group:team
            user,carol,Carol,not-an-address,
            user,bob,Bob again,bob2@example.org,
            """), Ct);

        Assert.Equal(["line 5.email", "line 6.id", "line 2.members[3]"], report.Errors.Select(e => e.Field));
        Assert.Contains("User 'zoe' does not exist", report.Errors[2].Message, StringComparison.Ordinal);
        Assert.Equal(["alice"], (await store.ListUsersAsync(Ct)).Select(u => u.Id));
        Assert.Empty(await store.ListGroupsAsync(Ct));
        Assert.Equal(revision, await store.GetRevisionAsync(Ct));

        var cyclic = await service.ImportAsync(DirectoryImport.FromCsv("kind,id,name,members\ngroup,team,Team,group:ops\ngroup,ops,Ops,group:team\n"), Ct);
        Assert.Equal("line 2.members", Assert.Single(cyclic.Errors).Field);
        Assert.Contains("group:team → group:ops → group:team", cyclic.Errors[0].Message, StringComparison.Ordinal);
        Assert.Empty(await store.ListGroupsAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_import_refers_forward_and_to_stored_entries_and_lands_as_one_revision(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice");
        var revision = await store.GetRevisionAsync(Ct);

        var report = await service.ImportAsync(DirectoryImport.FromJson("""
            {"groups": [{"id": "team", "name": "Team", "members": ["group:ops", "user:alice", "user:bob"], "alias": "team@example.org", "delivery": "alias"},
                        {"id": "ops", "name": "Ops", "members": ["user:bob"]}],
             "users": [{"id": "alice", "name": "Alice A.", "email": "alice@example.org", "timeZone": "America/New_York"},
                       {"id": "bob", "name": "Bob", "email": "bob@example.org"}]}
            """), Ct);

        Assert.Empty(report.Errors);
        Assert.Equal((1, 1, 2, 0), (report.UsersAdded, report.UsersChanged, report.GroupsAdded, report.GroupsChanged));
        Assert.Equal(revision + 1, await store.GetRevisionAsync(Ct));
        Assert.Equal("America/New_York", (await store.FindUserAsync("alice", Ct))!.TimeZone);
        Assert.Equal([Principal.User("alice"), Principal.User("bob"), Principal.Group("ops")], (await store.FindGroupAsync("team", Ct))!.Members);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_group_of_100000_imported_users_loads_into_a_view_that_counts_each_member_once(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, cache, _) = await ServicesAsync(db);
        var users = Enumerable.Range(0, 100_000).Select(i => ($"users[{i}]", new UserUpdate($"u{i:D6}") { Name = $"User {i}", Email = $"u{i}@example.org" })).ToArray();
        var members = users.Select(u => $"user:{u.Item2.Id}").Append("group:leads").ToArray();
        var import = new DirectoryImport(users, [("groups[0]", new GroupUpdate("everyone") { Name = "Everyone", Members = members }),
            ("groups[1]", new GroupUpdate("leads") { Name = "Leads", Members = ["user:u000001", "user:u000002"] })], []);

        var report = await service.ImportAsync(import, Ct);
        await MustAsync(service.GrantAsync("/hr", "group:everyone", "view", Ct));
        var view = await cache.CurrentAsync(Ct);

        Assert.Empty(report.Errors);
        Assert.Equal(100_000, view.MembersOf("everyone").Count);
        Assert.Equal(AccessLevel.View, view.AccessOf("u099999", Payroll));
        Assert.Null(view.AccessOf("u099999", ScopePath.Root));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_revoke_on_one_node_reaches_another_nodes_view_within_the_check_interval(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, cache, time) = await ServicesAsync(db);
        var second = db.OpenAnother();
        using var otherCache = new DirectoryCache(new SqlDirectoryStore(second), time);
        await AddUsersAsync(service, "alice");
        await MustAsync(service.GrantAsync("/hr", "user:alice", "edit", Ct));
        Assert.Equal(AccessLevel.Edit, (await otherCache.CurrentAsync(Ct)).AccessOf("alice", Payroll));
        Assert.Equal(AccessLevel.Edit, (await cache.CurrentAsync(Ct)).AccessOf("alice", Payroll));

        await service.RevokeAsync("/hr", "user:alice", Ct);

        Assert.Null((await cache.CurrentAsync(Ct)).AccessOf("alice", Payroll));
        Assert.Equal(AccessLevel.Edit, (await otherCache.CurrentAsync(Ct)).AccessOf("alice", Payroll));
        time.Advance(DirectoryCache.CheckInterval);
        Assert.Null((await otherCache.CurrentAsync(Ct)).AccessOf("alice", Payroll));
        if (second is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Two_nodes_nesting_two_groups_in_each_other_at_once_store_one_membership_and_refuse_the_other_naming_the_cycle(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await using var other = OpenOtherNode(db);
        const int Rounds = 20;
        await AddGroupPairsAsync(service, Rounds);

        for (var i = 0; i < Rounds; i++)
        {
            var (first, second) = await RaceAsync(
                () => service.SetGroupAsync(new GroupUpdate($"a{i}") { Members = [$"group:b{i}"] }, Ct),
                () => other.Service.SetGroupAsync(new GroupUpdate($"b{i}") { Members = [$"group:a{i}"] }, Ct));

            var refused = Assert.Single(new[] { first.Errors, second.Errors }, e => e.Count > 0);
            Assert.Single(new[] { first.Saved, second.Saved }, s => s is not null);
            Assert.Equal("members", Assert.Single(refused).Field);
            Assert.Contains("would make a cycle", refused[0].Message, StringComparison.Ordinal);
        }

        await AssertEachPairNestedOneWayAsync(store, Rounds);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_group_saved_naming_a_user_that_another_node_removes_at_once_never_keeps_a_member_that_does_not_exist(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await using var other = OpenOtherNode(db);
        const int Rounds = 20;
        await AddUsersAsync(service, [.. Enumerable.Range(0, Rounds).Select(i => $"u{i}")]);
        await AddUsersAsync(service, "keeper");
        await MustAsync(service.SetGroupAsync(new GroupUpdate("team") { Name = "Team" }, Ct));

        var refusals = 0;
        IReadOnlyList<Principal> membersBefore = [];
        for (var i = 0; i < Rounds; i++)
        {
            var (save, removed) = await RaceAsync(
                () => service.SetGroupAsync(new GroupUpdate("team") { Members = ["user:keeper", $"user:u{i}"] }, Ct),
                () => other.Service.RemoveUserAsync($"u{i}", Ct));

            Assert.True(removed);
            if (save.Errors.Count > 0)
            {
                refusals++;
                var missing = Assert.Single(save.Errors);
                Assert.Equal(("members[1]", $"User 'u{i}' does not exist."), (missing.Field, missing.Message));
            }

            // Saved before the removal: the removal took u{i} out again; refused: as it was.
            var users = (await store.ListUsersAsync(Ct)).Select(u => u.Id).ToHashSet();
            var team = await store.FindGroupAsync("team", Ct);
            Assert.DoesNotContain(users, u => u == $"u{i}");
            Assert.Equal(save.Errors.Count > 0 ? membersBefore : [Principal.User("keeper")], team!.Members);
            Assert.All(team.Members, m => Assert.Contains(m.Id, users));
            membersBefore = team.Members;
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{refusals} of {Rounds} saves came after the removal and were refused.");
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_import_and_another_nodes_group_save_nesting_two_groups_in_each_other_at_once_never_store_a_cycle(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await using var other = OpenOtherNode(db);
        const int Rounds = 20;
        await AddGroupPairsAsync(service, Rounds);

        for (var i = 0; i < Rounds; i++)
        {
            var (import, save) = await RaceAsync(
                () => service.ImportAsync(DirectoryImport.FromCsv($"kind,id,name,members\ngroup,a{i},A{i},group:b{i}\n"), Ct),
                () => other.Service.SetGroupAsync(new GroupUpdate($"b{i}") { Members = [$"group:a{i}"] }, Ct));

            Assert.True((import.Errors.Count == 0) != (save.Errors.Count == 0), $"Round {i}: import {string.Join("; ", import.Errors)}, save {string.Join("; ", save.Errors)}.");
            var refused = import.Errors.Count > 0 ? import.Errors : save.Errors;
            Assert.Equal(import.Errors.Count > 0 ? "line 2.members" : "members", Assert.Single(refused).Field);
            Assert.Contains("would make a cycle", refused[0].Message, StringComparison.Ordinal);
        }

        await AssertEachPairNestedOneWayAsync(store, Rounds);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Access_granted_to_a_user_that_another_node_removes_at_once_never_stays_for_a_user_that_does_not_exist(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await using var other = OpenOtherNode(db);
        const int Rounds = 20;
        await AddUsersAsync(service, [.. Enumerable.Range(0, Rounds).Select(i => $"u{i}")]);

        for (var i = 0; i < Rounds; i++)
        {
            var (grant, removed) = await RaceAsync(
                () => service.GrantAsync("/hr", $"user:u{i}", "view", Ct),
                () => other.Service.RemoveUserAsync($"u{i}", Ct));

            Assert.True(removed);
            if (grant.Errors.Count > 0)
            {
                var missing = Assert.Single(grant.Errors);
                Assert.Equal(("principal", $"User 'u{i}' does not exist."), (missing.Field, missing.Message));
            }

            Assert.Empty(await store.ListAccessAsync(null, Ct));
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_group_save_that_names_no_members_keeps_the_stored_ones_and_replies_with_them(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice", "bob");
        await MustAsync(service.SetGroupAsync(new GroupUpdate("team") { Name = "Team", Members = ["user:bob", "user:alice"] }, Ct));

        var (saved, created, errors) = await service.SetGroupAsync(new GroupUpdate("team") { Name = "The team" }, Ct);

        Assert.Empty(errors);
        Assert.False(created);
        Assert.Equal([Principal.User("alice"), Principal.User("bob")], saved!.Members);
        var team = await store.FindGroupAsync("team", Ct);
        Assert.Equal("The team", team!.Name);
        Assert.Equal([Principal.User("alice"), Principal.User("bob")], team.Members);
    }

    /// <summary>Groups a0…, b0… without members: the pairs the cycle races nest in each other.</summary>
    private static async Task AddGroupPairsAsync(DirectoryService service, int pairs)
    {
        for (var i = 0; i < pairs; i++)
        {
            await MustAsync(service.SetGroupAsync(new GroupUpdate($"a{i}") { Name = $"A{i}" }, Ct));
            await MustAsync(service.SetGroupAsync(new GroupUpdate($"b{i}") { Name = $"B{i}" }, Ct));
        }
    }

    /// <summary>After the races: in each pair exactly one group holds the other, never both (a cycle).</summary>
    private static async Task AssertEachPairNestedOneWayAsync(SqlDirectoryStore store, int pairs)
    {
        var groups = (await store.ListGroupsAsync(Ct)).ToDictionary(g => g.Id);
        for (var i = 0; i < pairs; i++)
        {
            var aHoldsB = groups[$"a{i}"].Members.Contains(Principal.Group($"b{i}"));
            var bHoldsA = groups[$"b{i}"].Members.Contains(Principal.Group($"a{i}"));
            Assert.True(aHoldsB != bHoldsA, $"Round {i}: a{i} holds b{i}: {aHoldsB}, b{i} holds a{i}: {bHoldsA}.");
        }
    }

    /// <summary>Starts both calls, each on its own thread, and lets them go at the same moment.</summary>
    private static async Task<(T1 First, T2 Second)> RaceAsync<T1, T2>(Func<Task<T1>> first, Func<Task<T2>> second)
    {
        using var ready = new CountdownEvent(2);
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<T> Run<T>(Func<Task<T>> call)
        {
            ready.Signal();
            await go.Task;
            return await call();
        }

        var one = Task.Run(() => Run(first));
        var two = Task.Run(() => Run(second));
        ready.Wait(Ct);
        go.SetResult();
        return (await one, await two);
    }

    private static OtherNode OpenOtherNode(TestDatabase db)
    {
        var database = db.OpenAnother();
        var time = new FakeTimeProvider(Now);
        var store = new SqlDirectoryStore(database);
        var cache = new DirectoryCache(store, time);
        return new OtherNode(database, cache, new DirectoryService(store, new SqlSettingsStore(database, time), cache, time));
    }

    /// <summary>A second node on the same data: its own database handle (connection pool) and services.</summary>
    private sealed class OtherNode(HeraldDatabase database, DirectoryCache cache, DirectoryService service) : IAsyncDisposable
    {
        public DirectoryService Service { get; } = service;

        public async ValueTask DisposeAsync()
        {
            cache.Dispose();
            if (database is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
            else if (database is IDisposable plain)
            {
                plain.Dispose();
            }
        }
    }

    private static async Task AddUsersAsync(DirectoryService service, params string[] ids)
    {
        foreach (var id in ids)
        {
            await MustAsync(service.SetUserAsync(new UserUpdate(id) { Name = id.ToUpperInvariant(), Email = $"{id}@example.org" }, Ct));
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_group_belongs_to_a_scope_whose_administrators_alone_change_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice", "bob");
        await MustAsync(service.SetGroupAsync(new GroupUpdate("everyone") { Name = "Everyone", Members = ["user:alice"] }, Ct));
        var hrAdmin = new Caller.ConsoleAdministrator("hana", Hr);
        var payrollAdmin = new Caller.ConsoleAdministrator("pat", Payroll);
        var lookalikes = new[] { "/hr2", "/hr.x", "/hr-x" }.Select(s => new Caller.ConsoleAdministrator("eve", ScopePath.Parse(s))).ToArray();

        var made = await service.SaveGroupAsync(hrAdmin, new GroupUpdate("hr-team") { Name = "HR team", Scope = "/hr", Members = ["user:alice"] }, SaveMode.Add, Ct);

        Assert.Null(made.Refusal);
        Assert.Equal(Hr, made.Value!.Value.Scope);
        Assert.Equal(Hr, (await store.FindGroupAsync("hr-team", Ct))!.Scope);

        // Not theirs: /'s group (changing or removing it), a group of /, a scope that only looks
        // like theirs, and a scope below reaching up.
        var refusals = new List<Refusal?>
        {
            (await service.SaveGroupAsync(hrAdmin, new GroupUpdate("everyone") { Name = "Mine" }, SaveMode.Change, Ct)).Refusal,
            await service.RemoveGroupAsync(hrAdmin, "everyone", Ct),
            (await service.SaveGroupAsync(hrAdmin, new GroupUpdate("hr-top") { Name = "Top" }, SaveMode.Add, Ct)).Refusal,
            (await service.SaveGroupAsync(hrAdmin, new GroupUpdate("hr-team") { Scope = "/" }, SaveMode.Change, Ct)).Refusal,
            (await service.SaveGroupAsync(payrollAdmin, new GroupUpdate("hr-team") { Name = "Payroll's now" }, SaveMode.Change, Ct)).Refusal,
            await service.RemoveGroupAsync(payrollAdmin, "hr-team", Ct),
        };
        foreach (var lookalike in lookalikes)
        {
            refusals.Add((await service.SaveGroupAsync(lookalike, new GroupUpdate("hr-team") { Members = ["user:bob"] }, SaveMode.Change, Ct)).Refusal);
            refusals.Add(await service.RemoveGroupAsync(lookalike, "hr-team", Ct));
        }

        Assert.All(refusals, r => Assert.Equal(RefusalKind.NotAllowed, r?.Kind));
        Assert.Contains("may not change group 'everyone' of scope /", refusals[0]!.Sentence, StringComparison.Ordinal);
        var everyone = (await store.FindGroupAsync("everyone", Ct))!;
        var hrTeam = (await store.FindGroupAsync("hr-team", Ct))!;
        Assert.Equal(("Everyone", ScopePath.Root, 1), (everyone.Name, everyone.Scope, everyone.Members.Count));
        Assert.Equal(("HR team", Hr), (hrTeam.Name, hrTeam.Scope));
        Assert.Equal([Principal.User("alice")], hrTeam.Members);
        Assert.Null(await store.FindGroupAsync("hr-top", Ct));

        // A scope that does not exist, and one written badly, are named.
        var nowhere = await service.SaveGroupAsync(hrAdmin, new GroupUpdate("hr-team") { Scope = "/hr/nowhere" }, SaveMode.Change, Ct);
        var badly = await service.SaveGroupAsync(hrAdmin, new GroupUpdate("hr-team") { Scope = "hr//x" }, SaveMode.Change, Ct);
        Assert.Equal(("scope", "Scope /hr/nowhere does not exist."), (Assert.Single(nowhere.Refusal!.Errors).Field, nowhere.Refusal.Errors[0].Message));
        Assert.Equal("scope", Assert.Single(badly.Refusal!.Errors).Field);

        // Handing it down the tree is theirs to do; then the scope below changes it, but cannot hand it back up.
        Assert.Null((await service.SaveGroupAsync(hrAdmin, new GroupUpdate("hr-team") { Scope = "/hr/payroll" }, SaveMode.Change, Ct)).Refusal);
        Assert.Null((await service.SaveGroupAsync(payrollAdmin, new GroupUpdate("hr-team") { Name = "Payroll team" }, SaveMode.Change, Ct)).Refusal);
        Assert.Equal(RefusalKind.NotAllowed, (await service.SaveGroupAsync(payrollAdmin, new GroupUpdate("hr-team") { Scope = "/hr" }, SaveMode.Change, Ct)).Refusal?.Kind);
        Assert.Equal(("Payroll team", Payroll), ((await store.FindGroupAsync("hr-team", Ct))!.Name, (await store.FindGroupAsync("hr-team", Ct))!.Scope));

        Assert.Null(await service.RemoveGroupAsync(hrAdmin, "hr-team", Ct));
        Assert.Null(await store.FindGroupAsync("hr-team", Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_removed_scopes_groups_move_to_the_scope_above_and_an_import_keeps_a_groups_scope(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, cache, _) = await ServicesAsync(db);
        await AddUsersAsync(service, "alice", "bob");
        await MustAsync(service.SetGroupAsync(new GroupUpdate("payroll-team") { Name = "Payroll", Scope = "/hr/payroll", Members = ["user:alice"] }, Ct));
        await MustAsync(service.SetGroupAsync(new GroupUpdate("hr-team") { Name = "HR", Scope = "/hr", Members = ["group:payroll-team"] }, Ct));
        var revision = await store.GetRevisionAsync(Ct);

        Assert.True(await new SqlSettingsStore(db.Database, TimeProvider.System).RemoveScopeAsync(Payroll, Ct));

        var moved = (await store.FindGroupAsync("payroll-team", Ct))!;
        Assert.Equal(Hr, moved.Scope);
        Assert.Equal([Principal.User("alice")], moved.Members);
        Assert.True(await store.GetRevisionAsync(Ct) > revision, "a node's directory view must read the move");
        Assert.Equal(["alice"], (await cache.GetViewAsync(Ct)).MembersOf("hr-team").Select(u => u.Id));

        var report = await service.ImportAsync(DirectoryImport.FromJson("""
            {"groups": [{"id": "hr-team", "name": "HR (imported)", "members": ["user:bob"]},
                        {"id": "new-team", "name": "New", "members": ["user:alice"]}]}
            """), Ct);

        Assert.Empty(report.Errors);
        Assert.Equal(("HR (imported)", Hr), ((await store.FindGroupAsync("hr-team", Ct))!.Name, (await store.FindGroupAsync("hr-team", Ct))!.Scope));
        Assert.Equal(ScopePath.Root, (await store.FindGroupAsync("new-team", Ct))!.Scope);
    }

    private static async Task MustAsync<T>(Task<(T Saved, bool Created, IReadOnlyList<FieldError> Errors)> call)
    {
        var (_, _, errors) = await call;
        Assert.True(errors.Count == 0, string.Join("; ", errors));
    }

    private static async Task<(DirectoryService Service, SqlDirectoryStore Store, DirectoryCache Cache, FakeTimeProvider Time)> ServicesAsync(TestDatabase db)
    {
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        await settings.AddScopeAsync(Hr, Ct);
        await settings.AddScopeAsync(Payroll, Ct);
        var store = new SqlDirectoryStore(db.Database);
        var cache = new DirectoryCache(store, time);
        return (new DirectoryService(store, settings, cache, time), store, cache, time);
    }
}

/// <summary>The local operator's directory use cases in the shape these storage tests read: what
/// was saved (or removed) and the problems by field, whatever the refusal's kind.</summary>
internal static class OperatorDirectory
{
    public static async Task<(DirectoryUser? Saved, bool Created, IReadOnlyList<FieldError> Errors)> SetUserAsync(
        this DirectoryService service, UserUpdate update, CancellationToken cancellationToken) =>
        Shape(await service.SaveUserAsync(Caller.Operator, update, SaveMode.AddOrChange, cancellationToken));

    public static async Task<(DirectoryGroup? Saved, bool Created, IReadOnlyList<FieldError> Errors)> SetGroupAsync(
        this DirectoryService service, GroupUpdate update, CancellationToken cancellationToken) =>
        Shape(await service.SaveGroupAsync(Caller.Operator, update, SaveMode.AddOrChange, cancellationToken));

    public static async Task<(AccessEntry? Saved, bool Created, IReadOnlyList<FieldError> Errors)> GrantAsync(
        this DirectoryService service, string? scope, string? principal, string? level, CancellationToken cancellationToken) =>
        Shape(await service.GrantAsync(Caller.Operator, scope, principal, level, cancellationToken));

    public static async Task<(bool Removed, IReadOnlyList<FieldError> Errors)> RevokeAsync(
        this DirectoryService service, string? scope, string? principal, CancellationToken cancellationToken) =>
        await service.RevokeAsync(Caller.Operator, scope, principal, cancellationToken) switch
        {
            null => (true, []),
            { Kind: RefusalKind.NotFound } => (false, []),
            var refusal => (false, Errors(refusal)),
        };

    public static async Task<bool> RemoveUserAsync(this DirectoryService service, string id, CancellationToken cancellationToken) =>
        await service.RemoveUserAsync(Caller.Operator, id, cancellationToken) is null;

    public static async Task<bool> RemoveGroupAsync(this DirectoryService service, string id, CancellationToken cancellationToken) =>
        await service.RemoveGroupAsync(Caller.Operator, id, cancellationToken) is null;

    public static async Task<ScopeAccess> DescribeAccessAsync(this DirectoryService service, ScopePath scope, CancellationToken cancellationToken) =>
        (await service.DescribeAccessAsync(Caller.Operator, scope.Value, cancellationToken)).Value!;

    public static async Task<(int UsersAdded, int UsersChanged, int GroupsAdded, int GroupsChanged, IReadOnlyList<FieldError> Errors)> ImportAsync(
        this DirectoryService service, DirectoryImport import, CancellationToken cancellationToken)
    {
        var result = await service.ImportAsync(Caller.Operator, _ => Task.FromResult(import), cancellationToken);
        return result.Value is { } report
            ? (report.UsersAdded, report.UsersChanged, report.GroupsAdded, report.GroupsChanged, [])
            : (0, 0, 0, 0, Errors(result.Refusal!));
    }

    private static (T? Saved, bool Created, IReadOnlyList<FieldError> Errors) Shape<T>(Result<Saved<T>> result)
        where T : class =>
        result.Value is { } saved ? (saved.Value, saved.Created, []) : (null, false, Errors(result.Refusal!));

    private static IReadOnlyList<FieldError> Errors(Refusal refusal) => refusal.Errors.Count > 0 ? refusal.Errors : [new FieldError("", refusal.Sentence)];
}
