using System.CommandLine;
using System.Globalization;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald smtp set|show|reset</c>: a scope's outgoing email settings and its SMTP
/// connection, in the spirit of TFSConfig ConfigureMail. A flag left out keeps the stored value.</summary>
internal static class SmtpCommands
{
    private static readonly Option<string> Scope = new("--scope") { Description = "Scope path (default /).", DefaultValueFactory = _ => "/" };

    public static Command Create(CliConsole console) =>
        new("smtp", "Outgoing email settings per scope.") { CreateSet(console), CreateShow(console), CreateReset(console) };

    public static string Describe(SmtpAuthentication authentication) => authentication.IsAnonymous
        ? "anonymous"
        : $"{(authentication.Mechanisms.Count == 0 ? "any mechanism" : string.Join("/", authentication.Mechanisms))} as {authentication.UserName}, password {(authentication.Password is null ? "not set" : "set")}";

    private static Command CreateSet(CliConsole console)
    {
        var connection = new Option<string?>("--connection") { Description = "Named SMTP connection the scope uses (default: the scope's own)." };
        var server = new Option<string?>("--server") { Description = "Smart host name or IP address." };
        var port = new Option<string?>("--port") { Description = "Port (25 when not given)." };
        var security = new Option<string?>("--security") { Description = "none | starttls-when-available | starttls-required | implicit-tls." };
        var auth = new Option<string?>("--auth") { Description = "anonymous (removes stored credentials), any, or SASL mechanisms: plain, login, cram-md5, scram-sha-256, ntlm, gssapi, xoauth2 (comma-separated)." };
        var username = new Option<string?>("--username") { Description = "SASL user name." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the SASL password (or XOAUTH2 token) from standard input." };
        var clientCert = new Option<string?>("--client-cert") { Description = "Client certificate: PEM file with certificate and key, or PKCS#12 file; 'none' removes it." };
        var trustCa = new Option<string?>("--trust-ca") { Description = "Trust only server certificates issued by this CA (PEM file); 'system' returns to the system store." };
        var trustThumbprint = new Option<string?>("--trust-thumbprint") { Description = "Trust only the server certificate with this SHA-256 thumbprint." };
        var connectTimeout = new Option<string?>("--connect-timeout") { Description = "Seconds to wait for a connection." };
        var commandTimeout = new Option<string?>("--command-timeout") { Description = "Seconds to wait for each SMTP reply." };
        var connectionLimit = new Option<string?>("--connection-limit") { Description = "Most simultaneous connections." };
        var rateLimit = new Option<string?>("--rate-limit") { Description = "Most messages per minute (0: no limit)." };
        var nodeTags = new Option<string?>("--node-tags") { Description = "Comma-separated tags of the nodes that may use this connection ('' for any)." };
        var enabled = new Option<string?>("--enabled") { Description = "true or false: whether the scope sends email at all." };
        var from = new Option<string?>("--from") { Description = "From address." };
        var fromName = new Option<string?>("--from-name") { Description = "From display name." };
        var replyTo = new Option<string?>("--reply-to") { Description = "Reply-To address." };
        var charset = new Option<string?>("--charset") { Description = "Character set of subjects and bodies (utf-8, iso-8859-1, shift_jis, iso-2022-jp, gb2312…)." };
        var impersonation = new Option<string?>("--impersonation") { Description = "never | allowed: may a notification carry a user's address in From." };

        var command = new Command("set", "Change a scope's outgoing email settings; flags left out keep their stored values.")
        {
            Scope, connection, server, port, security, auth, username, passwordStdin, clientCert, trustCa, trustThumbprint,
            connectTimeout, commandTimeout, connectionLimit, rateLimit, nodeTags, enabled, from, fromName, replyTo, charset, impersonation,
        };

        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var errors = new List<string>();
            if (!ScopePath.TryParse(parse.GetValue(Scope), out var scope, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            int? Number(Option<string?> option, string what)
            {
                var text = parse.GetValue(option);
                if (text is null)
                {
                    return null;
                }

                if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                {
                    return value;
                }

                errors.Add($"{what} '{text}' is not a whole number.");
                return null;
            }

            TimeSpan? Seconds(Option<string?> option, string what) => Number(option, what) is { } s ? TimeSpan.FromSeconds(s) : null;

            var update = new OutgoingSettingsUpdate(scope)
            {
                ConnectionName = parse.GetValue(connection),
                Host = parse.GetValue(server),
                Port = Number(port, "Port"),
                Security = parse.GetValue(security),
                ConnectTimeout = Seconds(connectTimeout, "Connect timeout"),
                CommandTimeout = Seconds(commandTimeout, "Command timeout"),
                ConnectionLimit = Number(connectionLimit, "Connection limit"),
                RateLimitPerMinute = Number(rateLimit, "Rate limit"),
                NodeTags = parse.GetValue(nodeTags)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
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

            update = update with { Authentication = AuthenticationChangeFrom(parse.GetValue(auth), parse.GetValue(username), parse.GetValue(passwordStdin), console, errors) };
            update = update with { Trust = TrustFrom(parse.GetValue(trustCa), parse.GetValue(trustThumbprint), errors) };
            update = update with { ClientCertificate = ClientCertificateFrom(parse.GetValue(clientCert), errors) };

            if (errors.Count == 0)
            {
                var rejected = await node.GetRequiredService<OutgoingSettingsService>().ApplyAsync(update, ct);
                errors.AddRange(rejected.Select(e => e.Message));
            }

            if (errors.Count > 0)
            {
                foreach (var error in errors.SkipLast(1))
                {
                    console.Error.WriteLine($"herald: {error}");
                }

                return console.Fail(errors[^1] + " Nothing was saved.");
            }

            console.Out.WriteLine($"Saved outgoing email settings for scope {scope}.");
            return 0;
        });

        return command;
    }

    private static AuthenticationChange? AuthenticationChangeFrom(string? auth, string? username, bool passwordFromStdin, CliConsole console, List<string> errors)
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

        var change = AuthenticationChange.FromWords(auth, username, password, out var error);
        if (error is not null)
        {
            errors.Add(error);
        }

        return change;
    }

    private static ServerTrust? TrustFrom(string? caFile, string? thumbprint, List<string> errors)
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

    private static ClientCertificateChange? ClientCertificateFrom(string? path, List<string> errors)
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

            var effective = await node.GetRequiredService<OutgoingSettingsService>().GetEffectiveAsync(scope, ct);
            if (effective is null)
            {
                return console.Fail(OutgoingSettingsService.ScopeMissing(scope).Message);
            }

            var output = console.Out;
            output.WriteLine($"Outgoing email settings for scope {scope}");
            Line(output, "enabled", effective.Enabled.Value ? "yes" : "no", effective.Enabled, scope);
            Line(output, "connection", effective.ConnectionName.Value ?? "(none)", effective.ConnectionName, scope);
            Line(output, "from", effective.FromAddress.Value?.Value ?? "(none)", effective.FromAddress, scope);
            Line(output, "from name", effective.FromName.Value ?? "(none)", effective.FromName, scope);
            Line(output, "reply-to", effective.ReplyTo.Value?.Value ?? "(none)", effective.ReplyTo, scope);
            Line(output, "charset", effective.Charset.Value, effective.Charset, scope);
            Line(output, "impersonation", ImpersonationPolicyNames.Values.NameOf(effective.Impersonation.Value), effective.Impersonation, scope);

            if (effective.ConnectionName.Value is { } name
                && await node.GetRequiredService<ISettingsStore>().GetConnectionAsync(name, ct) is { } smtp)
            {
                output.WriteLine($"SMTP connection '{smtp.Name}'");
                Pair(output, "server", $"{smtp.Host}:{smtp.Port}");
                Pair(output, "security", SmtpSecurityNames.Values.NameOf(smtp.Security));
                Pair(output, "authentication", Describe(smtp.Authentication));
                Pair(output, "client certificate", smtp.ClientCertificate is { } cert
                    ? $"{cert.Subject} (SHA-256 {cert.Thumbprint}, valid until {cert.NotAfter:yyyy-MM-dd})"
                    : "(none)");
                Pair(output, "server trust", smtp.Trust.Mode switch
                {
                    ServerTrustMode.PinnedCa => "pinned CA " + CaSubject(smtp.Trust.CaPem!),
                    ServerTrustMode.PinnedThumbprint => "pinned certificate SHA-256 " + smtp.Trust.Thumbprint,
                    _ => "system certificate store",
                });
                Pair(output, "timeouts", $"connect {smtp.ConnectTimeout.TotalSeconds:0} s, command {smtp.CommandTimeout.TotalSeconds:0} s");
                Pair(output, "connection limit", smtp.ConnectionLimit.ToString(CultureInfo.InvariantCulture));
                Pair(output, "rate limit", smtp.RateLimitPerMinute is { } rate ? $"{rate} messages/minute" : "none");
                Pair(output, "node tags", smtp.NodeTags.Count == 0 ? "any node" : string.Join(", ", smtp.NodeTags));
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

            var (removed, error) = await node.GetRequiredService<OutgoingSettingsService>().ResetAsync(scope, ct);
            if (error is not null)
            {
                return console.Fail(error.Message);
            }

            console.Out.WriteLine(removed
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

    private static void Pair(TextWriter output, string label, string value) => output.WriteLine($"  {label,-19}{value}");

    private static string CaSubject(string pem)
    {
        using var ca = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
        return ca.Subject;
    }
}
