using System.CommandLine;
using System.Globalization;
using Herald.Access;
using Herald.Bounces;
using Herald.Scopes;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald bounce-mailbox set|show|remove|read</c>: a scope's bounce mailbox, through
/// <see cref="BounceMailboxService"/> as the local operator; <c>read</c> reads it once now, as
/// <c>herald serve</c> does continuously.</summary>
internal static class BounceCommands
{
    public static Command Create(CliConsole console)
    {
        Option<string> Scope() => new("--scope") { Description = "The scope whose bounce mailbox it is (default /).", DefaultValueFactory = _ => "/" };

        var setScope = Scope();
        var protocol = new Option<string?>("--protocol") { Description = "imap or pop3." };
        var host = new Option<string?>("--host") { Description = "The mail server." };
        var port = new Option<int?>("--port") { Description = "Its port (default 993 for IMAP, 995 for POP3 with implicit TLS; 143 and 110 otherwise)." };
        var security = new Option<string?>("--security") { Description = "implicit-tls (default), starttls, or none (the password in the clear: a server on this host only)." };
        var domain = new Option<string?>("--domain") { Description = "The bounce domain: messages of the scope are sent with MAIL FROM bounces+TOKEN@domain, and mail to it must reach this mailbox." };
        var folder = new Option<string?>("--folder") { Description = "IMAP: the folder to read (default INBOX)." };
        var user = new Option<string?>("--user") { Description = "The mailbox's user name (sealed, never shown)." };
        var trustCa = new Option<string?>("--trust-ca") { Description = "Trust only server certificates issued by this CA (PEM file); 'system' returns to the system store." };
        var trustThumbprint = new Option<string?>("--trust-thumbprint") { Description = "Trust only the server certificate with this SHA-256 thumbprint." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input." };
        var set = new Command("set", "Add or change a scope's bounce mailbox; options left out keep their values. The password is prompted for (or read from standard input), sealed, and never shown.")
        {
            setScope, protocol, host, port, security, domain, folder, user, trustCa, trustThumbprint, passwordStdin,
        };
        set.SetNodeAction(console, async (node, parse, ct) =>
        {
            var service = node.GetRequiredService<BounceMailboxService>();
            string? password = null;
            if (parse.GetValue(passwordStdin)
                || (console.InteractiveInput && (await service.ShowAsync(Caller.Operator, parse.GetValue(setScope), ct)).Value is null))
            {
                password = console.ReadSecret("Mailbox password: ");
                if (password is null)
                {
                    return console.Fail("No password was given; nothing was saved.");
                }
            }

            string? caPem = null;
            var ca = parse.GetValue(trustCa);
            if (ca is not null && ca != "system")
            {
                try
                {
                    caPem = await File.ReadAllTextAsync(ca, ct);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return console.Fail(Refusal.Invalid("trustCa", $"Cannot read the CA file: {ex.Message}"));
                }
            }

            var saved = await service.SetAsync(Caller.Operator, new BounceMailboxUpdate(
                parse.GetValue(setScope), parse.GetValue(protocol), parse.GetValue(host), parse.GetValue(port), parse.GetValue(security),
                parse.GetValue(domain), parse.GetValue(folder), parse.GetValue(user), password, caPem, parse.GetValue(trustThumbprint), ca == "system"), ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"{(saved.Value!.Created ? "Added" : "Changed")}: {Line(saved.Value.Value)}");
            return 0;
        });

        var showScope = Scope();
        var show = new Command("show", "Show a scope's bounce mailbox (its user name and password only as set or not).") { showScope };
        show.SetNodeAction(console, async (node, parse, ct) =>
        {
            var shown = await node.GetRequiredService<BounceMailboxService>().ShowAsync(Caller.Operator, parse.GetValue(showScope), ct);
            if (shown.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var view = shown.Value!;
            console.Out.WriteLine(Line(view));
            console.Out.WriteLine($"  last read: {(view.LastReadAt is { } at ? at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "never")}{(view.LastOutcome is { } outcome ? $": {outcome}" : "")}");
            return 0;
        });

        var removeScope = Scope();
        var remove = new Command("remove", "Remove a scope's bounce mailbox and its secrets; its messages are sent with the configured envelope sender again.") { removeScope };
        remove.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (await node.GetRequiredService<BounceMailboxService>().RemoveAsync(Caller.Operator, parse.GetValue(removeScope), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Removed the bounce mailbox of {parse.GetValue(removeScope)}.");
            return 0;
        });

        var readScope = Scope();
        var read = new Command("read", "Read a scope's bounce mailbox once, now (herald serve reads it continuously), and say what it found.") { readScope };
        read.SetNodeAction(console, async (node, parse, ct) =>
        {
            var read = await node.GetRequiredService<BounceMailboxService>().ReadNowAsync(Caller.Operator, parse.GetValue(readScope), ct);
            if (read.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            if (read.Value!.Problem is { } problem)
            {
                return console.Fail(problem);
            }

            console.Out.WriteLine(read.Value.Summary);
            return 0;
        });

        return new Command("bounce-mailbox", "The mailbox DSNs and complaints for a scope's mail arrive in.") { set, show, remove, read };
    }

    private static string Line(BounceMailboxView view) =>
        $"{view.Scope}  {view.Protocol}://{view.Host}:{view.Port} ({view.Security}, trust {view.Trust}, folder {view.Folder})  bounce domain {view.Domain}  user name {(view.UserNameSet ? "set" : "not set")}, password {(view.PasswordSet ? "set" : "not set")}";
}
