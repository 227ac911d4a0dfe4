using System.CommandLine;
using System.Globalization;
using Herald.Access;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary>The flags that describe an SMTP connection, shared by <c>smtp set</c> and
/// <c>smtp connection set</c>; read into a <see cref="ConnectionUpdate"/> (a flag left out keeps
/// the stored value).</summary>
internal sealed class ConnectionFlags
{
    private readonly Option<string?> _server = new("--server") { Description = "Smart host name or IP address." };
    private readonly Option<string?> _port = new("--port") { Description = "Port (25 when not given)." };
    private readonly Option<string?> _security = new("--security") { Description = "none | starttls-when-available | starttls-required | implicit-tls." };
    private readonly Option<string?> _auth = new("--auth") { Description = "anonymous (removes stored credentials), any, or SASL mechanisms: plain, login, cram-md5, scram-sha-256, ntlm, gssapi, xoauth2 (comma-separated)." };
    private readonly Option<string?> _username = new("--username") { Description = "SASL user name." };
    private readonly Option<bool> _passwordStdin = new("--password-stdin") { Description = "Read the SASL password (or XOAUTH2 token) from standard input." };
    private readonly Option<string?> _clientCert = new("--client-cert") { Description = "Client certificate: PEM file with certificate and key, or PKCS#12 file; 'none' removes it." };
    private readonly Option<string?> _trustCa = new("--trust-ca") { Description = "Trust only server certificates issued by this CA (PEM file); 'system' returns to the system store." };
    private readonly Option<string?> _trustThumbprint = new("--trust-thumbprint") { Description = "Trust only the server certificate with this SHA-256 thumbprint." };
    private readonly Option<string?> _connectTimeout = new("--connect-timeout") { Description = "Seconds to wait for a connection." };
    private readonly Option<string?> _commandTimeout = new("--command-timeout") { Description = "Seconds to wait for each SMTP reply." };
    private readonly Option<string?> _connectionLimit = new("--connection-limit") { Description = "Most simultaneous connections." };
    private readonly Option<string?> _rateLimit = new("--rate-limit") { Description = "Most messages per minute (0: no limit)." };
    private readonly Option<string?> _nodeTags = new("--node-tags") { Description = "Comma-separated tags of the nodes that may use this connection ('' for any)." };
    private readonly Option<string?> _allowPlaintextAuth = new("--allow-plaintext-auth") { Description = "true or false: may the password cross an unencrypted connection (a smart host on this machine)." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[]
        {
            _server, _port, _security, _auth, _username, _passwordStdin, _clientCert, _trustCa, _trustThumbprint,
            _connectTimeout, _commandTimeout, _connectionLimit, _rateLimit, _nodeTags, _allowPlaintextAuth,
        })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The change the flags describe; what cannot even be read (a number, a file) goes to <paramref name="errors"/>.</summary>
    public ConnectionUpdate Read(ParseResult parse, CliConsole console, List<string> errors)
    {
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

        bool? allowPlaintext = null;
        if (parse.GetValue(_allowPlaintextAuth) is { } text)
        {
            if (bool.TryParse(text, out var flag))
            {
                allowPlaintext = flag;
            }
            else
            {
                errors.Add($"--allow-plaintext-auth takes true or false, not '{text}'.");
            }
        }

        return new ConnectionUpdate
        {
            Host = parse.GetValue(_server),
            Port = Number(_port, "Port"),
            Security = parse.GetValue(_security),
            ConnectTimeout = Seconds(_connectTimeout, "Connect timeout"),
            CommandTimeout = Seconds(_commandTimeout, "Command timeout"),
            ConnectionLimit = Number(_connectionLimit, "Connection limit"),
            RateLimitPerMinute = Number(_rateLimit, "Rate limit"),
            NodeTags = parse.GetValue(_nodeTags)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            AllowPlaintextAuth = allowPlaintext,
            Authentication = SmtpCommands.AuthenticationChangeFrom(parse.GetValue(_auth), parse.GetValue(_username), parse.GetValue(_passwordStdin), console, errors),
            Trust = SmtpCommands.TrustFrom(parse.GetValue(_trustCa), parse.GetValue(_trustThumbprint), errors),
            ClientCertificate = SmtpCommands.ClientCertificateFrom(parse.GetValue(_clientCert), errors),
        };
    }
}

/// <summary><c>herald smtp connection list|show|set|remove</c>: SMTP connections, each owned by a
/// scope (<c>--scope</c>, default <c>/</c>).</summary>
internal static class ConnectionCommands
{
    private static readonly Option<string> Owner = new("--scope") { Description = "Scope the connection belongs to (default /).", DefaultValueFactory = _ => "/" };

    public static Command Create(CliConsole console) =>
        new("connection", "SMTP connections, each owned by a scope.") { CreateList(console), CreateShow(console), CreateSet(console), CreateRemove(console) };

    /// <summary>A connection's facts, never its secrets.</summary>
    public static void Describe(TextWriter output, SmtpConnection smtp)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(smtp);
        output.WriteLine($"SMTP connection {smtp.Qualified}");
        Pair(output, "server", $"{smtp.Host}:{smtp.Port}");
        Pair(output, "security", SmtpSecurityNames.Values.NameOf(smtp.Security) + (smtp.AllowPlaintextAuth ? " (password allowed unencrypted)" : ""));
        Pair(output, "authentication", SmtpCommands.Describe(smtp.Authentication));
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

    private static Command CreateList(CliConsole console)
    {
        var command = new Command("list", "List SMTP connections: owner, name, server, who uses them.");
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            var listed = await node.GetRequiredService<OutgoingSettingsService>().ListConnectionsAsync(Caller.Operator, ct);
            if (listed.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            if (listed.Value!.Count == 0)
            {
                console.Out.WriteLine("No SMTP connection yet: add one with 'herald smtp set --server …' or 'herald smtp connection set NAME --server …'.");
                return 0;
            }

            foreach (var listing in listed.Value)
            {
                var c = listing.Connection;
                console.Out.WriteLine($"{c.Qualified,-32} {c.Host}:{c.Port,-6} {SmtpSecurityNames.Values.NameOf(c.Security),-24} used by {(listing.UsedBy.Count == 0 ? "(none)" : string.Join(", ", listing.UsedBy))}");
            }

            return 0;
        });
        return command;
    }

    private static Command CreateShow(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The connection's name." };
        var command = new Command("show", "Show one SMTP connection; secrets only as 'set'.") { name, Owner };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(Owner), out var owner, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            var found = await node.GetRequiredService<OutgoingSettingsService>().GetConnectionAsync(Caller.Operator, owner, parse.GetValue(name), ct);
            if (found.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            Describe(console.Out, found.Value!.Connection);
            Pair(console.Out, "used by", found.Value.UsedBy.Count == 0 ? "(none)" : string.Join(", ", found.Value.UsedBy));
            return 0;
        });
        return command;
    }

    private static Command CreateSet(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The connection's name (new or existing)." };
        var fields = new ConnectionFlags();
        var command = new Command("set", "Add or change an SMTP connection owned by --scope; no scope's settings change.") { name, Owner };
        fields.AddTo(command);
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(Owner), out var owner, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            var errors = new List<string>();
            var change = fields.Read(parse, console, errors);
            if (errors.Count > 0)
            {
                return SmtpCommands.FailAll(console, errors);
            }

            var saved = await node.GetRequiredService<OutgoingSettingsService>()
                .SaveConnectionAsync(Caller.Operator, new ConnectionSave(owner, parse.GetValue(name), IsNew: null, change), ct);
            if (saved.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Saved SMTP connection {saved.Value.Connection.Qualified}.");
            foreach (var note in saved.Value.Notes)
            {
                console.Out.WriteLine(note);
            }

            return 0;
        });
        return command;
    }

    private static Command CreateRemove(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The connection's name." };
        var command = new Command("remove", "Delete an SMTP connection that no scope uses, with its secrets.") { name, Owner };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(Owner), out var owner, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            if (await node.GetRequiredService<OutgoingSettingsService>().DeleteConnectionAsync(Caller.Operator, owner, parse.GetValue(name), ct) is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine($"Deleted SMTP connection {ConnectionReference.Qualified(owner, parse.GetValue(name)!.Trim().ToLowerInvariant())}.");
            return 0;
        });
        return command;
    }

    private static void Pair(TextWriter output, string label, string value) => output.WriteLine($"  {label,-19}{value}");

    private static string CaSubject(string pem)
    {
        using var ca = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
        return ca.Subject;
    }
}
