using System.CommandLine;
using Herald.Access;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald admin create|list|remove|reset-password|set-scope</c>: the administrators who
/// sign in to the web console. Passwords come from standard input, never from the command line.
/// Removing an administrator, resetting their password or changing their scope ends their console
/// sessions on every node.</summary>
internal static class AdminCommands
{
    public static Command Create(CliConsole console) =>
        new("admin", "Administrators of the web console (passwords are stored hashed).")
        {
            CreateCreate(console), CreateList(console), CreateRemove(console), CreateResetPassword(console), CreateSetScope(console),
        };

    private static Command CreateCreate(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The name the administrator signs in with.", Required = true };
        var scope = new Option<string>("--scope") { Description = "The scope they administer, with the scopes below it (default /: everything).", DefaultValueFactory = _ => "/" };
        var command = new Command("create", "Add a console administrator; the password is read from standard input.") { name, scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var password = console.ReadSecret("Password: ");
            var created = await node.GetRequiredService<AdministratorService>()
                .CreateAsync(Caller.Operator, parse.GetValue(name), parse.GetValue(scope), password, ct);
            if (created.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Added administrator {created.Value!.Name} of {created.Value.Scope}.");
            return 0;
        });
        return command;
    }

    private static Command CreateList(CliConsole console)
    {
        var command = new Command("list", "List console administrators (never their passwords).");
        command.SetNodeAction(console, async (node, _, ct) =>
        {
            var now = node.GetRequiredService<TimeProvider>().GetUtcNow();
            foreach (var administrator in await node.GetRequiredService<AdministratorService>().ListAsync(Caller.Operator, ct))
            {
                var locked = administrator.LockedUntil is { } until && until > now ? $"  locked until {until:yyyy-MM-dd HH:mm} UTC" : "";
                console.Out.WriteLine($"{administrator.Name,-32} {administrator.Scope,-20} created {administrator.CreatedAt:yyyy-MM-dd HH:mm}{locked}");
            }

            return 0;
        });
        return command;
    }

    private static Command CreateRemove(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The administrator to remove.", Required = true };
        var command = new Command("remove", "Remove a console administrator.") { name };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var who = parse.GetValue(name)!;
            if (await node.GetRequiredService<AdministratorService>().RemoveAsync(Caller.Operator, who, ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed administrator {who}; their console sessions have ended.");
            return 0;
        });
        return command;
    }

    private static Command CreateResetPassword(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The administrator whose password to replace.", Required = true };
        var command = new Command("reset-password", "Set a new password (read from standard input), lift any lock-out and end the administrator's sessions.") { name };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var who = parse.GetValue(name)!;
            var refusal = await node.GetRequiredService<AdministratorService>().ResetPasswordAsync(Caller.Operator, who, console.ReadSecret("New password: "), ct);
            if (refusal is not null)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Set a new password for {who}; their console sessions have ended.");
            return 0;
        });
        return command;
    }

    private static Command CreateSetScope(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The administrator to move.", Required = true };
        var scope = new Option<string>("--scope") { Description = "The scope they administer from now on, with the scopes below it.", Required = true };
        var command = new Command("set-scope", "Make an administrator the administrator of another scope; their sessions end.") { name, scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var who = parse.GetValue(name)!;
            if (await node.GetRequiredService<AdministratorService>().SetScopeAsync(Caller.Operator, who, parse.GetValue(scope), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"{who} now administers {Scopes.ScopePath.Parse(parse.GetValue(scope)!)}; their console sessions have ended.");
            return 0;
        });
        return command;
    }
}
