using System.Diagnostics;
using System.Net.Sockets;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// An MIT Kerberos KDC (Debian's krb5-kdc) for a private realm, HERALD.TEST, on a loopback port,
/// from its own directory: its database made with <c>kdb5_util create</c>, principals and keytabs
/// with <c>kadmin.local</c> (krb5-admin-server), its own <c>krb5.conf</c> and <c>kdc.conf</c>
/// (KRB5_CONFIG and KRB5_KDC_PROFILE are given to each program, never taken from /etc). Clients
/// reach it over TCP (udp_preference_limit = 1).
/// </summary>
public sealed class KerberosKdc : IDisposable
{
    public const string Realm = "HERALD.TEST";

    private readonly Process _kdc;

    private KerberosKdc(string directory, int port, Process kdc)
    {
        Directory = directory;
        Port = port;
        _kdc = kdc;
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>The clients' krb5.conf: the realm's KDC on loopback.</summary>
    public string Krb5Config => Path.Combine(Directory, "krb5.conf");

    private string KdcProfile => Path.Combine(Directory, "kdc.conf");

    public static async Task<KerberosKdc> StartAsync()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("herald-kdc-").FullName;
        // Dovecot's auth process reads the service keytab from here.
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
        var port = LoopbackPort.Free();
        await File.WriteAllTextAsync(Path.Combine(directory, "krb5.conf"), $"""
            [libdefaults]
              default_realm = {Realm}
              dns_lookup_kdc = false
              dns_lookup_realm = false
              rdns = false
              udp_preference_limit = 1
            [realms]
              {Realm} = {"{"}
                kdc = 127.0.0.1:{port}
              {"}"}

            """);
        await File.WriteAllTextAsync(Path.Combine(directory, "kdc.conf"), $"""
            [kdcdefaults]
              kdc_listen = 127.0.0.1:{port}
              kdc_tcp_listen = 127.0.0.1:{port}
            [realms]
              {Realm} = {"{"}
                database_name = {directory}/principal
                key_stash_file = {directory}/stash
                acl_file = {directory}/kadm5.acl
                kdc_listen = 127.0.0.1:{port}
                kdc_tcp_listen = 127.0.0.1:{port}
              {"}"}
            [logging]
              kdc = FILE:{directory}/kdc.log

            """);

        var created = await RunAsync(directory, "/usr/sbin/kdb5_util", "create", "-s", "-P", "herald-test-master-key", "-r", Realm);
        if (created.Exit != 0)
        {
            throw new InvalidOperationException($"kdb5_util create failed (exit {created.Exit}): {created.Output}");
        }

        var start = Start(directory, "/usr/sbin/krb5kdc", "-n", "-P", Path.Combine(directory, "kdc.pid"));
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var kdc = Process.Start(start)!;
        kdc.OutputDataReceived += (_, _) => { };
        kdc.ErrorDataReceived += (_, _) => { };
        kdc.BeginOutputReadLine();
        kdc.BeginErrorReadLine();
        var started = new KerberosKdc(directory, port, kdc);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return started;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !kdc.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A principal with random keys, written to a new keytab file (readable by Dovecot's auth process).</summary>
    public async Task<string> AddPrincipalWithKeytabAsync(string principal, string keytab)
    {
        foreach (var query in new[] { $"addprinc -randkey {principal}", $"ktadd -k {keytab} {principal}" })
        {
            var (exit, output) = await RunAsync(Directory, "/usr/sbin/kadmin.local", "-q", query);
            if (exit != 0 || output.Contains("error", StringComparison.OrdinalIgnoreCase) || output.Contains("does not exist", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"kadmin.local -q '{query}' failed (exit {exit}): {output}");
            }
        }

        File.SetUnixFileMode(keytab, (UnixFileMode)0b110_100_100);
        return keytab;
    }

    /// <summary>Makes this realm's krb5.conf the one of every program the test process starts
    /// (Herald's kinit, klist and kvno), as /etc/krb5.conf is a node's. Herald's own GSSAPI
    /// library only reads tickets those programs fetched, so the native environment stays as it is.</summary>
    public void UseAsProcessDefault() => Environment.SetEnvironmentVariable("KRB5_CONFIG", Krb5Config);

    /// <summary>An MIT client program (kinit, kdestroy) with the test process's environment (<see cref="UseAsProcessDefault"/>).</summary>
    public static Task<(int Exit, string Output)> RunClientAsync(string file, params string[] args) => RunAsync(Arguments(new ProcessStartInfo(file), args));

    public void Dispose()
    {
        try
        {
            _kdc.Kill();
            _kdc.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // It had exited already.
        }

        _kdc.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left behind in the temporary directory.
        }
    }

    private static ProcessStartInfo Start(string directory, string file, params string[] args)
    {
        var start = Arguments(new ProcessStartInfo(file), args);
        start.Environment["KRB5_CONFIG"] = Path.Combine(directory, "krb5.conf");
        start.Environment["KRB5_KDC_PROFILE"] = Path.Combine(directory, "kdc.conf");
        return start;
    }

    private static ProcessStartInfo Arguments(ProcessStartInfo start, string[] args)
    {
        start.UseShellExecute = false;
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    private static Task<(int Exit, string Output)> RunAsync(string directory, string file, params string[] args) => RunAsync(Start(directory, file, args));

    private static async Task<(int Exit, string Output)> RunAsync(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
