using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Herald.Access;
using Herald.Credentials;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Notifications.Sync;
using Herald.Scopes;
using Herald.Storage;
using Herald.Storage.Notifications;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Notifications;

/// <summary>Directory sync from a real OpenLDAP (<see cref="OpenLdap"/>, StartTLS with the
/// fixture's CA) into real SQLite and PostgreSQL, through the use cases every door calls.</summary>
public sealed class DirectorySyncTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private const string Passphrase = "directory sync passphrase, copper heron";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>alice, bob, carol and dave (no mail: skipped); devs = alice, ops = bob, eng = devs + ops + carol.</summary>
    private static readonly string Small =
        OpenLdap.Person("alice", "Alice Archer", "alice@example.org", language: "de-ch")
        + OpenLdap.Person("bob", "Bob Baker", "bob@example.org")
        + OpenLdap.Person("carol", "Carol Clark", "carol@example.org")
        + "dn: uid=dave,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: dave\ncn: Dave Dunn\nsn: Dunn\n\n"
        + OpenLdap.Group("devs", OpenLdap.UserDn("alice"))
        + OpenLdap.Group("ops", OpenLdap.UserDn("bob"))
        + OpenLdap.Group("eng", OpenLdap.GroupDn("devs"), OpenLdap.GroupDn("ops"), OpenLdap.UserDn("carol"));

    /// <summary>user01…user20, all in group staff.</summary>
    private static string Twenty() =>
        string.Concat(Enumerable.Range(1, 20).Select(i => OpenLdap.Person($"user{i:00}", $"User {i:00}", $"user{i:00}@example.org")))
        + OpenLdap.Group("staff", [.. Enumerable.Range(1, 20).Select(i => OpenLdap.UserDn($"user{i:00}"))]);

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_sync_adds_users_and_groups_over_starttls_and_nested_membership_expands(string engine)
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        await using var db = await TestDatabases.CreateAsync(engine);
        using var node = await SyncNode.StartAsync(db, ldap);

        var report = await node.SyncAsync();

        Assert.Null(report.Plan.Stopped);
        Assert.Equal(["alice", "bob", "carol"], report.Plan.AddedUsers.Select(u => u.Id).Order(StringComparer.Ordinal));
        Assert.Equal(["devs", "eng", "ops"], report.Plan.AddedGroups.Select(g => g.Id).Order(StringComparer.Ordinal));
        Assert.Contains(report.Plan.Skipped, s => s.StartsWith("uid=dave,", StringComparison.Ordinal) && s.Contains("email", StringComparison.Ordinal));
        var alice = (await node.Store.FindUserAsync("alice", Ct))!;
        Assert.Equal(("Alice Archer", "alice@example.org", "de-CH", "corp", OpenLdap.UserDn("alice"), (DateTimeOffset?)null),
            (alice.Name, alice.Email.Value, alice.Language, alice.Source, alice.SourceDn, alice.DisabledAt));
        var eng = (await node.Store.FindGroupAsync("eng", Ct))!;
        Assert.Equal(["user:carol", "group:devs", "group:ops"], eng.Members.Select(m => m.ToString()));
        Assert.Equal("corp", eng.Source);
        var expanded = await node.Directory.ExpandGroupAsync(Caller.Operator, "eng", Ct);
        Assert.Equal(["alice", "bob", "carol"], expanded.Value!.Select(u => u.Id).Order(StringComparer.Ordinal));

        // Nothing changed in LDAP: a second sync changes nothing and bumps no revision.
        var revision = await node.Store.GetRevisionAsync(Ct);
        var again = await node.SyncAsync();
        Assert.False(again.Plan.ChangesAnything, again.Outcome);
        Assert.Equal(revision, await node.Store.GetRevisionAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_change_in_ldap_changes_the_user_on_the_next_sync_also_a_delta_one(string engine)
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        await using var db = await TestDatabases.CreateAsync(engine);
        using var node = await SyncNode.StartAsync(db, ldap);
        await node.SyncAsync();

        await ldap.ModifyAsync($"dn: {OpenLdap.UserDn("alice")}\nchangetype: modify\nreplace: mail\nmail: alice.archer@example.org\n-\nreplace: cn\ncn: Alice Archer-Smith\n\n");
        await ldap.ModifyAsync($"dn: {OpenLdap.GroupDn("devs")}\nchangetype: modify\nadd: member\nmember: {OpenLdap.UserDn("carol")}\n\n");
        var delta = await node.SyncAsync(delta: true);

        Assert.False(delta.Full);
        Assert.Equal(["alice"], delta.Plan.ChangedUsers.Select(u => u.Id));
        Assert.Equal(["devs"], delta.Plan.ChangedGroups.Select(g => g.Id));
        var alice = (await node.Store.FindUserAsync("alice", Ct))!;
        Assert.Equal(("Alice Archer-Smith", "alice.archer@example.org"), (alice.Name, alice.Email.Value));
        Assert.Equal(["user:alice", "user:carol"], (await node.Store.FindGroupAsync("devs", Ct))!.Members.Select(m => m.ToString()));
        // A full sync afterwards agrees: nothing left to change.
        Assert.False((await node.SyncAsync()).Plan.ChangesAnything);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_user_removed_from_ldap_is_disabled_receives_nothing_and_is_removed_after_the_grace_period(string engine)
    {
        using var ldap = await OpenLdap.StartAsync(Twenty());
        await using var db = await TestDatabases.CreateAsync(engine);
        using var node = await SyncNode.StartAsync(db, ldap);
        await node.SyncAsync();
        Assert.True((await node.Directory.GrantAsync(Caller.Operator, "/", "group:staff", "view", Ct)).Value is not null);
        var subscription = new Subscription(
            "staff-news", ScopePath.Root, Principal.Group("staff"), "Staff news", EventFilter.Everything, NotificationSchedule.Immediate, false, true, Now, Now);
        Assert.Contains("user07@example.org", await node.RecipientsAsync(subscription));

        await ldap.ModifyAsync($"dn: {OpenLdap.UserDn("user07")}\nchangetype: delete\n\n");
        var disabling = await node.SyncAsync();

        Assert.Equal(["user07"], disabling.Plan.DisabledUsers);
        var user07 = (await node.Store.FindUserAsync("user07", Ct))!;
        Assert.Equal(Now, user07.DisabledAt);
        var recipients = await node.RecipientsAsync(subscription);
        Assert.Equal(19, recipients.Count);
        Assert.DoesNotContain("user07@example.org", recipients);
        Assert.Null((await node.Cache.GetViewAsync(Ct)).AccessOf("user07", ScopePath.Root));

        node.Time.Advance(TimeSpan.FromDays(DirectorySourceSettings.DefaultGraceDays) - TimeSpan.FromMinutes(1));
        var withinGrace = await node.SyncAsync();
        Assert.Empty(withinGrace.Plan.RemovedUsers);
        Assert.NotNull(await node.Store.FindUserAsync("user07", Ct));

        node.Time.Advance(TimeSpan.FromMinutes(1));
        var afterGrace = await node.SyncAsync();
        Assert.Equal(["user07"], afterGrace.Plan.RemovedUsers);
        Assert.Null(await node.Store.FindUserAsync("user07", Ct));
        Assert.Equal(19, (await node.Store.FindGroupAsync("staff", Ct))!.Members.Count);
    }

    [Fact]
    public async Task Five_thousand_users_are_read_in_pages_past_the_servers_size_limit()
    {
        var people = new StringBuilder();
        for (var i = 0; i < 5_000; i++)
        {
            people.Append(OpenLdap.Person($"p{i:0000}", $"Person {i:0000}", $"p{i:0000}@example.org"));
        }

        using var ldap = await OpenLdap.StartAsync(people.ToString(), sizeLimit: 1000);
        // The server's limit is real: a search that does not page gets 1,000 entries and an error.
        Assert.Contains("Size limit exceeded", await ldap.SearchAsync("(objectClass=inetOrgPerson)"), StringComparison.Ordinal);
        await using var db = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        using var node = await SyncNode.StartAsync(db, ldap, pageSize: 700);

        var report = await node.SyncAsync();

        Assert.Equal(5_000, report.Plan.AddedUsers.Count);
        Assert.Equal(5_000, (await node.Store.ListUsersAsync(Ct)).Count(u => u.Source == "corp"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_safety_stop_triggers_when_the_filter_suddenly_matches_nothing_and_changes_nothing(string engine)
    {
        using var ldap = await OpenLdap.StartAsync(Twenty());
        await using var db = await TestDatabases.CreateAsync(engine);
        using var node = await SyncNode.StartAsync(db, ldap);
        await node.SyncAsync();
        var before = await DumpAsync(db);

        var changed = await node.Sync.SaveSourceAsync(Caller.Operator, new DirectorySourceUpdate("corp") { UserFilter = "(&(objectClass=inetOrgPerson)(departmentNumber=gone))" }, null, Ct);
        Assert.Null(changed.Refusal);
        var stopped = await node.SyncAsync();

        Assert.StartsWith("Safety stop: this sync would disable 20 of the source's 20 users (100%), more than the 10% allowed; nothing was changed.", stopped.Plan.Stopped, StringComparison.Ordinal);
        Assert.Equal(before, await DumpAsync(db));
        Assert.Equal(stopped.Plan.Stopped, (await node.Sources.FindAsync("corp", Ct))!.LastOutcome);

        // Within the limit (2 of 20 = 10%) the same sync goes ahead.
        await node.Sync.SaveSourceAsync(Caller.Operator, new DirectorySourceUpdate("corp") { UserFilter = "(&(objectClass=inetOrgPerson)(!(|(uid=user01)(uid=user02))))" }, null, Ct);
        Assert.Equal(["user01", "user02"], (await node.SyncAsync()).Plan.DisabledUsers);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_dry_run_lists_what_would_change_and_changes_nothing(string engine)
    {
        using var ldap = await OpenLdap.StartAsync(Twenty());
        await using var db = await TestDatabases.CreateAsync(engine);
        using var node = await SyncNode.StartAsync(db, ldap);
        await node.SyncAsync();
        await ldap.AddAsync(OpenLdap.Person("newcomer", "New Comer", "newcomer@example.org"));
        await ldap.ModifyAsync($"dn: {OpenLdap.UserDn("user03")}\nchangetype: modify\nreplace: cn\ncn: User Three\n\n");
        await ldap.ModifyAsync($"dn: {OpenLdap.UserDn("user05")}\nchangetype: delete\n\n");
        var before = await DumpAsync(db);

        var dry = (await node.Sync.SyncAsync(Caller.Operator, "corp", dryRun: true, delta: false, Ct)).Value!.Single();

        Assert.True(dry.DryRun);
        Assert.Equal(["newcomer"], dry.Plan.AddedUsers.Select(u => u.Id));
        Assert.Equal(["user03"], dry.Plan.ChangedUsers.Select(u => u.Id));
        Assert.Equal(["user05"], dry.Plan.DisabledUsers);
        Assert.Equal(before, await DumpAsync(db));

        // The CLI prints the same list, and still changes nothing.
        using var cli = node.CommandLine();
        var printed = await cli.RunAsync("directory", "sync", "--dry-run");
        Assert.True(printed.ExitCode == 0, printed.ToString());
        Assert.Contains("  add user newcomer (New Comer <newcomer@example.org>)", printed.Output, StringComparison.Ordinal);
        Assert.Contains("  change user user03 (User Three <user03@example.org>)", printed.Output, StringComparison.Ordinal);
        Assert.Contains("  disable user user05", printed.Output, StringComparison.Ordinal);
        Assert.Contains("Dry run: nothing was changed.", printed.Output, StringComparison.Ordinal);
        Assert.Equal(before, await DumpAsync(db));
    }

    [Fact]
    public async Task Starttls_with_the_fixtures_ca_succeeds_and_with_another_ca_fails_with_a_clear_sentence()
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        await using var db = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        using var node = await SyncNode.StartAsync(db, ldap);
        Assert.Equal(3, (await node.SyncAsync()).Plan.AddedUsers.Count);

        await node.Sync.SaveSourceAsync(Caller.Operator, new DirectorySourceUpdate("corp") { Trust = ldap.OtherCaFile }, null, Ct);
        var wrongCa = await node.Sync.SyncAsync(Caller.Operator, "corp", dryRun: false, delta: false, Ct);
        await node.Sync.SaveSourceAsync(Caller.Operator, new DirectorySourceUpdate("corp") { Trust = "system" }, null, Ct);
        var system = await node.Sync.SyncAsync(Caller.Operator, "corp", dryRun: false, delta: false, Ct);

        Assert.Equal(RefusalKind.Unavailable, wrongCa.Refusal!.Kind);
        Assert.StartsWith($"Directory source 'corp' could not be read: TLS with 127.0.0.1:{ldap.Port} failed", wrongCa.Refusal.Sentence, StringComparison.Ordinal);
        Assert.Contains($"not trusted by the CA in {ldap.OtherCaFile}", wrongCa.Refusal.Sentence, StringComparison.Ordinal);
        Assert.Contains("not trusted by the system's certificate store", system.Refusal!.Sentence, StringComparison.Ordinal);
        Assert.DoesNotContain(OpenLdap.BindPassword, wrongCa.Refusal.Sentence, StringComparison.Ordinal);
        // The failure is recorded on the source, where show and the console read it.
        Assert.Equal(system.Refusal.Sentence, (await node.Sources.FindAsync("corp", Ct))!.LastOutcome);
        Assert.Equal(3, (await node.Store.ListUsersAsync(Ct)).Count);

        // A trust path that is not a file of certificates (a node's secrets file, say) is not used, nor copied anywhere.
        var notCertificates = Path.Combine(db.DataDirectory, "herald.env");
        await File.WriteAllTextAsync(notCertificates, "HERALD_CREDENTIAL_KEY=not for anyone else\n", Ct);
        await node.Sync.SaveSourceAsync(Caller.Operator, new DirectorySourceUpdate("corp") { Trust = notCertificates }, null, Ct);
        var notCa = await node.Sync.SyncAsync(Caller.Operator, "corp", dryRun: false, delta: false, Ct);
        Assert.Equal($"Directory source 'corp' could not be read: The CA file {notCertificates} is not a PEM file of certificates (at most 1 MiB); nothing was sent.", notCa.Refusal!.Sentence);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_bind_password_is_sealed_in_the_database_and_never_printed(string engine)
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        await using var db = await TestDatabases.CreateAsync(engine);
        using var node = await SyncNode.StartAsync(db, ldap);
        using var cli = node.CommandLine();

        var shown = await cli.RunAsync("directory", "source", "show", "corp");
        var synced = await cli.RunAsync("directory", "sync");
        var changed = await cli.RunWithInputAsync(OpenLdap.BindPassword + "\n", "directory", "source", "set", "corp", "--password-stdin");

        Assert.True(shown.ExitCode == 0 && synced.ExitCode == 0 && changed.ExitCode == 0, $"{shown}\n{synced}\n{changed}");
        Assert.Contains("password sealed", shown.Output, StringComparison.Ordinal);
        foreach (var result in new[] { shown, synced, changed })
        {
            Assert.DoesNotContain(OpenLdap.BindPassword, result.Output + result.Error, StringComparison.Ordinal);
        }

        var password = Encoding.UTF8.GetBytes(OpenLdap.BindPassword);
        await using var connection = await db.Database.OpenAsync(Ct);
        var ciphertext = await connection.QuerySingleAsync<byte[]>("SELECT ciphertext FROM secrets WHERE name = 'directory-source/corp/bind-password'");
        Assert.False(ciphertext.AsSpan().IndexOf(password) >= 0);
        Assert.DoesNotContain(OpenLdap.BindPassword, await connection.QuerySingleAsync<string>("SELECT settings FROM directory_sources WHERE name = 'corp'"), StringComparison.Ordinal);
        if (engine == TestDatabases.Sqlite)
        {
            SqliteClearPool();
            foreach (var file in Directory.GetFiles(db.DataDirectory, "*.db*"))
            {
                Assert.False(File.ReadAllBytes(file).AsSpan().IndexOf(password) >= 0, file);
            }
        }
    }

    [Fact]
    public async Task Synced_users_and_groups_are_read_only_through_the_use_cases_the_cli_and_an_import()
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        await using var db = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        using var node = await SyncNode.StartAsync(db, ldap);
        await node.SyncAsync();
        using var cli = node.CommandLine();
        const string Sentence = "User 'alice' is synced from directory source 'corp' and read-only here";

        var set = await cli.RunAsync("user", "set", "alice", "--name", "Mallory");
        var remove = await cli.RunAsync("user", "remove", "alice");
        var group = await cli.RunAsync("group", "set", "devs", "--member", "user:bob");
        var import = await node.Directory.ImportAsync(
            Caller.Operator, _ => Task.FromResult(DirectoryImport.FromJson("""{"users": [{"id": "alice", "name": "Mallory", "email": "m@example.org"}]}""")), Ct);
        var listed = await cli.RunAsync("user", "list");

        Assert.Equal(1, set.ExitCode);
        Assert.Contains(Sentence, set.Error, StringComparison.Ordinal);
        Assert.Contains(Sentence, remove.Error, StringComparison.Ordinal);
        Assert.Contains("Group 'devs' is synced from directory source 'corp'", group.Error, StringComparison.Ordinal);
        Assert.Contains(Sentence, Assert.Single(import.Refusal!.Errors).Message, StringComparison.Ordinal);
        Assert.Equal("Alice Archer", (await node.Store.FindUserAsync("alice", Ct))!.Name);
        Assert.Equal(["user:alice"], (await node.Store.FindGroupAsync("devs", Ct))!.Members.Select(m => m.ToString()));
        Assert.Contains("(synced from corp)", listed.Output, StringComparison.Ordinal);

        // Removing the source hands its users and groups over as local ones: editable again.
        Assert.Null(await node.Sync.RemoveSourceAsync(Caller.Operator, "corp", Ct));
        Assert.Equal(0, (await cli.RunAsync("user", "set", "alice", "--name", "Alice A.")).ExitCode);
        Assert.Null((await node.Store.FindUserAsync("alice", Ct))!.Source);
    }

    [Fact]
    public async Task A_scope_administrator_can_neither_read_change_nor_sync_a_directory_source()
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        await using var db = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        using var node = await SyncNode.StartAsync(db, ldap);
        var hr = new Caller.ConsoleAdministrator("eve", ScopePath.Parse("/hr"));

        var set = await node.Sync.SaveSourceAsync(hr, new DirectorySourceUpdate("corp") { Url = "ldap://127.0.0.1:1", Tls = "none" }, "x", Ct);
        var create = await node.Sync.SaveSourceAsync(hr, new DirectorySourceUpdate("evil") { Url = "ldaps://ldap.evil.example", BindDn = "cn=x", BaseDns = ["dc=x"] }, "x", Ct);
        var sync = await node.Sync.SyncAsync(hr, "corp", dryRun: false, delta: false, Ct);
        var read = await node.Sync.FindSourceAsync(hr, "corp", Ct);
        var remove = await node.Sync.RemoveSourceAsync(hr, "corp", Ct);

        Assert.All(new[] { set.Refusal, create.Refusal, sync.Refusal, read.Refusal, remove }, r => Assert.Equal(RefusalKind.NotAllowed, r!.Kind));
        var source = (await node.Sources.FindAsync("corp", Ct))!;
        Assert.Equal(ldap.Url, source.Settings.Url);
        Assert.Single(await node.Sources.ListAsync(Ct));
        Assert.Empty(await node.Store.ListUsersAsync(Ct));
    }

    [Fact]
    public async Task A_source_is_configured_through_the_api_of_a_real_serve_its_password_never_returned_and_synced_items_are_refused_for_edit()
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        using var cli = new Herald.Testing.HeraldCommandLine { Environment = { [NodePassphrase.EnvironmentVariable] = Passphrase } };
        Assert.Equal(0, (await cli.RunAsync("scope", "add", "/hr")).ExitCode);
        var rootKey = (await cli.RunAsync("apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];
        var hrKey = (await cli.RunAsync("apikey", "create", "--scope", "/hr", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, new Dictionary<string, string> { [NodePassphrase.EnvironmentVariable] = Passphrase });
        using var root = server.Client(rootKey);
        using var hrAdmin = server.Client(hrKey);

        using var plaintext = await root.PutAsJsonAsync("api/v1/directory/sources/corp", new { url = "ldap://ldap.example.org", tls = "none", bindDn = OpenLdap.BindDn, baseDns = new[] { OpenLdap.Suffix } }, Ct);
        using var hrPut = await hrAdmin.PutAsJsonAsync("api/v1/directory/sources/corp", new { url = ldap.Url, bindDn = OpenLdap.BindDn, baseDns = new[] { OpenLdap.Suffix }, password = "x" }, Ct);
        using var created = await root.PutAsJsonAsync(
            "api/v1/directory/sources/corp", new { url = ldap.Url, trust = ldap.CaFile, bindDn = OpenLdap.BindDn, baseDns = new[] { OpenLdap.Suffix }, password = OpenLdap.BindPassword }, Ct);
        var shown = await root.GetStringAsync(new Uri("api/v1/directory/sources/corp", UriKind.Relative), Ct);
        using var hrGet = await hrAdmin.GetAsync(new Uri("api/v1/directory/sources", UriKind.Relative), Ct);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, plaintext.StatusCode);
        Assert.Contains("allowed only to a server on this machine's loopback", await plaintext.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, hrPut.StatusCode);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.DoesNotContain(OpenLdap.BindPassword, await created.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.DoesNotContain(OpenLdap.BindPassword, shown, StringComparison.Ordinal);
        Assert.True(JsonDocument.Parse(shown).RootElement.GetProperty("passwordStored").GetBoolean());
        Assert.Equal(HttpStatusCode.Forbidden, hrGet.StatusCode);

        // The password the API sealed opens for the CLI's sync on the same data.
        var synced = await cli.RunAsync("directory", "sync");
        Assert.True(synced.ExitCode == 0, synced.ToString());

        using var putUser = await root.PutAsJsonAsync("api/v1/users/alice", new { name = "Mallory" }, Ct);
        using var deleteUser = await root.DeleteAsync(new Uri("api/v1/users/alice", UriKind.Relative), Ct);
        using var putGroup = await root.PutAsJsonAsync("api/v1/groups/devs", new { members = new[] { "user:bob" } }, Ct);
        using var deleteGroup = await root.DeleteAsync(new Uri("api/v1/groups/eng", UriKind.Relative), Ct);
        using var hrGroup = await hrAdmin.PutAsJsonAsync("api/v1/groups/devs", new { name = "Taken" }, Ct);

        Assert.Equal([HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.Conflict],
            new[] { putUser.StatusCode, deleteUser.StatusCode, putGroup.StatusCode, deleteGroup.StatusCode });
        Assert.Contains("User 'alice' is synced from directory source 'corp' and read-only here", await putUser.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, hrGroup.StatusCode);
        var alice = JsonDocument.Parse(await root.GetStringAsync(new Uri("api/v1/users/alice", UriKind.Relative), Ct)).RootElement;
        Assert.Equal("Alice Archer", alice.GetProperty("name").GetString());
        var devs = JsonDocument.Parse(await root.GetStringAsync(new Uri("api/v1/groups/devs", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["user:alice"], devs.GetProperty("members").EnumerateArray().Select(m => m.GetString()));

        // The console marks them and offers no edit; a form posted anyway is refused with the same sentence.
        const string AdminPassword = "root's long console password";
        Assert.Equal(0, (await cli.RunWithInputAsync(AdminPassword + "\n", "admin", "create", "--name", "root", "--scope", "/")).ExitCode);
        using var console = await ConsoleBrowser.SignInAsync(server, "root", AdminPassword);
        var users = await console.GetStringAsync("/users");
        var groups = await console.GetStringAsync("/groups");
        using var posted = await console.PostAsync(
            "/users/edit", "/users/edit?id=alice&handler=Save", ("name", "Mallory"), ("email", "alice@example.org"), ("timeZone", "UTC"), ("language", "en"));

        Assert.Contains("synced from corp", users, StringComparison.Ordinal);
        Assert.DoesNotContain("/users/edit?id=alice", users, StringComparison.Ordinal);
        Assert.Contains("synced from corp", groups, StringComparison.Ordinal);
        Assert.DoesNotContain("/groups/edit?id=devs", groups, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, posted.StatusCode);
        Assert.Contains("is synced from directory source", System.Net.WebUtility.HtmlDecode(await posted.Content.ReadAsStringAsync(Ct)), StringComparison.Ordinal);
        Assert.Equal("Alice Archer", JsonDocument.Parse(await root.GetStringAsync(new Uri("api/v1/users/alice", UriKind.Relative), Ct)).RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task The_scheduled_sync_runs_on_one_node_at_a_time_with_deltas_between_full_syncs()
    {
        using var ldap = await OpenLdap.StartAsync(Small);
        await using var db = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        using var a = await SyncNode.StartAsync(db, ldap, node: "node-a");
        using var b = await SyncNode.StartAsync(db, ldap, node: "node-b");
        var now = a.Time.GetUtcNow();
        Assert.True(await a.Sources.TryLeaseAsync("corp", "node-a", now, now.AddMinutes(30), Ct));

        Assert.Null((await b.Cache.GetViewAsync(Ct)).FindUser("alice"));
        var whileLeased = await b.Scheduler.RunDueAsync(Ct);
        await a.Sources.ReleaseAsync("corp", "node-a", Ct);
        var first = await a.Scheduler.RunDueAsync(Ct);
        var rightAfter = await b.Scheduler.RunDueAsync(Ct);

        Assert.Empty(whileLeased);
        Assert.Equal(["corp"], first);
        Assert.Empty(rightAfter);
        Assert.Equal(3, (await a.Store.ListUsersAsync(Ct)).Count);
        Assert.StartsWith("Synced (full)", (await a.Sources.FindAsync("corp", Ct))!.LastOutcome, StringComparison.Ordinal);

        // Node b's view reads node a's sync at its next revision check, and b runs the next sync: a delta.
        b.Time.Advance(DirectoryCache.CheckInterval);
        Assert.NotNull((await b.Cache.GetViewAsync(Ct)).FindUser("alice"));
        b.Time.Advance(TimeSpan.FromMinutes(DirectorySourceSettings.DefaultIntervalMinutes));
        Assert.Equal(["corp"], await b.Scheduler.RunDueAsync(Ct));
        Assert.StartsWith("Synced (delta)", (await b.Sources.FindAsync("corp", Ct))!.LastOutcome, StringComparison.Ordinal);
        b.Time.Advance(TimeSpan.FromHours(DirectorySourceSettings.DefaultFullSyncHours));
        Assert.Equal(["corp"], await b.Scheduler.RunDueAsync(Ct));
        Assert.StartsWith("Synced (full)", (await b.Sources.FindAsync("corp", Ct))!.LastOutcome, StringComparison.Ordinal);
    }

    /// <summary>Every directory row, the revision and the sources' sync state, as text to compare.</summary>
    private static async Task<string> DumpAsync(TestDatabase db)
    {
        await using var connection = await db.Database.OpenAsync(Ct);
        var text = new StringBuilder();
        foreach (var query in new[]
        {
            "SELECT revision FROM directory_revision",
            "SELECT id, name, email, time_zone, language, updated_at, source, source_dn, disabled_at FROM directory_users ORDER BY id",
            "SELECT id, name, alias, delivery, updated_at, scope_path, source, source_dn FROM directory_groups ORDER BY id",
            "SELECT group_id, member_kind, member_id FROM group_members ORDER BY group_id, member_kind, member_id",
            "SELECT scope_path, principal_kind, principal_id, level FROM access_entries ORDER BY scope_path, principal_kind, principal_id",
            "SELECT name, delta_mark, last_full_at FROM directory_sources ORDER BY name",
        })
        {
            foreach (IDictionary<string, object?> row in await connection.QueryAsync(query))
            {
                text.AppendLine(string.Join('|', row.Values));
            }
        }

        return text.ToString();
    }

    private static void SqliteClearPool() => Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

    /// <summary>One node's directory services on the test's database, with a fake clock, and a
    /// source "corp" pointing at the fixture's slapd over StartTLS, trusting its CA.</summary>
    private sealed class SyncNode : IDisposable
    {
        private readonly ServiceProvider _services;
        private readonly TestDatabase _db;

        private SyncNode(ServiceProvider services, TestDatabase db, FakeTimeProvider time)
        {
            _services = services;
            _db = db;
            Time = time;
        }

        public FakeTimeProvider Time { get; }

        public DirectorySyncService Sync => _services.GetRequiredService<DirectorySyncService>();

        public DirectoryService Directory => _services.GetRequiredService<DirectoryService>();

        public DirectoryCache Cache => _services.GetRequiredService<DirectoryCache>();

        public IDirectoryStore Store => _services.GetRequiredService<IDirectoryStore>();

        public IDirectorySourceStore Sources => _services.GetRequiredService<IDirectorySourceStore>();

        public DirectorySyncScheduler Scheduler => _services.GetRequiredService<DirectorySyncScheduler>();

        public static async Task<SyncNode> StartAsync(TestDatabase db, OpenLdap ldap, int? pageSize = null, string node = "node-a")
        {
            var time = new FakeTimeProvider(Now);
            var services = new ServiceCollection()
                .AddLogging()
                .AddSingleton<TimeProvider>(time)
                .AddMetrics()
                .AddHeraldCore(new NodePassphrase(Passphrase, Path.Combine(db.DataDirectory, "unused.key")))
                .AddHeraldStorage(db.Database)
                .AddHeraldLdap()
                .AddSingleton(new Herald.Outbox.NodeIdentity(node, []))
                .BuildServiceProvider();
            var started = new SyncNode(services, db, time);
            var saved = await started.Sync.SaveSourceAsync(
                Caller.Operator,
                new DirectorySourceUpdate("corp") { Url = ldap.Url, Trust = ldap.CaFile, BindDn = OpenLdap.BindDn, BaseDns = [OpenLdap.Suffix], PageSize = pageSize },
                OpenLdap.BindPassword,
                Ct);
            Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
            return started;
        }

        public async Task<DirectorySyncReport> SyncAsync(bool delta = false)
        {
            var synced = await Sync.SyncAsync(Caller.Operator, "corp", dryRun: false, delta, Ct);
            Assert.True(synced.Refusal is null, synced.Refusal?.ToString());
            return synced.Value!.Single();
        }

        /// <summary>The addresses a subscription's notification would go to now, as the fan-out resolves them.</summary>
        public async Task<IReadOnlyList<string>> RecipientsAsync(Subscription subscription)
        {
            var recipients = new SubscriptionRecipients(new SqlSubscriptionStore(_db.Database));
            var resolved = await recipients.ResolveAsync(subscription, await Cache.GetViewAsync(Ct), Ct);
            return [.. resolved.Select(r => r.Address.Value)];
        }

        /// <summary>The herald CLI on the same data (and database), with the credential key.</summary>
        public Herald.Testing.HeraldCommandLine CommandLine()
        {
            var cli = new Herald.Testing.HeraldCommandLine(_db.DataDirectory, deleteOnDispose: false) { Environment = { [NodePassphrase.EnvironmentVariable] = Passphrase } };
            if (_db.Url is { } url)
            {
                cli.Environment["HERALD_DATABASE"] = url;
            }

            return cli;
        }

        public void Dispose() => _services.Dispose();
    }
}
