using System.CommandLine;
using Herald.Access;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald smtp set|show|reset</c>: a scope's outgoing email settings and its SMTP
/// connection, in the spirit of TFSConfig ConfigureMail; <c>herald smtp connection
/// list|show|set|remove</c>: the connections themselves, each owned by a scope. A flag left out
/// keeps the stored value. The verbs translate flags; <see cref="OutgoingSettingsService"/> decides.</summary>
internal static class SmtpCommands
{
    private static readonly Option<string> Scope = new("--scope") { Description = "Scope path (default /).", DefaultValueFactory = _ => "/" };

    public static Command Create(CliConsole console) =>
        new("smtp", "Outgoing email settings per scope, and SMTP connections.")
        {
            CreateSet(console), CreateShow(console), CreateReset(console), ConnectionCommands.Create(console),
        };

    public static string Describe(SmtpAuthentication authentication) => authentication switch
    {
        { IsAnonymous: true } => "anonymous",
        { Kerberos: { } kerberos } => $"Kerberos (GSSAPI) as {kerberos.ClientPrincipal(authentication.UserName!)}",
        { OAuth: { } oauth } => $"OAuth 2.0 ({OAuthNames.Providers.NameOf(oauth.Provider)}, {(authentication.Mechanisms.Count == 0 ? "XOAUTH2 or OAUTHBEARER" : string.Join("/", authentication.Mechanisms))}) for mailbox {authentication.UserName}",
        _ => $"{(authentication.Mechanisms.Count == 0 ? "any mechanism" : string.Join("/", authentication.Mechanisms))} as {authentication.UserName}, password {(authentication.Password is null ? "not set" : "set")}",
    };

    private static Command CreateSet(CliConsole console)
    {
        var connection = new Option<string?>("--connection") { Description = "SMTP connection the scope uses: NAME (the nearest owned by the scope or above) or /SCOPE:NAME. With connection flags and none named: the one the scope uses, or its own 'default'." };
        var fields = new ConnectionFlags();
        var enabled = new Option<string?>("--enabled") { Description = $"true or false: whether the scope sends email. Turned off, {Herald.Settings.OutgoingSettingsCache.TurnedOffMeans}." };
        var from = new Option<string?>("--from") { Description = "From address." };
        var fromName = new Option<string?>("--from-name") { Description = "From display name." };
        var replyTo = new Option<string?>("--reply-to") { Description = "Reply-To address." };
        var charset = new Option<string?>("--charset") { Description = "Character set of subjects and bodies (utf-8, iso-8859-1, shift_jis, iso-2022-jp, gb2312…)." };
        var impersonation = new Option<string?>("--impersonation") { Description = "never | allowed: may a notification carry a user's address in From." };

        var command = new Command("set", "Change a scope's outgoing email settings (and the connection it uses); flags left out keep their stored values.")
        {
            Scope, connection, enabled, from, fromName, replyTo, charset, impersonation,
        };
        fields.AddTo(command);

        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(Scope), out var scope, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            var errors = new List<string>();
            var update = new OutgoingSettingsUpdate(scope)
            {
                Connection = parse.GetValue(connection),
                ConnectionChange = fields.Read(parse, console, errors),
                FromAddress = parse.GetValue(from),
                FromName = parse.GetValue(fromName),
                ReplyTo = parse.GetValue(replyTo),
                Charset = parse.GetValue(charset),
                Impersonation = parse.GetValue(impersonation),
            };

            if (parse.GetValue(enabled) is { } enabledText)
            {
                if (bool.TryParse(enabledText, out var flag))
                {
                    update = update with { Enabled = flag };
                }
                else
                {
                    errors.Add($"--enabled takes true or false, not '{enabledText}'.");
                }
            }

            if (errors.Count > 0)
            {
                return FailAll(console, errors);
            }

            var saved = await node.GetRequiredService<OutgoingSettingsService>().ApplyAsync(Caller.Operator, update, ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Saved outgoing email settings for scope {scope}.");
            foreach (var note in saved.Value!.Notes)
            {
                console.Out.WriteLine(note);
            }

            return 0;
        });

        return command;
    }

    /// <summary>Every problem on its own line, the last one saying that nothing was saved.</summary>
    internal static int FailAll(CliConsole console, IReadOnlyList<string> errors)
    {
        foreach (var error in errors.SkipLast(1))
        {
            console.Error.WriteLine($"herald: {error}");
        }

        return console.Fail(errors[^1] + " Nothing was saved.");
    }

    internal static AuthenticationChange? AuthenticationChangeFrom(
        string? auth, string? username, bool passwordFromStdin, CliConsole console, List<string> errors, OAuthChange? oauth = null, KerberosChange? kerberos = null)
    {
        string? password = null;
        if (passwordFromStdin)
        {
            password = console.ReadSecret("SMTP password: ");
            if (password is null)
            {
                errors.Add("--password-stdin was given but standard input held no password.");
                return null;
            }
        }

        var change = AuthenticationChange.FromWords(auth, username, password, out var error, oauth, kerberos);
        if (error is not null)
        {
            errors.Add(error);
        }

        return change;
    }

    internal static ServerTrust? TrustFrom(string? caFile, string? thumbprint, List<string> errors)
    {
        if (caFile is not null && thumbprint is not null)
        {
            errors.Add("Give either --trust-ca or --trust-thumbprint, not both.");
            return null;
        }

        if (string.Equals(caFile, "system", StringComparison.OrdinalIgnoreCase))
        {
            return ServerTrust.System;
        }

        if (caFile is not null)
        {
            if (ServerTrusts.TryPinCaFile(caFile, out var pinnedCa, out var error))
            {
                return pinnedCa;
            }

            errors.Add(error);
        }
        else if (thumbprint is not null)
        {
            if (ServerTrusts.TryPinThumbprint(thumbprint, out var pinnedLeaf, out var error))
            {
                return pinnedLeaf;
            }

            errors.Add(error);
        }

        return null;
    }

    internal static ClientCertificateChange? ClientCertificateFrom(string? path, List<string> errors)
    {
        if (path is null)
        {
            return null;
        }

        if (string.Equals(path, "none", StringComparison.OrdinalIgnoreCase))
        {
            return new ClientCertificateChange.Remove();
        }

        if (!ClientCertificates.TryLoad(path, out var certificate, out var error))
        {
            errors.Add(error);
            return null;
        }

        return new ClientCertificateChange.Replace(certificate);
    }

    private static Command CreateShow(CliConsole console)
    {
        var command = new Command("show", "Show a scope's effective outgoing email settings, each with where it comes from. Secrets are never shown.") { Scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(Scope), out var scope, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            var shown = await node.GetRequiredService<OutgoingSettingsService>().GetAsync(Caller.Operator, scope, ct);
            if (shown.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            var effective = shown.Value!.Effective;
            var output = console.Out;
            output.WriteLine($"Outgoing email settings for scope {scope}");
            Line(output, "enabled", effective.Enabled.Value ? "yes" : $"no ({Herald.Settings.OutgoingSettingsCache.TurnedOffMeans})", effective.Enabled, scope);
            Line(output, "connection", shown.Value.Connection?.Qualified ?? effective.ConnectionId.Value ?? "(none)", effective.ConnectionId, scope);
            Line(output, "from", effective.FromAddress.Value?.Value ?? "(none)", effective.FromAddress, scope);
            Line(output, "from name", effective.FromName.Value ?? "(none)", effective.FromName, scope);
            Line(output, "reply-to", effective.ReplyTo.Value?.Value ?? "(none)", effective.ReplyTo, scope);
            Line(output, "charset", effective.Charset.Value, effective.Charset, scope);
            Line(output, "impersonation", ImpersonationPolicyNames.Values.NameOf(effective.Impersonation.Value), effective.Impersonation, scope);
            if (shown.Value.Connection is { } smtp)
            {
                ConnectionCommands.Describe(output, smtp, await ConnectionCommands.TokenLineAsync(node, smtp, ct));
            }

            return 0;
        });

        return command;
    }

    private static Command CreateReset(CliConsole console)
    {
        var command = new Command("reset", "Remove a scope's own settings so that it inherits everything from its parent again.") { Scope };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(Scope), out var scope, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            var reset = await node.GetRequiredService<OutgoingSettingsService>().ResetAsync(Caller.Operator, scope, ct);
            if (reset.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine(reset.Value
                ? $"Removed the outgoing email settings of scope {scope}; it now inherits from its parent."
                : $"Scope {scope} had no settings of its own.");
            return 0;
        });

        return command;
    }

    private static void Line<T>(TextWriter output, string label, string value, Setting<T> setting, ScopePath scope)
    {
        var origin = setting.DefinedAt is not { } at ? "default" : at == scope ? "set here" : $"inherited from {at}";
        output.WriteLine($"  {label,-19}{value}  ({origin})");
    }

}
