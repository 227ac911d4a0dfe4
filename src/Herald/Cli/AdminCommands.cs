using System.CommandLine;
using Herald.Access;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald admin create|list|remove|reset-password</c>: the administrators who sign in
/// to the web console. Passwords come from standard input, never from the command line.</summary>
internal static class AdminCommands
{
    public static Command Create(CliConsole console) =>
        new("admin", "Administrators of the web console (passwords are stored hashed).")
        {
            CreateCreate(console), CreateList(console), CreateRemove(console), CreateResetPassword(console),
        };

    private static Command CreateCreate(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The name the administrator signs in with.", Required = true };
        var scope = new Option<string>("--scope") { Description = "The scope they administer, with the scopes below it (default /: everything).", DefaultValueFactory = _ => "/" };
        var command = new Command("create", "Add a console administrator; the password is read from standard input.") { name, scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var password = console.ReadSecret("Password: ");
            var errors = await node.GetRequiredService<AdministratorService>()
                .CreateAsync(parse.GetValue(name), parse.GetValue(scope), password, onlyIfFirst: false, ct);
            if (errors.Count > 0)
            {
                return Fail(console, errors);
            }

            console.Out.WriteLine($"Added administrator {parse.GetValue(name)} of {parse.GetValue(scope)}.");
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
            foreach (var administrator in await node.GetRequiredService<AdministratorService>().ListAsync(ct))
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
            if (!await node.GetRequiredService<AdministratorService>().RemoveAsync(who, ct))
            {
                return console.Fail($"No administrator is named '{who}'.");
            }

            console.Out.WriteLine($"Removed administrator {who}.");
            return 0;
        });
        return command;
    }

    private static Command CreateResetPassword(CliConsole console)
    {
        var name = new Option<string>("--name") { Description = "The administrator whose password to replace.", Required = true };
        var command = new Command("reset-password", "Set a new password (read from standard input) and lift any lock-out.") { name };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var who = parse.GetValue(name)!;
            var errors = await node.GetRequiredService<AdministratorService>().ResetPasswordAsync(who, console.ReadSecret("New password: "), ct);
            if (errors.Count > 0)
            {
                return Fail(console, errors);
            }

            console.Out.WriteLine($"Set a new password for {who}.");
            return 0;
        });
        return command;
    }

    private static int Fail(CliConsole console, IReadOnlyList<FieldError> errors)
    {
        foreach (var error in errors.Skip(1))
        {
            console.Error.WriteLine($"herald: {error.Field}: {error.Message}");
        }

        return console.Fail($"{errors[0].Field}: {errors[0].Message}");
    }
}
