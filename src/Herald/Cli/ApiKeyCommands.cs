using System.CommandLine;
using Herald.Access;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald apikey create|list|revoke</c>, by the local operator through <see cref="ApiKeyService"/>.</summary>
internal static class ApiKeyCommands
{
    public static Command Create(CliConsole console)
    {
        var scope = new Option<string>("--scope") { Description = "Scope the key is limited to (and its children).", Required = true };
        var role = new Option<string>("--role") { Description = "admin (administer the scope) or sender (send into it).", Required = true };
        var name = new Option<string?>("--name") { Description = "What the key is for, shown in listings." };
        var create = new Command("create", "Create an API key; it is printed once, alone on the last line.") { scope, role, name };
        create.SetNodeAction(console, async (node, parse, ct) =>
        {
            var created = await node.GetRequiredService<ApiKeyService>().CreateAsync(Caller.Operator, parse.GetValue(scope), parse.GetValue(role), parse.GetValue(name), ct);
            if (created.Value is not { } key)
            {
                return console.Fail(created.Refusal!);
            }

            console.Out.WriteLine($"Created API key {key.Key.Id}: {ApiKeyRoleNames.Values.NameOf(key.Key.Role)} of {key.Key.Scope}. Store it now; it is not shown again:");
            console.Out.WriteLine(key.Token);
            return 0;
        });

        var list = new Command("list", "List API keys (never their secrets).");
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            foreach (var key in await node.GetRequiredService<ApiKeyService>().ListAsync(Caller.Operator, ct))
            {
                var status = key.RevokedAt is { } revoked ? $"revoked {revoked:yyyy-MM-dd HH:mm}" : "active";
                console.Out.WriteLine($"{key.Id}  {ApiKeyRoleNames.Values.NameOf(key.Role),-7} {key.Scope,-20} {status,-24} {key.Name}");
            }

            return 0;
        });

        var id = new Argument<string>("id") { Description = "The key's id (the part after hrk_, as listed)." };
        var revoke = new Command("revoke", "Revoke an API key; it stops working within seconds on every node.") { id };
        revoke.SetNodeAction(console, async (node, parse, ct) =>
        {
            var keyId = parse.GetValue(id)!;
            if (await node.GetRequiredService<ApiKeyService>().RevokeAsync(Caller.Operator, keyId, ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Revoked API key {keyId}.");
            return 0;
        });

        return new Command("apikey", "API keys for programs: administrator or sender of a scope.") { create, list, revoke };
    }
}
