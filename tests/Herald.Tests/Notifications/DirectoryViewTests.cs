using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Tests.Notifications;

/// <summary><see cref="DirectoryView"/> built from an in-memory directory.</summary>
public sealed class DirectoryViewTests
{
    private static readonly ScopePath Root = ScopePath.Root;
    private static readonly ScopePath Hr = ScopePath.Parse("/hr");
    private static readonly ScopePath Payroll = ScopePath.Parse("/hr/payroll");
    private static readonly ScopePath Finance = ScopePath.Parse("/finance");

    internal static DirectoryUser User(string id, string? email = null) =>
        new(id, $"User {id}", EmailAddress.Parse(email ?? $"{id}@example.org"), "UTC", "en");

    internal static DirectoryGroup Group(string id, params string[] members) =>
        new(id, $"Group {id}", null, GroupDelivery.Members, members.Select(m => Principal.TryParse(m, out var p, out _) ? p : throw new ArgumentException(m)).ToArray());

    private static DirectoryView View(IReadOnlyList<DirectoryUser> users, IReadOnlyList<DirectoryGroup> groups, params AccessEntry[] access) =>
        new(new DirectorySnapshot(1, users, groups, access));

    private static AccessEntry Grant(ScopePath scope, string principal, AccessLevel level) =>
        new(scope, Principal.TryParse(principal, out var p, out _) ? p : throw new ArgumentException(principal), level);

    [Fact]
    public void Members_of_nested_groups_are_expanded_and_a_diamond_member_is_listed_once()
    {
        // team → {alice, devs, ops}; devs → {bob, core}; ops → {carol, core}; core → {dave, alice}
        var view = View(
            [User("alice"), User("bob"), User("carol"), User("dave"), User("erin")],
            [Group("team", "user:alice", "group:devs", "group:ops"), Group("devs", "user:bob", "group:core"), Group("ops", "user:carol", "group:core"), Group("core", "user:dave", "user:alice")]);

        Assert.Equal(["alice", "bob", "dave", "carol"], view.MembersOf("team").Select(u => u.Id));
        Assert.Equal(["dave", "alice"], view.MembersOf("core").Select(u => u.Id));
        Assert.Empty(view.MembersOf("nobody"));
        Assert.Equal(["core", "devs", "ops", "team"], view.GroupsOf("dave").Order(StringComparer.Ordinal));
        Assert.Empty(view.GroupsOf("erin"));
    }

    [Fact]
    public void A_cycle_stored_by_a_race_is_followed_once_and_does_not_hang()
    {
        var view = View([User("alice"), User("bob")], [Group("a", "user:alice", "group:b"), Group("b", "user:bob", "group:a")],
            Grant(Hr, "group:a", AccessLevel.Edit));

        Assert.Equal(["alice", "bob"], view.MembersOf("a").Select(u => u.Id));
        Assert.Equal(["bob", "alice"], view.MembersOf("b").Select(u => u.Id));
        Assert.Equal(AccessLevel.Edit, view.AccessOf("bob", Payroll));
        Assert.Equal(AccessLevel.Edit, view.GroupAccessOf("b", Hr));
    }

    [Fact]
    public void Access_is_inherited_down_the_scope_tree_and_a_stronger_grant_on_a_child_wins_there_only()
    {
        var view = View([User("alice"), User("bob")], [],
            Grant(Root, "user:alice", AccessLevel.View),
            Grant(Payroll, "user:alice", AccessLevel.Admin),
            Grant(Hr, "user:bob", AccessLevel.Edit));

        Assert.Equal(AccessLevel.View, view.AccessOf("alice", Finance));
        Assert.Equal(AccessLevel.View, view.AccessOf("alice", Hr));
        Assert.Equal(AccessLevel.Admin, view.AccessOf("alice", Payroll));
        Assert.Equal(AccessLevel.Admin, view.AccessOf("alice", ScopePath.Parse("/hr/payroll/2026")));
        Assert.Equal(AccessLevel.Edit, view.AccessOf("bob", Payroll));
        Assert.Null(view.AccessOf("bob", Finance));
        Assert.Null(view.AccessOf("bob", Root));
        Assert.Null(view.AccessOf("mallory", Root));
    }

    [Fact]
    public void A_weaker_grant_on_a_child_does_not_take_away_what_an_ancestor_grants()
    {
        var view = View([User("alice")], [], Grant(Hr, "user:alice", AccessLevel.Admin), Grant(Payroll, "user:alice", AccessLevel.View));

        Assert.Equal(AccessLevel.Admin, view.AccessOf("alice", Payroll));
    }

    [Fact]
    public void Permissions_come_from_the_groups_a_user_is_in_at_any_depth()
    {
        var view = View([User("alice"), User("bob")], [Group("payroll-team", "user:alice"), Group("hr-staff", "group:payroll-team", "user:bob")],
            Grant(Hr, "group:hr-staff", AccessLevel.View),
            Grant(Payroll, "group:payroll-team", AccessLevel.Edit));

        Assert.Equal(AccessLevel.Edit, view.AccessOf("alice", Payroll));
        Assert.Equal(AccessLevel.View, view.AccessOf("alice", Hr));
        Assert.Equal(AccessLevel.View, view.AccessOf("bob", Payroll));
        Assert.Null(view.AccessOf("bob", Finance));
        Assert.Equal(AccessLevel.Edit, view.GroupAccessOf("payroll-team", Payroll));
        Assert.Equal(AccessLevel.View, view.GroupAccessOf("hr-staff", Payroll));
        Assert.Null(view.GroupAccessOf("hr-staff", Root));
    }

    [Fact]
    public void Administrators_of_a_scope_are_its_own_and_its_ancestors_admins_through_groups_each_once()
    {
        var view = View([User("root-admin"), User("alice"), User("bob"), User("viewer")], [Group("hr-admins", "user:alice", "user:bob")],
            Grant(Root, "user:root-admin", AccessLevel.Admin),
            Grant(Hr, "group:hr-admins", AccessLevel.Admin),
            Grant(Payroll, "user:alice", AccessLevel.Admin),
            Grant(Payroll, "user:viewer", AccessLevel.Edit));

        Assert.Equal(["alice", "bob", "root-admin"], view.AdministratorsOf(Payroll).Select(u => u.Id));
        Assert.Equal(["root-admin"], view.AdministratorsOf(Finance).Select(u => u.Id));
    }

    [Fact]
    public void An_actor_is_recognised_by_email_whatever_its_case()
    {
        var view = View([User("alice", "Alice.Smith@Example.org")], []);

        Assert.Equal("alice", view.FindUserByEmail("alice.smith@example.ORG")?.Id);
        Assert.Null(view.FindUserByEmail("bob@example.org"));
    }

    [Fact]
    public void A_group_of_100000_users_is_expanded_once_and_access_checks_stay_lookups()
    {
        var users = Enumerable.Range(0, 100_000).Select(i => User($"u{i:D6}")).ToArray();
        var view = View(users, [Group("everyone", [.. users.Select(u => $"user:{u.Id}")]), Group("staff", "group:everyone")],
            Grant(Hr, "group:staff", AccessLevel.View));

        var members = view.MembersOf("everyone");
        Assert.Equal(100_000, members.Count);
        Assert.Same(members, view.MembersOf("everyone"));
        Assert.All(members, m => Assert.Equal(AccessLevel.View, view.AccessOf(m.Id, Payroll)));
        Assert.Equal(["everyone", "staff"], view.GroupsOf("u099999"));
    }
}
