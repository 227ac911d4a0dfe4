using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Herald.Bench.Bounces;

/// <summary>
/// A private Dovecot serving IMAP on a loopback port, Maildirs in its own temporary directory, any
/// user with <see cref="Password"/>. A small copy of the integration tests' DovecotMailbox (whose
/// helpers live with the tests' Postfix CA and port helpers): plain IMAP (security "none", the
/// mode Herald offers for a server on the same host), so the figure is Herald's, not TLS's.
/// </summary>
internal sealed class BenchDovecot : IDisposable
{
    public const string Password = "bench-mailbox-pass";

    private readonly string _config;

    private BenchDovecot(string directory, int port)
    {
        Directory = directory;
        Port = port;
        _config = Path.Combine(directory, "dovecot.conf");
    }

    public string Directory { get; }

    public int Port { get; }

    private string Log => File.Exists(Path.Combine(Directory, "dovecot.log")) ? File.ReadAllText(Path.Combine(Directory, "dovecot.log")) : "";

    /// <param name="format">Dovecot's mail storage: maildir (one file per message, as the tests'
    /// fixture) or mdbox (messages in shared files).</param>
    public static async Task<BenchDovecot> StartAsync(string format)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("herald-bench-dovecot-").FullName;
        var home = System.IO.Directory.CreateDirectory(Path.Combine(directory, "home")).FullName;
        if (!OperatingSystem.IsWindows())
        {
            // Dovecot's users (as root it drops to them) read the directory and write the homes.
            File.SetUnixFileMode(directory, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(home, (UnixFileMode)0b111_111_111);
        }
        var dovecot = new BenchDovecot(directory, FreePort());
        var root = Environment.UserName == "root";
        // As root Dovecot drops to its own users (as Debian creates them); otherwise it runs as us.
        var users = root ? "" : $"""
            default_login_user = {Environment.UserName}
            default_internal_user = {Environment.UserName}
            default_internal_group = {await RunAsync("id", "-gn")}
            """;
        var owner = root ? "uid=nobody gid=nogroup" : $"uid={await RunAsync("id", "-u")} gid={await RunAsync("id", "-g")}";
        await File.WriteAllTextAsync(dovecot._config, $$"""
            base_dir = {{directory}}/run
            state_dir = {{directory}}/state
            log_path = {{directory}}/dovecot.log
            protocols = imap
            listen = 127.0.0.1
            ssl = no
            disable_plaintext_auth = no
            auth_mechanisms = plain login
            auth_failure_delay = 0
            hostname = dovecot.bench
            mail_location = {{format}}:~/mail
            {{users}}
            service imap-login {
              inet_listener imap {
                address = 127.0.0.1
                port = {{dovecot.Port}}
              }
              inet_listener imaps {
                port = 0
              }
            }
            passdb {
              driver = static
              args = password={{Password}}
            }
            userdb {
              driver = static
              args = {{owner}} home={{home}}/%u
            }

            """);

        // The master daemonizes and its children keep any inherited pipe open: it writes to its log file only.
        using (var master = Process.Start(new ProcessStartInfo("/usr/sbin/dovecot") { ArgumentList = { "-c", dovecot._config }, UseShellExecute = false })!)
        {
            await master.WaitForExitAsync();
            if (master.ExitCode != 0)
            {
                throw new InvalidOperationException($"Dovecot did not start (exit {master.ExitCode}):\n{dovecot.Log}");
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, dovecot.Port);
                return dovecot;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    public void Dispose()
    {
        using var stop = Process.Start(new ProcessStartInfo("/usr/sbin/dovecot") { ArgumentList = { "-c", _config, "stop" }, UseShellExecute = false })!;
        stop.WaitForExit();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A process still finishing may hold a file; the temporary directory is left behind.
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> RunAsync(string file, string argument)
    {
        using var process = Process.Start(new ProcessStartInfo(file, [argument]) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Trim();
    }
}
