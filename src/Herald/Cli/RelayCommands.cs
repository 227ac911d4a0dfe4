using System.CommandLine;
using Herald.Access;
using Herald.Relay;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald relay set|list|remove</c> and <c>herald relay account add|list|remove</c>:
/// the relay listeners' access policy and the accounts for SMTP AUTH. A running
/// <c>herald serve</c> applies a change within seconds, without a restart.</summary>
internal static class RelayCommands
{
    private static readonly Option<string> Listen = new("--listen") { Description = "Listen endpoint: 127.0.0.1:2525 or [::1]:2525.", Required = true };

    public static Command Create(CliConsole console) =>
        new("relay", "The SMTP relay listener for applications: who may send, and as whom.")
        {
            CreateSet(console), CreateList(console), CreateRemove(console),
            new Command("account", "Relay accounts for SMTP AUTH (passwords are stored hashed).") { CreateAccountAdd(console), CreateAccountList(console), CreateAccountRemove(console) },
        };

    public static string Describe(RelayListenerSettings l)
    {
        var entries = l.Entries.Count == 0 ? "(no entries)" : string.Join(", ", l.Entries);
        var senders = l.SenderDomains.Count == 0 ? "any" : string.Join(", ", l.SenderDomains);
        var recipients = l.RecipientDomains.Count == 0 ? "any" : string.Join(", ", l.RecipientDomains);
        return $"{l.Listen}  scope {l.Scope}  {RelayAccessModeNames.Values.NameOf(l.Access)}: {entries}  auth {RelayAuthModeNames.Values.NameOf(l.Auth)}"
            + (l.AuthWithoutTls ? " (also without TLS)" : "") + $"  sender domains: {senders}  recipient domains: {recipients}";
    }

    private static Command CreateSet(CliConsole console)
    {
        var scope = new Option<string?>("--scope") { Description = "Scope the listener's mail goes into (default / for a new listener)." };
        var access = new Option<string?>("--access") { Description = "only-list (only the clients listed with --allow) or all-except (all but those listed with --deny)." };
        var allow = new Option<string[]>("--allow") { Description = "Allowed client: IP address, CIDR subnet or domain (forward-confirmed reverse DNS); repeatable." };
        var deny = new Option<string[]>("--deny") { Description = "Refused client, as for --allow; repeatable." };
        var auth = new Option<string?>("--auth") { Description = "none (anonymous submission) or required (AUTH with a relay account)." };
        var senderDomain = new Option<string[]>("--sender-domain") { Description = "Only senders in this domain; repeatable." };
        var anySender = new Option<bool>("--any-sender-domain") { Description = "Remove the sender domain list." };
        var recipientDomain = new Option<string[]>("--recipient-domain") { Description = "Only recipients in this domain; repeatable." };
        var anyRecipient = new Option<bool>("--any-recipient-domain") { Description = "Remove the recipient domain list." };
        var authWithoutTls = new Option<bool?>("--auth-without-tls") { Description = "Offer AUTH before STARTTLS too (true or false; off by default)." };
        var command = new Command("set", "Add or change a relay listener; flags left out keep their stored values, a list given replaces the stored one.")
        {
            Listen, scope, access, allow, deny, auth, senderDomain, anySender, recipientDomain, anyRecipient, authWithoutTls,
        };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var allowGiven = parse.GetResult(allow) is not null;
            var denyGiven = parse.GetResult(deny) is not null;
            var accessText = parse.GetValue(access) ?? (allowGiven ? "only-list" : denyGiven ? "all-except" : null);
            if (allowGiven && denyGiven)
            {
                return console.Fail("Give --allow (with --access only-list) or --deny (with --access all-except), not both. Nothing was saved.");
            }

            if (RelayAccessModeNames.Values.TryParse(accessText, out var mode)
                && ((mode == RelayAccessMode.OnlyList && denyGiven) || (mode == RelayAccessMode.AllExcept && allowGiven)))
            {
                return console.Fail($"--access {accessText} takes its list with {(mode == RelayAccessMode.OnlyList ? "--allow" : "--deny")}. Nothing was saved.");
            }

            var update = new RelayListenerUpdate(parse.GetValue(Listen))
            {
                Scope = parse.GetValue(scope),
                Access = accessText,
                Entries = allowGiven ? parse.GetValue(allow) : denyGiven ? parse.GetValue(deny) : null,
                Auth = parse.GetValue(auth),
                SenderDomains = parse.GetValue(anySender) ? [] : parse.GetResult(senderDomain) is null ? null : parse.GetValue(senderDomain),
                RecipientDomains = parse.GetValue(anyRecipient) ? [] : parse.GetResult(recipientDomain) is null ? null : parse.GetValue(recipientDomain),
                AuthWithoutTls = parse.GetValue(authWithoutTls),
            };
            var result = await node.GetRequiredService<RelaySettingsService>().SaveListenerAsync(Caller.Operator, update, isNew: null, ct);
            if (result.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var saved = result.Value!.Listener;
            console.Out.WriteLine($"Saved relay listener {Describe(saved)}");
            if (saved.Access == RelayAccessMode.OnlyList && saved.Entries.Count == 0)
            {
                console.Error.WriteLine("herald: warning: the access list is empty, so every client is refused; add clients with --allow.");
            }

            return 0;
        });
        return command;
    }

    private static Command CreateList(CliConsole console)
    {
        var list = new Command("list", "List the relay listeners.");
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var listed = await node.GetRequiredService<RelaySettingsService>().ListListenersAsync(Caller.Operator, ct);
            if (listed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var view in listed.Value!)
            {
                console.Out.WriteLine(Describe(view.Listener) + (view.Stored ? "" : "  (the implied default; 'herald relay remove' stops it)"));
            }

            return 0;
        });
        return list;
    }

    private static Command CreateRemove(CliConsole console)
    {
        var remove = new Command("remove", "Remove a relay listener, the implied default included; herald serve stops listening there within seconds.") { Listen };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            var removed = await node.GetRequiredService<RelaySettingsService>().RemoveListenerAsync(Caller.Operator, parse.GetValue(Listen), ct);
            if (removed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed relay listener {removed.Value!.Listen}.");
            return 0;
        });
        return remove;
    }

    private static Command CreateAccountAdd(CliConsole console)
    {
        var scope = new Option<string>("--scope") { Description = "Scope of the account: usable on listeners of this scope and the scopes below.", Required = true };
        var user = new Option<string>("--user") { Description = "User name for SMTP AUTH.", Required = true };
        var passwordFile = new Option<FileInfo?>("--password-file") { Description = "Read the password from the first line of this file (default: standard input)." };
        var add = new Command("add", "Add a relay account, or set its password and scope; the password is read from standard input or a file, never from the command line.")
        {
            scope, user, passwordFile,
        };
        add.SetNodeAction(console, async (node, parse, ct) =>
        {
            string? password;
            if (parse.GetValue(passwordFile) is { } file)
            {
                try
                {
                    password = (await File.ReadAllLinesAsync(file.FullName, ct)).FirstOrDefault();
                }
                catch (IOException ex)
                {
                    return console.Fail($"Cannot read the password file: {ex.Message}");
                }
            }
            else
            {
                password = console.ReadSecret("Relay account password: ");
            }

            var saved = await node.GetRequiredService<RelaySettingsService>().SaveAccountAsync(Caller.Operator, parse.GetValue(scope), parse.GetValue(user), password, ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var account = saved.Value!.Account;
            console.Out.WriteLine(saved.Value.Created ? $"Added relay account {account.UserName}." : $"Changed relay account {account.UserName}.");
            return 0;
        });
        return add;
    }

    private static Command CreateAccountList(CliConsole console)
    {
        var list = new Command("list", "List relay accounts (never their passwords).");
        list.SetNodeAction(console, async (node, parse, ct) =>
        {
            var listed = await node.GetRequiredService<RelaySettingsService>().ListAccountsAsync(Caller.Operator, ct);
            if (listed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            foreach (var account in listed.Value!)
            {
                console.Out.WriteLine($"{account.UserName,-32} {account.Scope,-20} created {account.CreatedAt:yyyy-MM-dd HH:mm}");
            }

            return 0;
        });
        return list;
    }

    private static Command CreateAccountRemove(CliConsole console)
    {
        var user = new Option<string>("--user") { Description = "User name.", Required = true };
        var remove = new Command("remove", "Remove a relay account.") { user };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            var removed = await node.GetRequiredService<RelaySettingsService>().RemoveAccountAsync(Caller.Operator, parse.GetValue(user), ct);
            if (removed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed relay account {removed.Value!.UserName}.");
            return 0;
        });
        return remove;
    }
}
