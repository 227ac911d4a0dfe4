using Herald.Testing;

namespace Herald.Tests.Cli;

/// <summary><c>herald user|group|access|directory</c> against a real SQLite data directory.</summary>
public sealed class DirectoryCommandTests : IDisposable
{
    private readonly HeraldCommandLine _herald = new();

    private async Task<CliResult> MustAsync(params string[] args)
    {
        var result = await _herald.RunAsync(args);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result;
    }

    [Fact]
    public async Task Users_are_added_changed_listed_and_removed_and_bad_input_saves_nothing()
    {
        await MustAsync("user", "add", "alice", "--name", "Alice Smith", "--email", "alice@example.org", "--time-zone", "Europe/Berlin");
        await MustAsync("user", "set", "alice", "--language", "de-ch");

        var duplicate = await _herald.RunAsync("user", "add", "alice", "--name", "Other", "--email", "other@example.org");
        var missing = await _herald.RunAsync("user", "set", "bob", "--name", "Bob");
        var bad = await _herald.RunAsync("user", "set", "alice", "--email", "alice(at)example.org", "--time-zone", "Berlin");

        Assert.Contains("herald: User 'alice' exists already: change it instead, or pick another id.", duplicate.Error, StringComparison.Ordinal);
        Assert.Contains("herald: There is no user 'bob'.", missing.Error, StringComparison.Ordinal);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("herald: email: 'alice(at)example.org' is not a valid email address", bad.Error, StringComparison.Ordinal);
        Assert.Contains("timeZone: 'Berlin' is not a time zone this machine knows", bad.Error, StringComparison.Ordinal);
        Assert.Contains("herald: The user is not valid; nothing was saved.", bad.Error, StringComparison.Ordinal);
        var list = (await MustAsync("user", "list")).Output;
        Assert.Matches(@"^alice\s+Alice Smith\s+alice@example.org\s+Europe/Berlin\s+de-CH\n$", list);

        await MustAsync("user", "remove", "alice");
        Assert.Equal("", (await MustAsync("user", "list")).Output);
        Assert.NotEqual(0, (await _herald.RunAsync("user", "remove", "alice")).ExitCode);
    }

    [Fact]
    public async Task Groups_nest_expand_to_each_user_once_and_refuse_a_cycle()
    {
        await MustAsync("user", "add", "alice", "--name", "Alice", "--email", "alice@example.org");
        await MustAsync("user", "add", "bob", "--name", "Bob", "--email", "bob@example.org");
        await MustAsync("group", "add", "devs", "--name", "Developers", "--member", "user:alice", "--member", "user:bob");
        await MustAsync("group", "add", "team", "--name", "Team", "--member", "group:devs", "--member", "user:alice", "--alias", "team@example.org", "--delivery", "both");

        var cycle = await _herald.RunAsync("group", "set", "devs", "--member", "group:team");
        var ghost = await _herald.RunAsync("group", "set", "devs", "--member", "user:ghost");

        Assert.Contains("members: This membership would make a cycle: group:devs → group:team → group:devs", cycle.Error, StringComparison.Ordinal);
        Assert.Contains("members[0]: User 'ghost' does not exist.", ghost.Error, StringComparison.Ordinal);
        Assert.Equal("user:alice\ngroup:devs\n", (await MustAsync("group", "members", "team")).Output.ReplaceLineEndings("\n"));
        var expanded = (await MustAsync("group", "members", "team", "--expand")).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["alice", "bob"], expanded.Select(line => line.Split(' ')[0]));
        Assert.Contains("alias team@example.org  delivery both  2 members", (await MustAsync("group", "list")).Output, StringComparison.Ordinal);

        await MustAsync("group", "set", "team", "--no-members", "--alias", "", "--delivery", "members");
        Assert.Contains("alias (none)  delivery members  0 members", (await MustAsync("group", "list")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Access_is_granted_listed_with_its_source_and_revoked()
    {
        await MustAsync("scope", "add", "/hr");
        await MustAsync("scope", "add", "/hr/payroll");
        await MustAsync("user", "add", "alice", "--name", "Alice", "--email", "alice@example.org");
        await MustAsync("group", "add", "hr-staff", "--name", "HR", "--member", "user:alice");
        await MustAsync("access", "grant", "--scope", "/hr", "--principal", "group:hr-staff", "--level", "edit");
        await MustAsync("access", "grant", "--scope", "/hr/payroll", "--principal", "user:alice", "--level", "admin");

        var bad = await _herald.RunAsync("access", "grant", "--scope", "/sales", "--principal", "group:nobody", "--level", "owner");
        var list = (await MustAsync("access", "list", "--scope", "/hr/payroll")).Output;

        Assert.Contains("herald: scope: Scope /sales does not exist.", bad.Error, StringComparison.Ordinal);
        Assert.Contains("herald: principal: Group 'nobody' does not exist.", bad.Error, StringComparison.Ordinal);
        Assert.Contains("herald: level: Level 'owner' is not one of: view, edit, admin.", bad.Error, StringComparison.Ordinal);
        Assert.EndsWith("herald: The access entry is not valid; nothing was saved.\n", bad.Error, StringComparison.Ordinal);
        Assert.Matches(@"user:alice\s+admin\s+set here\n", list);
        Assert.Matches(@"group:hr-staff\s+edit\s+inherited from /hr\n", list);

        await MustAsync("access", "revoke", "--scope", "/hr", "--principal", "group:hr-staff");
        Assert.DoesNotContain("hr-staff", (await MustAsync("access", "list", "--scope", "/hr/payroll")).Output, StringComparison.Ordinal);
        var again = await _herald.RunAsync("access", "revoke", "--scope", "/hr", "--principal", "group:hr-staff");
        Assert.Contains("herald: Scope /hr has no entry of its own for group:hr-staff.", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_directory_file_is_imported_whole_or_not_at_all()
    {
        var csv = Path.Combine(_herald.DataDirectory, "people.csv");
        await File.WriteAllTextAsync(csv, "kind,id,name,email,time_zone,language,members,alias,delivery\n"
            + "group,team,Team,,,,user:alice;user:bob,,\n"
            + "user,alice,Alice,alice@example.org,Asia/Tokyo,ja,,,\n"
            + "user,bob,Bob,bob at example.org,,,,,\n", TestContext.Current.CancellationToken);
        var json = Path.Combine(_herald.DataDirectory, "people.json");
        await File.WriteAllTextAsync(json, """
            {"users": [{"id": "alice", "name": "Alice", "email": "alice@example.org", "timeZone": "Asia/Tokyo", "language": "ja"},
                       {"id": "bob", "name": "Bob", "email": "bob@example.org"}],
             "groups": [{"id": "team", "name": "Team", "members": ["user:alice", "user:bob"]}]}
            """, TestContext.Current.CancellationToken);

        var bad = await _herald.RunAsync("directory", "import", csv);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("line 4.email:", bad.Error, StringComparison.Ordinal);
        Assert.Equal("", (await MustAsync("user", "list")).Output);

        var imported = await MustAsync("directory", "import", json);
        Assert.Contains("users 2 added, 0 changed; groups 1 added, 0 changed", imported.Output, StringComparison.Ordinal);
        Assert.Matches(@"alice\s+Alice\s+alice@example.org\s+Asia/Tokyo\s+ja", (await MustAsync("user", "list")).Output);
        Assert.Equal(2, (await MustAsync("group", "members", "team", "--expand")).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("neither .csv nor .json", (await _herald.RunAsync("directory", "import", "people.txt")).Error, StringComparison.Ordinal);
    }

    public void Dispose() => _herald.Dispose();
}
