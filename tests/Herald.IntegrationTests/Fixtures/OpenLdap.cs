using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// A real OpenLDAP server (Debian's <c>slapd</c>) of its own: a private slapd.conf, an mdb
/// database and certificates in a temporary directory, listening on a free loopback port, never
/// the system's slapd (which the package may have started: this one shares nothing with it). The
/// fixture makes a CA and a server certificate for 127.0.0.1 and localhost with openssl (and a
/// second, unrelated CA, for tests of a wrong trust), loads the LDIF given with <c>slapadd</c>
/// before it starts (fast for big sets), and sets a size limit, so that only a paged search reads
/// more than that many entries (the service account is not the root DN: limits apply to it).
/// Disposing kills slapd and removes the directory. Needs slapd, ldap-utils and openssl.
/// </summary>
public sealed class OpenLdap : IDisposable
{
    public const string Suffix = "dc=example,dc=org";
    public const string People = "ou=people,dc=example,dc=org";
    public const string Groups = "ou=groups,dc=example,dc=org";
    public const string BindDn = "uid=herald,ou=services,dc=example,dc=org";

    /// <summary>The service account's password (a test's own, never a real one).</summary>
    public const string BindPassword = "fixture-bind-Qm7x2vLp";

    private const string RootDn = "cn=admin,dc=example,dc=org";
    private const string RootPassword = "fixture-root-Zt8k3wNr";

    private readonly string _directory;
    private readonly Process _process;
    private readonly ProcessOutput _output;

    private OpenLdap(string directory, Process process, ProcessOutput output, int port)
    {
        _directory = directory;
        _process = process;
        _output = output;
        Port = port;
    }

    public int Port { get; }

    /// <summary>ldap:// on the loopback port (StartTLS upgrades it).</summary>
    public string Url => $"ldap://127.0.0.1:{Port}";

    /// <summary>The PEM of the CA that signed the server's certificate.</summary>
    public string CaFile => Path.Combine(_directory, "ca.pem");

    /// <summary>The PEM of another CA, which signed nothing this server shows.</summary>
    public string OtherCaFile => Path.Combine(_directory, "other-ca.pem");

    public string Output => _output.Text;

    /// <summary>Starts slapd with the base entries, the service account and <paramref name="ldif"/>,
    /// and a size limit of <paramref name="sizeLimit"/> entries for a search that does not page.</summary>
    public static async Task<OpenLdap> StartAsync(string ldif, int sizeLimit = 1000)
    {
        var directory = Directory.CreateTempSubdirectory("herald-slapd-").FullName;
        Directory.CreateDirectory(Path.Combine(directory, "db"));
        await RunAsync(directory, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Herald test LDAP CA");
        await RunAsync(directory, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=Unrelated CA");
        await RunAsync(directory, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
        await File.WriteAllTextAsync(Path.Combine(directory, "san.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        await RunAsync(directory, "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf");
        var hash = (await RunAsync(directory, "slappasswd", "-s", BindPassword)).Trim();

        var config = Path.Combine(directory, "slapd.conf");
        await File.WriteAllTextAsync(config, $"""
            include /etc/ldap/schema/core.schema
            include /etc/ldap/schema/cosine.schema
            include /etc/ldap/schema/inetorgperson.schema
            include /etc/ldap/schema/nis.schema
            pidfile {directory}/slapd.pid
            modulepath /usr/lib/ldap
            moduleload back_mdb
            TLSCACertificateFile {directory}/ca.pem
            TLSCertificateFile {directory}/server.pem
            TLSCertificateKeyFile {directory}/server.key
            sizelimit size.soft={sizeLimit} size.hard={sizeLimit} size.prtotal=unlimited
            database mdb
            suffix "{Suffix}"
            rootdn "{RootDn}"
            rootpw {RootPassword}
            directory {directory}/db
            maxsize 4294967296
            index objectClass,uid,cn,member eq
            access to attrs=userPassword by self write by anonymous auth by * none
            access to * by users read by * none

            """);
        var data = Path.Combine(directory, "data.ldif");
        await File.WriteAllTextAsync(data, $"""
            dn: {Suffix}
            objectClass: dcObject
            objectClass: organization
            o: Example
            dc: example

            dn: ou=services,{Suffix}
            objectClass: organizationalUnit
            ou: services

            dn: {People}
            objectClass: organizationalUnit
            ou: people

            dn: {Groups}
            objectClass: organizationalUnit
            ou: groups

            dn: {BindDn}
            objectClass: account
            objectClass: simpleSecurityObject
            uid: herald
            userPassword: {hash}


            """ + ldif);
        await RunAsync(directory, "/usr/sbin/slapadd", "-q", "-f", config, "-l", data);

        for (var attempt = 1; ; attempt++)
        {
            var port = LoopbackPort.Free();
            var output = new ProcessOutput();
            // -d keeps slapd in the foreground, a child of the test run that Dispose can kill.
            var start = new ProcessStartInfo("/usr/sbin/slapd") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-f", config, "-h", $"ldap://127.0.0.1:{port}/", "-d", "0" })
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("slapd did not start.");
            process.OutputDataReceived += (_, e) => output.Append(e.Data);
            process.ErrorDataReceived += (_, e) => output.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new OpenLdap(directory, process, output, port);
            if (await server.WaitUntilListeningAsync())
            {
                return server;
            }

            var said = output.Text;
            server.Stop();
            if (attempt >= 5 || !said.Contains("Address already in use", StringComparison.OrdinalIgnoreCase))
            {
                Directory.Delete(directory, recursive: true);
                throw new InvalidOperationException($"slapd did not start listening:\n{said}");
            }
        }
    }

    /// <summary>Changes the directory as its administrator would: <c>ldapmodify</c> over StartTLS.</summary>
    public Task ModifyAsync(string ldif) => ClientAsync("ldapmodify", ldif);

    /// <summary>Adds entries with <c>ldapadd</c> over StartTLS.</summary>
    public Task AddAsync(string ldif) => ClientAsync("ldapadd", ldif);

    /// <summary>Runs a query the way an administrator would check it, with the service account: <c>ldapsearch</c>'s output.</summary>
    public Task<string> SearchAsync(string filter, params string[] options) =>
        RunAsync(_directory, "ldapsearch", ["-ZZ", "-H", Url, "-D", BindDn, "-w", BindPassword, "-b", Suffix, .. options, filter, "dn"], environment: TlsEnvironment, allowFailure: true);

    /// <summary>An inetOrgPerson under ou=people.</summary>
    public static string Person(string uid, string name, string mail, string? language = null) =>
        $"dn: uid={uid},{People}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {name.Split(' ')[^1]}\nmail: {mail}\n" +
        (language is null ? "" : $"preferredLanguage: {language}\n") + "\n";

    /// <summary>A groupOfNames under ou=groups with member DNs (users: <c>uid=…</c> under people; groups: <c>cn=…</c> under groups).</summary>
    public static string Group(string cn, params string[] members) =>
        $"dn: cn={cn},{Groups}\nobjectClass: groupOfNames\ncn: {cn}\n" + string.Concat(members.Select(m => $"member: {m}\n")) + "\n";

    public static string UserDn(string uid) => $"uid={uid},{People}";

    public static string GroupDn(string cn) => $"cn={cn},{Groups}";

    public void Dispose()
    {
        Stop();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Left to the OS's temporary-file clean-up.
        }
    }

    private Dictionary<string, string> TlsEnvironment => new() { ["LDAPTLS_CACERT"] = CaFile, ["LDAPTLS_REQCERT"] = "demand" };

    private async Task ClientAsync(string tool, string ldif)
    {
        var file = Path.Combine(_directory, $"change-{Guid.NewGuid():N}.ldif");
        await File.WriteAllTextAsync(file, ldif);
        await RunAsync(_directory, tool, ["-ZZ", "-H", Url, "-D", RootDn, "-w", RootPassword, "-f", file], environment: TlsEnvironment);
    }

    private async Task<bool> WaitUntilListeningAsync()
    {
        var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline && !_process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        return false;
    }

    private void Stop()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.WaitForExit();
        _process.Dispose();
    }

    private static Task<string> RunAsync(string directory, string tool, params string[] arguments) => RunAsync(directory, tool, arguments, null);

    private static async Task<string> RunAsync(string directory, string tool, string[] arguments, Dictionary<string, string>? environment, bool allowFailure = false)
    {
        var start = new ProcessStartInfo(tool) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = new StringBuilder(await stdout).Append(await stderr).ToString();
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output}");
        }

        return output;
    }
}
