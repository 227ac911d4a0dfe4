using System.Diagnostics;
using System.Net.Sockets;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// Dovecot's submission service (Debian's dovecot-submissiond) as a private instance on a loopback
/// port, from its own directory (<c>dovecot -c FILE</c>, base_dir and state there), relaying what
/// it accepts to an SMTP server on loopback (smtp-sink). Plain text on loopback: nothing crosses a
/// network. It authenticates in one of two ways:
/// <list type="bullet">
/// <item>OAuth 2.0: XOAUTH2 and OAUTHBEARER, every token checked with <c>passdb oauth2</c> by
/// introspection (<c>introspection_mode = post</c>) at an authorization server;</item>
/// <item>Windows-style SASL: GSSAPI (dovecot-gssapi) with a service keytab from a test KDC, any
/// principal in it accepted (<c>auth_gssapi_hostname = $ALL</c>), and NTLM. Debian builds Dovecot
/// without its own NTLM code; its NTLM is the winbind one, which hands the NTLMSSP exchange to
/// Samba's <c>ntlm_auth</c> (Debian's winbind package). Without a domain, <c>ntlm_auth
/// --password</c> checks every NTLMv2 response against that one password, with Samba's own
/// verifier, for any user and domain: what Exchange's domain controller does for one account.</item>
/// </list>
/// </summary>
public sealed class DovecotSubmission : IDisposable
{
    private readonly string _config;

    private DovecotSubmission(string directory, int port)
    {
        Directory = directory;
        Port = port;
        _config = Path.Combine(directory, "dovecot.conf");
    }

    public string Directory { get; }

    public int Port { get; }

    public string Log => File.Exists(Path.Combine(Directory, "dovecot.log")) ? File.ReadAllText(Path.Combine(Directory, "dovecot.log")) : "";

    public static async Task<DovecotSubmission> StartAsync(AuthorizationServer tokens, int relayPort)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var directory = CreateDirectory();
        var trust = "";
        if (tokens.Tls is { } tls)
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "authorization-server.pem"), tls.ExportCertificatePem());
            trust = $"tls_ca_cert_file = {directory}/authorization-server.pem";
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "oauth2.conf.ext"), $"""
            introspection_mode = post
            introspection_url = {tokens.IntrospectionEndpoint}
            client_id = {AuthorizationServer.Introspector}
            client_secret = {AuthorizationServer.IntrospectorSecret}
            force_introspection = yes
            username_attribute = email
            active_attribute = active
            active_value = true
            {trust}

            """);
        return await LaunchAsync(directory, relayPort, $$"""
            auth_mechanisms = xoauth2 oauthbearer
            passdb {
              driver = oauth2
              mechanisms = xoauth2 oauthbearer
              args = {{directory}}/oauth2.conf.ext
            }
            """);
    }

    /// <summary>GSSAPI with the service principals in <paramref name="serviceKeytab"/>, and NTLM
    /// (through Samba's ntlm_auth) for any user who knows <paramref name="ntlmPassword"/>.</summary>
    public static async Task<DovecotSubmission> StartWindowsAuthenticationAsync(int relayPort, string serviceKeytab, string ntlmPassword)
    {
        var directory = CreateDirectory();
        var samba = System.IO.Directory.CreateDirectory(Path.Combine(directory, "samba")).FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "smb.conf"), $"""
            [global]
              workgroup = DOVECOT
              netbios name = DOVECOT
              lock directory = {samba}
              state directory = {samba}
              cache directory = {samba}
              private dir = {samba}
              ncalrpc dir = {samba}
              pid directory = {samba}
              log file = {samba}/log

            """);
        var helper = Path.Combine(directory, "ntlm_auth");
        await File.WriteAllTextAsync(helper, $"""
            #!/bin/sh
            exec /usr/bin/ntlm_auth --configfile='{directory}/smb.conf' --password='{ntlmPassword}' "$@"

            """);
        File.SetUnixFileMode(helper, (UnixFileMode)0b111_101_101);
        return await LaunchAsync(directory, relayPort, $$"""
            auth_mechanisms = gssapi ntlm
            auth_gssapi_hostname = "$ALL"
            auth_krb5_keytab = {{serviceKeytab}}
            auth_use_winbind = yes
            auth_winbind_helper_path = {{helper}}
            passdb {
              driver = static
              args = nopassword=y
            }
            """);
    }

    /// <summary>PLAIN and LOGIN for any user with <paramref name="password"/>, after STARTTLS with
    /// the certificate and key given (PEM): for a server whose certificate is, say, expired.</summary>
    public static async Task<DovecotSubmission> StartWithPasswordAsync(int relayPort, string password, string certificatePem, string keyPem)
    {
        var directory = CreateDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory, "server.pem"), certificatePem);
        await File.WriteAllTextAsync(Path.Combine(directory, "server.key"), keyPem);
        return await LaunchAsync(directory, relayPort, $$"""
            ssl = required
            ssl_cert = <{{directory}}/server.pem
            ssl_key = <{{directory}}/server.key
            auth_mechanisms = plain login
            passdb {
              driver = static
              args = password={{password}}
            }
            """);
    }

    internal static string CreateDirectory()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("herald-dovecot-").FullName;
        var home = System.IO.Directory.CreateDirectory(Path.Combine(directory, "home")).FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(home, (UnixFileMode)0b111_111_111);
        return directory;
    }

    private static async Task<DovecotSubmission> LaunchAsync(string directory, int relayPort, string authentication)
    {
        var dovecot = new DovecotSubmission(directory, LoopbackPort.Free());
        var home = Path.Combine(directory, "home");
        var root = Environment.UserName == "root";
        var user = await UserSettingsAsync();
        await File.WriteAllTextAsync(dovecot._config, $"""
            base_dir = {directory}/run
            state_dir = {directory}/state
            log_path = {directory}/dovecot.log
            protocols = submission
            listen = 127.0.0.1
            ssl = no
            disable_plaintext_auth = no
            auth_failure_delay = 0
            auth_verbose = yes
            hostname = dovecot.test
            mail_location = maildir:~/Maildir
            submission_relay_host = 127.0.0.1
            submission_relay_port = {relayPort}
            submission_relay_trusted = yes
            {user}
            service submission-login {"{"}
              inet_listener submission {"{"}
                address = 127.0.0.1
                port = {dovecot.Port}
              {"}"}
              {(root ? "" : "chroot =")}
            {"}"}
            {authentication}
            userdb {"{"}
              driver = static
              args = {await MailOwnerAsync()} home={home}/%u
            {"}"}

            """);

        await StartMasterAsync(dovecot._config, () => dovecot.Log, dovecot.Port);
        return dovecot;
    }

    /// <summary>Dovecot's processes run as the user running the tests, unless that is root (then
    /// Dovecot drops to its own users, as Debian creates them).</summary>
    internal static async Task<string> UserSettingsAsync() => Environment.UserName == "root" ? "" : $"""
        default_login_user = {Environment.UserName}
        default_internal_user = {Environment.UserName}
        default_internal_group = {await IdAsync("-gn")}
        """;

    /// <summary>The static userdb's owner of the mail homes: nobody as root, else the user running the tests.</summary>
    internal static async Task<string> MailOwnerAsync() =>
        Environment.UserName == "root" ? "uid=nobody gid=nogroup" : $"uid={await IdAsync("-u")} gid={await IdAsync("-g")}";

    /// <summary>Starts the master of <paramref name="config"/> and waits until <paramref name="port"/> answers.</summary>
    internal static async Task StartMasterAsync(string config, Func<string> log, int port)
    {
        // The master daemonizes and its children keep any inherited pipe open: it writes to its log file only.
        using (var master = Process.Start(new ProcessStartInfo("/usr/sbin/dovecot") { ArgumentList = { "-c", config }, UseShellExecute = false })!)
        {
            await master.WaitForExitAsync();
            if (master.ExitCode != 0)
            {
                throw new InvalidOperationException($"Dovecot did not start (exit {master.ExitCode}):\n{log()}");
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Stops the master of <paramref name="config"/> and removes its directory.</summary>
    internal static void Stop(string config, string directory)
    {
        using var stop = Process.Start(new ProcessStartInfo("/usr/sbin/dovecot") { ArgumentList = { "-c", config, "stop" }, UseShellExecute = false })!;
        stop.WaitForExit();
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A process still finishing may hold a file; the temporary directory is left behind.
        }
    }

    public void Dispose() => Stop(_config, Directory);

    private static async Task<string> IdAsync(string flag) => (await RunAsync("id", flag)).Output.Trim();

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
