using System.CommandLine;
using Herald.Credentials;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald key set|rotate|status</c>: the application credential key.</summary>
internal static class KeyCommands
{
    public static Command Create(CliConsole console)
    {
        var set = new Command("set", "Give this node the credential key (passphrase read from standard input); the first key set becomes the database's.");
        set.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (console.ReadSecret("Credential key passphrase: ") is not { } passphrase)
            {
                return console.Fail("No passphrase was given on standard input.");
            }

            var (succeeded, message) = await node.GetRequiredService<CredentialKeyAdministration>().SetAsync(passphrase, ct);
            return Report(succeeded, message);
        });

        var rotate = new Command("rotate", "Re-encrypt every secret under a new passphrase (read from standard input), in one transaction.");
        rotate.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (console.ReadSecret("New credential key passphrase: ") is not { } passphrase)
            {
                return console.Fail("No new passphrase was given on standard input.");
            }

            var (succeeded, message) = await node.GetRequiredService<CredentialKeyAdministration>()
                .RotateAsync(node.GetRequiredService<CredentialVault>(), passphrase, ct);
            return Report(succeeded, message);
        });

        var status = new Command("status", "Say whether this node's credential key matches the database's.");
        status.SetNodeAction(console, async (node, parse, ct) =>
        {
            var vault = node.GetRequiredService<CredentialVault>();
            var key = await vault.GetKeyAsync(initializeDatabase: false, ct);
            return key.Key is not null
                ? Report(true, $"The credential key from {vault.Passphrase.Origin} matches this database.")
                : Report(false, key.Problem!);
        });

        return new Command("key", "The application credential key that encrypts secrets at rest.") { set, rotate, status };

        int Report(bool succeeded, string message)
        {
            if (!succeeded)
            {
                return console.Fail(message);
            }

            console.Out.WriteLine(message);
            return 0;
        }
    }
}
