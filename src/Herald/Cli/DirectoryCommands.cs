using System.CommandLine;
using Herald.Access;
using Herald.Notifications;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald user …</c>, <c>herald group …</c>, <c>herald access …</c> and
/// <c>herald directory import FILE</c>: the people and groups notifications are for, and who may
/// see what in each scope. A running <c>herald serve</c> sees a change within seconds.</summary>
internal static partial class DirectoryCommands
{
    public static IEnumerable<Command> Create(CliConsole console) =>
    [
        new Command("user", "Users of the directory: who notifications are for.")
        {
            CreateUserSave(console, "add"), CreateUserSave(console, "set"), CreateUserList(console), CreateUserRemove(console),
        },
        new Command("group", "Groups of users and other groups, with an optional alias address.")
        {
            CreateGroupSave(console, "add"), CreateGroupSave(console, "set"), CreateGroupMembers(console), CreateGroupList(console), CreateGroupRemove(console),
        },
        new Command("access", "Access lists: View, Edit or Admin on a scope and every scope below it, for users and groups.")
        {
            CreateGrant(console), CreateRevoke(console), CreateAccessList(console),
        },
        new Command("directory", "The directory as a whole, and its sync from LDAP / Active Directory.")
        {
            CreateImport(console), CreateSync(console),
            new Command("source", "Directory sources: LDAP or Active Directory servers users and groups are synced from (administrators of / only).")
            {
                CreateSourceSet(console), CreateSourceShow(console), CreateSourceRemove(console),
            },
        },
    ];

    private static Command CreateUserSave(CliConsole console, string verb)
    {
        var adding = verb == "add";
        var id = new Argument<string>("id") { Description = "User id: letters, digits, '.', '_', '-' or '@' (often the id in your own system)." };
        var name = new Option<string?>("--name") { Description = "Display name.", Required = adding };
        var email = new Option<string?>("--email") { Description = "Email address notifications go to.", Required = adding };
        var timeZone = new Option<string?>("--time-zone") { Description = "IANA time zone of the user's daily and weekly summaries (default UTC)." };
        var language = new Option<string?>("--language") { Description = "BCP 47 language tag (default en)." };
        var command = new Command(verb, adding ? "Add a user." : "Change a user; options left out keep their values.") { id, name, email, timeZone, language };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var saved = await node.GetRequiredService<DirectoryService>().SaveUserAsync(
                Caller.Operator,
                new UserUpdate(parse.GetValue(id)) { Name = parse.GetValue(name), Email = parse.GetValue(email), TimeZone = parse.GetValue(timeZone), Language = parse.GetValue(language) },
                adding ? SaveMode.Add : SaveMode.Change,
                ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"{(adding ? "Added" : "Changed")} user {Describe(saved.Value!.Value)}");
            return 0;
        });
        return command;
    }

    private static Command CreateUserList(CliConsole console)
    {
        var list = new Command("list", "List the users.");
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var listed = await node.GetRequiredService<DirectoryService>().ListUsersAsync(Caller.Operator, ct);
            foreach (var user in listed.Value ?? [])
            {
                console.Out.WriteLine(Describe(user));
            }

            return listed.Refusal is { } refusal ? console.Fail(refusal) : 0;
        });
        return list;
    }

    private static Command CreateUserRemove(CliConsole console)
    {
        var id = new Argument<string>("id") { Description = "User id." };
        var remove = new Command("remove", "Remove a user with their group memberships and access entries.") { id };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            var userId = parse.GetValue(id)!;
            if (await node.GetRequiredService<DirectoryService>().RemoveUserAsync(Caller.Operator, userId, ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed user {userId}.");
            return 0;
        });
        return remove;
    }

    private static Command CreateGroupSave(CliConsole console, string verb)
    {
        var adding = verb == "add";
        var id = new Argument<string>("id") { Description = "Group id." };
        var name = new Option<string?>("--name") { Description = "Display name.", Required = adding };
        var alias = new Option<string?>("--alias") { Description = "The group's own address (a distribution list); \"\" removes it." };
        var delivery = new Option<string?>("--delivery") { Description = "members (default), alias, or both." };
        var member = new Option<string[]>("--member") { Description = "Member, user:<id> or group:<id>; repeatable; the list replaces the stored one." };
        var noMembers = new Option<bool>("--no-members") { Description = "Remove every member." };
        var scope = new Option<string?>("--scope") { Description = "The scope the group belongs to (default /): its administrators, and those of the scopes above, change it." };
        var command = new Command(verb, adding ? "Add a group; its members must exist." : "Change a group; options left out keep their values.")
        {
            id, name, scope, alias, delivery, member, noMembers,
        };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var members = parse.GetValue(noMembers) ? [] : parse.GetResult(member) is null ? (adding ? [] : null) : parse.GetValue(member);
            var saved = await node.GetRequiredService<DirectoryService>().SaveGroupAsync(
                Caller.Operator,
                new GroupUpdate(parse.GetValue(id)) { Name = parse.GetValue(name), Scope = parse.GetValue(scope), Alias = parse.GetValue(alias), Delivery = parse.GetValue(delivery), Members = members },
                adding ? SaveMode.Add : SaveMode.Change,
                ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"{(adding ? "Added" : "Changed")} group {Describe(saved.Value!.Value)}");
            return 0;
        });
        return command;
    }

    private static Command CreateGroupMembers(CliConsole console)
    {
        var id = new Argument<string>("id") { Description = "Group id." };
        var expand = new Option<bool>("--expand") { Description = "Every user reached through nested groups, each once." };
        var members = new Command("members", "List a group's members.") { id, expand };
        members.SetNodeAction(console, async (node, parse, ct) =>
        {
            var groupId = parse.GetValue(id)!;
            var service = node.GetRequiredService<DirectoryService>();
            if (parse.GetValue(expand))
            {
                var expanded = await service.ExpandGroupAsync(Caller.Operator, groupId, ct);
                foreach (var user in expanded.Value ?? [])
                {
                    console.Out.WriteLine(Describe(user));
                }

                return expanded.Refusal is { } refused ? console.Fail(refused) : 0;
            }

            var found = await service.FindGroupAsync(Caller.Operator, groupId, ct);
            foreach (var principal in found.Value?.Members ?? [])
            {
                console.Out.WriteLine(principal);
            }

            return found.Refusal is { } refusal ? console.Fail(refusal) : 0;
        });
        return members;
    }

    private static Command CreateGroupList(CliConsole console)
    {
        var list = new Command("list", "List the groups.");
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var listed = await node.GetRequiredService<DirectoryService>().ListGroupsAsync(Caller.Operator, ct);
            foreach (var group in listed.Value ?? [])
            {
                console.Out.WriteLine(Describe(group));
            }

            return listed.Refusal is { } refusal ? console.Fail(refusal) : 0;
        });
        return list;
    }

    private static Command CreateGroupRemove(CliConsole console)
    {
        var id = new Argument<string>("id") { Description = "Group id." };
        var remove = new Command("remove", "Remove a group, its place in other groups and its access entries.") { id };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            var groupId = parse.GetValue(id)!;
            if (await node.GetRequiredService<DirectoryService>().RemoveGroupAsync(Caller.Operator, groupId, ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed group {groupId}.");
            return 0;
        });
        return remove;
    }

    private static Option<string> ScopeOption() => new("--scope") { Description = "Scope path, such as /hr.", Required = true };

    private static Option<string> PrincipalOption() => new("--principal") { Description = "user:<id> or group:<id>.", Required = true };

    private static Command CreateGrant(CliConsole console)
    {
        var scope = ScopeOption();
        var principal = PrincipalOption();
        var level = new Option<string>("--level") { Description = "view, edit or admin.", Required = true };
        var grant = new Command("grant", "Grant a user or group a level on a scope and every scope below it; a second grant changes the level.") { scope, principal, level };
        grant.SetNodeAction(console, async (node, parse, ct) =>
        {
            var granted = await node.GetRequiredService<DirectoryService>().GrantAsync(Caller.Operator, parse.GetValue(scope), parse.GetValue(principal), parse.GetValue(level), ct);
            if (granted.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var entry = granted.Value!.Value;
            console.Out.WriteLine($"Granted {AccessLevelNames.Values.NameOf(entry.Level)} on {entry.Scope} to {entry.Principal}.");
            return 0;
        });
        return grant;
    }

    private static Command CreateRevoke(CliConsole console)
    {
        var scope = ScopeOption();
        var principal = PrincipalOption();
        var revoke = new Command("revoke", "Remove a principal's entry from a scope's access list (entries on other scopes stay).") { scope, principal };
        revoke.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (await node.GetRequiredService<DirectoryService>().RevokeAsync(Caller.Operator, parse.GetValue(scope), parse.GetValue(principal), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Revoked {parse.GetValue(principal)} on {parse.GetValue(scope)}.");
            return 0;
        });
        return revoke;
    }

    private static Command CreateAccessList(CliConsole console)
    {
        var scope = ScopeOption();
        var list = new Command("list", "Show what applies on a scope: each principal's level and the scope it comes from.") { scope };
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var described = await node.GetRequiredService<DirectoryService>().DescribeAccessAsync(Caller.Operator, parse.GetValue(scope), ct);
            if (described.Value is not { } access)
            {
                return console.Fail(described.Refusal!);
            }

            foreach (var entry in access.Effective)
            {
                var from = entry.Inherited(access.Scope) ? $"inherited from {entry.From}" : "set here";
                console.Out.WriteLine($"{entry.Principal,-40} {AccessLevelNames.Values.NameOf(entry.Level),-6} {from}");
            }

            return 0;
        });
        return list;
    }

    private static Command CreateImport(CliConsole console)
    {
        var file = new Argument<FileInfo>("file") { Description = "A .csv or .json file (formats in the README, 'Directory')." };
        var import = new Command("import", "Add or replace users and groups from a file, all in one transaction: any error saves nothing.") { file };
        import.SetNodeAction(console, async (node, parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            var extension = path.Extension.ToLowerInvariant();
            if (extension is not (".csv" or ".json"))
            {
                return console.Fail($"'{path.Name}' is neither .csv nor .json: name the file after its format.");
            }

            async Task<DirectoryImport> ReadAsync(CancellationToken cancellationToken)
            {
                try
                {
                    var text = await File.ReadAllTextAsync(path.FullName, cancellationToken);
                    return extension == ".csv" ? DirectoryImport.FromCsv(text) : DirectoryImport.FromJson(text);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return DirectoryImport.Unreadable($"Cannot read '{path.FullName}': {ex.Message}");
                }
            }

            var imported = await node.GetRequiredService<DirectoryService>().ImportAsync(Caller.Operator, ReadAsync, ct);
            if (imported.Value is not { } report)
            {
                return console.Fail(imported.Refusal!);
            }

            console.Out.WriteLine($"Imported {path.Name}: users {report.UsersAdded} added, {report.UsersChanged} changed; groups {report.GroupsAdded} added, {report.GroupsChanged} changed.");
            return 0;
        });
        return import;
    }

    private static string Describe(DirectoryUser u) =>
        $"{u.Id,-24} {u.Name,-30} {u.Email,-32} {u.TimeZone,-20} {u.Language}{Synced(u.Source)}{(u.DisabledAt is { } at ? $" disabled since {at:u}" : "")}";

    private static string Synced(string? source) => source is null ? "" : $" (synced from {source})";

    private static string Describe(DirectoryGroup g) =>
        $"{g.Id,-24} {g.Name,-30} scope {g.Scope}  alias {g.Alias?.Value ?? "(none)"}  delivery {GroupDeliveryNames.Values.NameOf(g.Delivery)}  {g.Members.Count} members{Synced(g.Source)}";
}
