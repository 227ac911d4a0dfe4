using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Herald.Access;
using Herald.Delivery;
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
    private readonly Option<string?> _auth = new("--auth") { Description = "anonymous (removes stored credentials), any, oauth2, kerberos (GSSAPI with a keytab), or SASL mechanisms: plain, login, cram-md5, scram-sha-256, ntlm (comma-separated)." };
    private readonly Option<string?> _username = new("--username") { Description = "SASL user name; NTLM: DOMAIN\\user or user@domain; Kerberos: the service account's principal." };
    private readonly Option<bool> _passwordStdin = new("--password-stdin") { Description = "Read the SASL password (or XOAUTH2 token) from standard input." };
    private readonly Option<string?> _clientCert = new("--client-cert") { Description = "Client certificate: PEM file with certificate and key, or PKCS#12 file; 'none' removes it." };
    private readonly Option<string?> _trustCa = new("--trust-ca") { Description = "Trust only server certificates issued by this CA (PEM file); 'system' returns to the system store." };
    private readonly Option<string?> _trustThumbprint = new("--trust-thumbprint") { Description = "Trust only the server certificate with this SHA-256 thumbprint." };
    private readonly Option<string?> _connectTimeout = new("--connect-timeout") { Description = "Seconds to wait for a connection." };
    private readonly Option<string?> _commandTimeout = new("--command-timeout") { Description = "Seconds to wait for each SMTP reply." };
    private readonly Option<string?> _connectionLimit = new("--connection-limit") { Description = "Most simultaneous connections." };
    private readonly Option<string?> _rateLimit = new("--rate-limit") { Description = "Most messages per minute (0: no limit)." };
    private readonly Option<string?> _ehloName = new("--ehlo-name") { Description = "The fully qualified name to greet the server with (EHLO); '' for the automatic one (this node's full name, or the sender's domain)." };
    private readonly Option<string?> _nodeTags = new("--node-tags") { Description = "Comma-separated tags of the nodes that may use this connection ('' for any)." };
    private readonly Option<string?> _allowPlaintextAuth = new("--allow-plaintext-auth") { Description = "true or false: may the password cross an unencrypted connection (a smart host on this machine)." };
    private readonly Option<string?> _oauthProvider = new("--oauth-provider") { Description = "With --auth oauth2: microsoft | google | generic." };
    private readonly Option<string?> _oauthGrant = new("--oauth-grant") { Description = "client-credentials (app-only, the default) | refresh-token (a signed-in mailbox)." };
    private readonly Option<string?> _tenant = new("--tenant") { Description = "Microsoft: the directory (tenant) id or domain of the app registration." };
    private readonly Option<string?> _authority = new("--authority") { Description = "Microsoft: the cloud's sign-in host for a national cloud (https://login.microsoftonline.us), or an OpenID Connect issuer." };
    private readonly Option<string?> _clientId = new("--client-id") { Description = "OAuth client (application) id." };
    private readonly Option<bool> _clientSecretStdin = new("--client-secret-stdin") { Description = "Read the OAuth client secret from standard input (after the password, if both are read)." };
    private readonly Option<string?> _oauthClientCert = new("--oauth-client-cert") { Description = "Microsoft: a certificate credential (PEM with key, or PKCS#12) instead of a client secret." };
    private readonly Option<string?> _serviceAccountKey = new("--service-account-key") { Description = "Google: the service account's JSON key file (domain-wide delegation)." };
    private readonly Option<string?> _tokenEndpoint = new("--token-endpoint") { Description = "Generic: the authorization server's token endpoint (https://…)." };
    private readonly Option<string?> _authorizationEndpoint = new("--authorization-endpoint") { Description = "Generic: where an administrator signs in (authorization code with PKCE)." };
    private readonly Option<string?> _deviceEndpoint = new("--device-endpoint") { Description = "Generic: the device authorization endpoint, for signing in from this terminal." };
    private readonly Option<string?> _oauthScope = new("--oauth-scope") { Description = "The scope to ask tokens for ('' for the provider's default)." };
    private readonly Option<bool> _refreshTokenStdin = new("--refresh-token-stdin") { Description = "Read a refresh token obtained elsewhere from standard input (last of the secrets read)." };
    private readonly Option<string?> _keytab = new("--keytab") { Description = "Kerberos: the service account's keytab, the same path on every node (administrators of / only)." };
    private readonly Option<string?> _credentialCache = new("--credential-cache") { Description = "Kerberos: a credential cache kept fresh elsewhere (FILE:/path, KCM:, KEYRING:) instead of a keytab." };
    private readonly Option<string?> _realm = new("--realm") { Description = "Kerberos: the realm (the Active Directory domain in capitals)." };
    private readonly Option<string?> _servicePrincipal = new("--service-principal") { Description = "Kerberos: the server's principal (default SMTPSVC/SERVER; Dovecot and Postfix: smtp/SERVER; '' for the default)." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[]
        {
            _server, _port, _security, _auth, _username, _passwordStdin, _clientCert, _trustCa, _trustThumbprint,
            _connectTimeout, _commandTimeout, _connectionLimit, _rateLimit, _nodeTags, _ehloName, _allowPlaintextAuth,
            _oauthProvider, _oauthGrant, _tenant, _authority, _clientId, _clientSecretStdin, _oauthClientCert, _serviceAccountKey,
            _tokenEndpoint, _authorizationEndpoint, _deviceEndpoint, _oauthScope, _refreshTokenStdin,
            _keytab, _credentialCache, _realm, _servicePrincipal,
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
            EhloName = parse.GetValue(_ehloName),
            AllowPlaintextAuth = allowPlaintext,
            Authentication = SmtpCommands.AuthenticationChangeFrom(parse.GetValue(_auth), parse.GetValue(_username), parse.GetValue(_passwordStdin), console, errors, ReadOAuth(parse, console, errors), ReadKerberos(parse)),
            Trust = SmtpCommands.TrustFrom(parse.GetValue(_trustCa), parse.GetValue(_trustThumbprint), errors),
            ClientCertificate = SmtpCommands.ClientCertificateFrom(parse.GetValue(_clientCert), errors),
        };
    }

    /// <summary>The Kerberos fields the flags name; null when none was given. The paths are the
    /// nodes' own: Core checks them.</summary>
    private KerberosChange? ReadKerberos(ParseResult parse) =>
        new Option[] { _keytab, _credentialCache, _realm, _servicePrincipal }.Any(option => parse.GetResult(option) is { Implicit: false })
            ? new KerberosChange
            {
                Keytab = parse.GetValue(_keytab),
                CredentialCache = parse.GetValue(_credentialCache),
                Realm = parse.GetValue(_realm),
                ServicePrincipal = parse.GetValue(_servicePrincipal),
            }
            : null;

    /// <summary>The OAuth 2.0 fields the flags name; null when none was given. Files are read and
    /// secrets taken from standard input here; Core decides what is valid.</summary>
    private OAuthChange? ReadOAuth(ParseResult parse, CliConsole console, List<string> errors)
    {
        Option[] named =
        [
            _oauthProvider, _oauthGrant, _tenant, _authority, _clientId, _clientSecretStdin, _oauthClientCert, _serviceAccountKey,
            _tokenEndpoint, _authorizationEndpoint, _deviceEndpoint, _oauthScope, _refreshTokenStdin,
        ];
        if (!named.Any(option => parse.GetResult(option) is { Implicit: false }))
        {
            return null;
        }

        string? Secret(Option<bool> flag, string prompt)
        {
            if (!parse.GetValue(flag))
            {
                return null;
            }

            var secret = console.ReadSecret(prompt);
            if (secret is null)
            {
                errors.Add($"{flag.Name} was given but standard input held no more lines.");
            }

            return secret;
        }

        X509Certificate2? certificate = null;
        if (parse.GetValue(_oauthClientCert) is { } certificatePath)
        {
            if (ClientCertificates.TryLoad(certificatePath, out var loaded, out var error))
            {
                certificate = loaded;
            }
            else
            {
                errors.Add(error);
            }
        }

        string? serviceAccountKey = null;
        if (parse.GetValue(_serviceAccountKey) is { } keyPath)
        {
            var file = new FileInfo(keyPath);
            if (!file.Exists)
            {
                errors.Add($"Service-account key file '{keyPath}' does not exist.");
            }
            else if (file.Length > 64 * 1024)
            {
                errors.Add($"Service-account key file '{keyPath}' is larger than a service-account key (64 KiB).");
            }
            else
            {
                serviceAccountKey = File.ReadAllText(keyPath);
            }
        }

        return new OAuthChange
        {
            Provider = parse.GetValue(_oauthProvider),
            Grant = parse.GetValue(_oauthGrant),
            Tenant = parse.GetValue(_tenant),
            Authority = parse.GetValue(_authority),
            ClientId = parse.GetValue(_clientId),
            TokenEndpoint = parse.GetValue(_tokenEndpoint),
            AuthorizationEndpoint = parse.GetValue(_authorizationEndpoint),
            DeviceEndpoint = parse.GetValue(_deviceEndpoint),
            Scope = parse.GetValue(_oauthScope),
            ClientSecret = Secret(_clientSecretStdin, "OAuth client secret: "),
            ClientCertificate = certificate,
            ServiceAccountKey = serviceAccountKey,
            RefreshToken = Secret(_refreshTokenStdin, "OAuth refresh token: "),
        };
    }
}

/// <summary><c>herald smtp connection list|show|set|remove</c>: SMTP connections, each owned by a
/// scope (<c>--scope</c>, default <c>/</c>).</summary>
internal static class ConnectionCommands
{
    private static readonly Option<string> Owner = new("--scope") { Description = "Scope the connection belongs to (default /).", DefaultValueFactory = _ => "/" };

    public static Command Create(CliConsole console) =>
        new("connection", "SMTP connections, each owned by a scope.") { CreateList(console), CreateShow(console), CreateSet(console), CreateSignIn(console), CreateRemove(console) };

    /// <summary>A connection's facts, never its secrets.</summary>
    public static void Describe(TextWriter output, SmtpConnection smtp, string? token = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(smtp);
        output.WriteLine($"SMTP connection {smtp.Qualified}");
        Pair(output, "server", $"{smtp.Host}:{smtp.Port}");
        Pair(output, "security", SmtpSecurityNames.Values.NameOf(smtp.Security) + (smtp.AllowPlaintextAuth ? " (password allowed unencrypted)" : ""));
        Pair(output, "authentication", SmtpCommands.Describe(smtp.Authentication));
        if (smtp.Authentication.OAuth is { } oauth)
        {
            DescribeOAuth(output, smtp.Authentication.UserName!, oauth, token);
        }

        if (smtp.Authentication.Kerberos is { } kerberos)
        {
            Pair(output, "mechanism", "GSSAPI (Kerberos)");
            Pair(output, "principal", kerberos.ClientPrincipal(smtp.Authentication.UserName!));
            Pair(output, "realm", kerberos.Realm);
            Pair(output, "service principal", kerberos.QualifiedServicePrincipal(smtp.Host) + (kerberos.ServicePrincipal is null ? " (the default)" : ""));
            Pair(output, "tickets from", kerberos.Keytab is { } keytab ? $"keytab {keytab}" : $"credential cache {kerberos.CredentialCache}");
        }
        else if (smtp.Authentication.Mechanisms.Contains("NTLM") && NtlmAccount.TryParse(smtp.Authentication.UserName, out var account, out _))
        {
            Pair(output, "ntlm account", account.Domain.Length == 0 ? $"user {account.User} (the server's domain)" : $"user {account.User}, domain {account.Domain}");
        }

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
        Pair(output, "ehlo name", smtp.EhloName ?? (EhloName.NodeName is { } node ? $"{node} (automatic: this node's name)" : EhloName.Automatic));
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

            Describe(console.Out, found.Value!.Connection, await TokenLineAsync(node, found.Value!.Connection, ct));
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

    private static Command CreateSignIn(CliConsole console)
    {
        var name = new Argument<string>("name") { Description = "The connection's name." };
        var command = new Command("sign-in", "Sign an OAuth 2.0 connection in from this terminal (device code): open the address shown on any device, enter the code; the refresh token is stored encrypted.") { name, Owner };
        command.SetNodeAction(console, async (node, parse, ct) =>
        {
            if (!ScopePath.TryParse(parse.GetValue(Owner), out var owner, out var scopeError))
            {
                return console.Fail(scopeError);
            }

            var signedIn = await node.GetRequiredService<OAuthSignInService>().SignInWithDeviceCodeAsync(Caller.Operator, owner, parse.GetValue(name), async (code, _) =>
            {
                console.Out.WriteLine($"To sign in, open {code.VerificationUrl} on any device and enter the code {code.UserCode} (valid until {code.ExpiresOn.UtcDateTime:yyyy-MM-dd HH:mm} UTC).");
                console.Out.WriteLine("Waiting for the sign-in to be approved…");
                await console.Out.FlushAsync(ct);
            }, ct);
            if (signedIn.Refusal is { } refusal)
            {
                return console.Fail(refusal);
            }

            console.Out.WriteLine(signedIn.Value);
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

    /// <summary>Which provider, whose token, and (when <paramref name="token"/> was asked for) when
    /// it expires; which secrets are set, never what they are.</summary>
    private static void DescribeOAuth(TextWriter output, string mailbox, OAuthSettings oauth, string? token)
    {
        Pair(output, "oauth provider", oauth.Provider switch
        {
            OAuthProvider.Microsoft => $"microsoft, authority {oauth.EffectiveAuthority}, tenant {oauth.Tenant}",
            OAuthProvider.Google => "google",
            _ => $"generic, token endpoint {oauth.TokenEndpoint}",
        });
        if (oauth.ClientId is not null)
        {
            Pair(output, "client id", oauth.ClientId);
        }

        Pair(output, "oauth scope", oauth.EffectiveScope.Length == 0 ? "(the server's default)" : oauth.EffectiveScope);
        Pair(output, "credential", (oauth.ClientSecret, oauth.ClientCertificate, oauth.ServiceAccount) switch
        {
            (_, { } cert, _) => $"certificate {cert.Subject} (SHA-256 {cert.Thumbprint}, valid until {cert.NotAfter:yyyy-MM-dd})",
            (not null, _, _) => "client secret set",
            (_, _, { } account) => $"service-account key of {account}",
            _ => "(none)",
        });
        Pair(output, "whose token", oauth.Grant == OAuthGrant.RefreshToken
            ? oauth.RefreshToken is null
                ? "nobody has signed in yet"
                : $"signed in as {oauth.Account ?? mailbox}{(oauth.SignedInAt is { } at ? $" on {at:yyyy-MM-dd HH:mm} UTC" : "")} (refresh token set), sending as {mailbox}"
            : oauth.Provider == OAuthProvider.Google
                ? $"service account {oauth.ServiceAccount ?? "(no key)"} acting as {mailbox}"
                : $"the application {oauth.ClientId} (app-only), sending as {mailbox}");
        if (token is not null)
        {
            Pair(output, "token", token);
        }
    }

    /// <summary>The "token" line: asks this node for one, so that the administrator knows the
    /// settings work and until when; the sentence otherwise.</summary>
    public static async Task<string?> TokenLineAsync(IServiceProvider node, SmtpConnection smtp, CancellationToken cancellationToken)
    {
        if (smtp.Authentication.OAuth is null)
        {
            return null;
        }

        var (expiresOn, account, problem) = await node.GetRequiredService<Herald.Delivery.AccessTokens>().ProbeAsync(smtp, cancellationToken);
        return expiresOn is { } expires
            ? $"obtained{(account is null ? "" : $" for {account}")}, expires {expires.UtcDateTime:yyyy-MM-dd HH:mm} UTC"
            : problem;
    }

    private static void Pair(TextWriter output, string label, string value) => output.WriteLine($"  {label,-19}{value}");

    private static string CaSubject(string pem)
    {
        using var ca = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
        return ca.Subject;
    }
}
