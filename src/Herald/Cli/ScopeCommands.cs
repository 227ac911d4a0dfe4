using System.CommandLine;
using Herald.Access;
using Herald.Scopes;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald scope add|list|remove</c>, by the local operator through <see cref="ScopeService"/>.</summary>
internal static class ScopeCommands
{
    public static Command Create(CliConsole console)
    {
        var path = new Argument<string>("path") { Description = "Scope path, such as /hr or /hr/payroll." };
        var add = new Command("add", "Add a scope under an existing parent.") { path };
        add.SetNodeAction(console, async (node, parse, ct) =>
        {
            var added = await node.GetRequiredService<ScopeService>().AddAsync(Caller.Operator, parse.GetValue(path), ct);
            if (added.Value is not { } scope)
            {
                return console.Fail(added.Refusal!);
            }

            console.Out.WriteLine(scope.Created ? $"Added scope {scope.Value}." : $"Scope {scope.Value} already exists.");
            return 0;
        });

        var list = new Command("list", "List every scope.");
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            foreach (var scope in await node.GetRequiredService<ScopeService>().ListAsync(Caller.Operator, ct))
            {
                console.Out.WriteLine(scope);
            }

            return 0;
        });

        var removePath = new Argument<string>("path") { Description = "Scope path." };
        var remove = new Command("remove", "Remove a scope that has no children, with its settings.") { removePath };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (await node.GetRequiredService<ScopeService>().RemoveAsync(Caller.Operator, parse.GetValue(removePath), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed scope {ScopePath.Parse(parse.GetValue(removePath)!)}.");
            return 0;
        });

        return new Command("scope", "Manage the scope tree (/, /hr, /hr/payroll…).") { add, list, remove };
    }
}
