using System.CommandLine;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald scope add|list|remove</c>.</summary>
internal static class ScopeCommands
{
    public static Command Create(CliConsole console)
    {
        var path = new Argument<string>("path") { Description = "Scope path, such as /hr or /hr/payroll." };
        var add = new Command("add", "Add a scope under an existing parent.") { path };
        add.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(path), out var scope, out var error))
            {
                return console.Fail(error);
            }

            var store = node.GetRequiredService<ISettingsStore>();
            if (scope.Parent is { } parent && !await store.ScopeExistsAsync(parent, ct))
            {
                return console.Fail($"Scope '{parent}' does not exist: add it before '{scope}'.");
            }

            console.Out.WriteLine(await store.AddScopeAsync(scope, ct) ? $"Added scope {scope}." : $"Scope {scope} already exists.");
            return 0;
        });

        var list = new Command("list", "List every scope.");
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            foreach (var scope in await node.GetRequiredService<ISettingsStore>().ListScopesAsync(ct))
            {
                console.Out.WriteLine(scope);
            }

            return 0;
        });

        var removePath = new Argument<string>("path") { Description = "Scope path." };
        var remove = new Command("remove", "Remove a scope that has no children, with its settings.") { removePath };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(removePath), out var scope, out var error))
            {
                return console.Fail(error);
            }

            if (scope.IsRoot)
            {
                return console.Fail("The global scope / cannot be removed.");
            }

            var store = node.GetRequiredService<ISettingsStore>();
            if (!await store.ScopeExistsAsync(scope, ct))
            {
                return console.Fail($"Scope '{scope}' does not exist.");
            }

            if (!await store.RemoveScopeAsync(scope, ct))
            {
                return console.Fail($"Scope '{scope}' has child scopes: remove them first.");
            }

            console.Out.WriteLine($"Removed scope {scope}.");
            return 0;
        });

        return new Command("scope", "Manage the scope tree (/, /hr, /hr/payroll…).") { add, list, remove };
    }
}
