using Herald.Notifications;
using Herald.Notifications.Sync;
using Herald.Settings;

namespace Herald.Tests.Notifications;

/// <summary>The pure parts of directory sync: the planner and a source's rules. The same plans
/// against a real slapd and both databases: Herald.IntegrationTests' DirectorySyncTests.</summary>
public sealed class DirectorySyncPlannerTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static readonly DirectorySourceSettings Settings = DirectorySourceRules.Apply(
        null, new DirectorySourceUpdate("corp") { Url = "ldaps://ldap.example.org", BindDn = "cn=herald,dc=example,dc=org", BaseDns = ["dc=example,dc=org"] }, [])!;

    [Fact]
    public void A_local_user_or_another_sources_user_with_the_same_id_is_skipped_and_left_alone()
    {
        var local = User("alice");
        var other = User("bob") with { Source = "hr-ldap" };
        var plan = Plan([Person("alice"), Person("bob"), Person("carol")], stored: new([local, other], []));

        Assert.Equal(["carol"], plan.AddedUsers.Select(u => u.Id));
        Assert.Empty(plan.ChangedUsers);
        Assert.Contains(plan.Skipped, s => s.Contains("user 'alice' exists already as a local one", StringComparison.Ordinal));
        Assert.Contains(plan.Skipped, s => s.Contains("user 'bob' exists already as one synced from 'hr-ldap'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_delta_never_disables_and_a_full_read_disables_then_removes_after_the_grace_period()
    {
        var synced = Enumerable.Range(0, 20).Select(i => User($"u{i:00}") with { Source = "corp", SourceDn = Dn($"u{i:00}") }).ToArray();
        var present = synced.Skip(1).Select(u => Person(u.Id)).ToArray();

        var delta = Plan(present, new(synced, []), full: false);
        var full = Plan(present, new(synced, []));
        var disabled = synced.Select(u => u.Id == "u00" ? u with { DisabledAt = Now.AddDays(-30) } : u).ToArray();
        var withinGrace = Plan(present, new(disabled, []), now: Now.AddDays(-1));
        var afterGrace = Plan(present, new(disabled, []));

        Assert.Empty(delta.DisabledUsers);
        Assert.Equal(["u00"], full.DisabledUsers);
        Assert.Empty(withinGrace.RemovedUsers);
        Assert.Equal(["u00"], afterGrace.RemovedUsers);
    }

    [Fact]
    public void A_user_found_again_while_disabled_is_enabled()
    {
        var stored = User("alice") with { Source = "corp", SourceDn = Dn("alice"), DisabledAt = Now.AddDays(-3) };

        var plan = Plan([Person("alice")], new([stored], []));

        Assert.Null(Assert.Single(plan.ChangedUsers).DisabledAt);
    }

    [Fact]
    public void The_safety_stop_gives_the_numbers_and_the_limit_and_a_share_within_it_goes_ahead()
    {
        var synced = Enumerable.Range(0, 30).Select(i => User($"u{i:00}") with { Source = "corp", SourceDn = Dn($"u{i:00}") }).ToArray();

        var nothing = Plan([], new(synced, []));
        var three = Plan(synced.Skip(3).Select(u => Person(u.Id)).ToArray(), new(synced, []));
        var four = Plan(synced.Skip(4).Select(u => Person(u.Id)).ToArray(), new(synced, []));

        Assert.StartsWith("Safety stop: this sync would disable 30 of the source's 30 users (100%), more than the 10% allowed; nothing was changed.", nothing.Stopped, StringComparison.Ordinal);
        Assert.Null(three.Stopped);
        Assert.Contains("disable 4 of the source's 30 users (13.3%)", four.Stopped, StringComparison.Ordinal);
    }

    [Fact]
    public void Group_members_are_mapped_by_dn_and_members_outside_the_filters_are_left_out()
    {
        var group = new DirectoryEntry("cn=eng,ou=groups,dc=example,dc=org", Attributes(("cn", "eng"), ("member", Dn("alice")), ("member", "uid=ALICE, ou=people,dc=example,dc=org"),
            ("member", "cn=devs,ou=groups,dc=example,dc=org"), ("member", "uid=ghost,ou=elsewhere,dc=example,dc=org")));
        var devs = new DirectoryEntry("cn=devs,ou=groups,dc=example,dc=org", Attributes(("cn", "devs")));

        var plan = DirectorySyncPlanner.Plan("corp", Settings, new([Person("alice")], [group, devs], null), true, new(0, [], [], []), Now);

        Assert.Equal(["user:alice", "group:devs"], plan.AddedGroups.Single(g => g.Id == "eng").Members.Select(m => m.ToString()));
    }

    [Fact]
    public void An_unknown_time_zone_or_language_in_the_directory_keeps_the_person_and_herald_s_value()
    {
        var entry = new DirectoryEntry(Dn("alice"), Attributes(("uid", "alice"), ("cn", "Name alice"), ("mail", "alice@example.org"), ("preferredLanguage", "not a tag!")));
        var stored = User("alice") with { Source = "corp", SourceDn = Dn("alice"), Language = "fr" };

        var plan = Plan([entry], new([stored], []));

        Assert.Empty(plan.ChangedUsers);
        Assert.Empty(plan.Skipped);
    }

    [Theory]
    [InlineData("ldap://ldap.example.org", "none", "tls", "allowed only to a server on this machine's loopback, not to ldap.example.org")]
    [InlineData("ldap://10.0.0.5", "none", "tls", "not to 10.0.0.5")]
    [InlineData("ldaps://ldap.example.org", "starttls", "tls", "TLS from the first byte")]
    [InlineData("ldap://ldap.example.org", "ldaps", "tls", "needs an ldaps:// URL")]
    [InlineData("http://ldap.example.org", null, "url", "ldaps://host[:port] or ldap://host[:port]")]
    [InlineData("ldap://user:pw@ldap.example.org", null, "url", "without a path or credentials")]
    public void Plaintext_off_loopback_and_mismatched_tls_are_refused(string url, string? tls, string field, string sentence)
    {
        var errors = new List<FieldError>();

        var settings = DirectorySourceRules.Apply(null, new DirectorySourceUpdate("corp") { Url = url, Tls = tls, BindDn = "cn=x,dc=y", BaseDns = ["dc=y"] }, errors);

        Assert.Null(settings);
        Assert.Contains(sentence, Assert.Single(errors, e => e.Field == field).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ldap://127.0.0.1:3890")]
    [InlineData("ldap://localhost")]
    [InlineData("ldap://[::1]:389")]
    public void Plaintext_to_a_loopback_server_is_allowed_when_asked_for(string url)
    {
        var errors = new List<FieldError>();

        var settings = DirectorySourceRules.Apply(null, new DirectorySourceUpdate("t") { Url = url, Tls = "none", BindDn = "cn=x,dc=y", BaseDns = ["dc=y"] }, errors);

        Assert.Empty(errors);
        Assert.Equal(DirectoryTls.None, settings!.Tls);
    }

    [Fact]
    public void Active_directory_defaults_and_the_in_chain_rule_only_there()
    {
        var errors = new List<FieldError>();
        var ad = DirectorySourceRules.Apply(null, new DirectorySourceUpdate("ad") { Url = "ldaps://dc1.corp.example", Schema = "active-directory", Nested = "in-chain", BindDn = "CN=svc,DC=corp", BaseDns = ["DC=corp"] }, errors)!;
        var openLdap = DirectorySourceRules.Apply(null, new DirectorySourceUpdate("o") { Url = "ldaps://ldap.example.org", Nested = "in-chain", BindDn = "cn=x,dc=y", BaseDns = ["dc=y"] }, errors);

        Assert.Equal(("sAMAccountName", "displayName", "uSNChanged", NestedGroups.InChain), (ad.Attributes.Id, ad.Attributes.Name, ad.DeltaAttribute, ad.Nested));
        Assert.Contains("userAccountControl:1.2.840.113556.1.4.803:=2", ad.UserFilter, StringComparison.Ordinal);
        Assert.Null(openLdap);
        Assert.Equal("nested", Assert.Single(errors).Field);
    }

    private static DirectorySyncPlan Plan(IReadOnlyList<DirectoryEntry> users, DirectorySnapshotParts stored, bool full = true, DateTimeOffset? now = null) =>
        DirectorySyncPlanner.Plan("corp", Settings, new DirectoryEntries(users, [], null), full, new DirectorySnapshot(1, stored.Users, stored.Groups, []), now ?? Now);

    private sealed record DirectorySnapshotParts(IReadOnlyList<DirectoryUser> Users, IReadOnlyList<DirectoryGroup> Groups);

    private static DirectoryUser User(string id) => new(id, $"Name {id}", EmailAddress.Parse($"{id}@example.org"), "UTC", "en");

    private static string Dn(string uid) => $"uid={uid},ou=people,dc=example,dc=org";

    private static DirectoryEntry Person(string uid) =>
        new(Dn(uid), Attributes(("uid", uid), ("cn", $"Name {uid}"), ("mail", $"{uid}@example.org")));

    private static Dictionary<string, IReadOnlyList<string>> Attributes(params (string Name, string Value)[] values) =>
        values.GroupBy(v => v.Name, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(v => v.Value).ToArray(), StringComparer.OrdinalIgnoreCase);
}
