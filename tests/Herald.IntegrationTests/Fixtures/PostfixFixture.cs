using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

[assembly: AssemblyFixture(typeof(PostfixFixture))]

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// A private Postfix instance from Debian's package, started once for the test assembly by
/// tests/fixtures/postfix/postfix-fixture.sh on loopback ports, with its own CA, Cyrus sasldb and
/// four listeners (plain, STARTTLS+AUTH, implicit TLS, client certificate required). Every
/// accepted message lands in a Maildir per recipient, so a test reads the bytes Postfix delivered;
/// mail Postfix itself writes to <see cref="LmtpDomain"/> (DSNs to a bounce address there) goes
/// over LMTP to <see cref="LmtpSocket"/>, where one test at a time may listen.
/// </summary>
public sealed class PostfixFixture : IAsyncLifetime
{
    private readonly Dictionary<string, string> _values = new();

    // One socket path, so one LMTP server at a time: a second would take over the first one's DSNs.
    private readonly SemaphoreSlim _lmtp = new(1, 1);

    public PostfixFixture()
        : this("herald-postfix")
    {
    }

    private PostfixFixture(string name) => Directory = Path.Combine(Path.GetTempPath(), $"{name}-{Environment.ProcessId}");

    public string Directory { get; }

    public int PlainPort => Port("PORT_PLAIN");

    public int StartTlsAuthPort => Port("PORT_STARTTLS_AUTH");

    public int ImplicitTlsPort => Port("PORT_IMPLICIT_TLS");

    public int ClientCertificatePort => Port("PORT_CLIENT_CERT");

    /// <summary>Plain, anonymous, but refusing a HELO/EHLO name that is not fully qualified
    /// (<c>reject_non_fqdn_helo_hostname</c>).</summary>
    public int StrictHeloPort => Port("PORT_STRICT_HELO");

    public string SaslUser => _values["SASL_USER"];

    public string SaslPassword => _values["SASL_PASSWORD"];

    public string Pki(string file) => Path.Combine(_values["PKI_DIR"], file);

    /// <summary>The domain whose mail Postfix delivers over LMTP to <see cref="LmtpSocket"/>.</summary>
    public string LmtpDomain => _values["LMTP_DOMAIN"];

    /// <summary>The unix socket Postfix's lmtp(8) connects to for <see cref="LmtpDomain"/>; create
    /// it only while holding <see cref="ReserveLmtpAsync"/>.</summary>
    public string LmtpSocket => _values["LMTP_SOCKET"];

    /// <summary>Waits until no other test listens on <see cref="LmtpSocket"/>; disposing the result
    /// lets the next one (stop the server first).</summary>
    public async Task<IDisposable> ReserveLmtpAsync(CancellationToken cancellationToken)
    {
        await _lmtp.WaitAsync(cancellationToken);
        return new Release(_lmtp);
    }

    public async ValueTask InitializeAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            var basePort = FreePortRange(5);
            var (exit, output) = await RunScriptAsync(null, "start", Directory, basePort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (exit == 0)
            {
                break;
            }

            // The ports were free when probed; another process (a client's ephemeral port, another
            // test assembly's server) may take one before Postfix binds it: start afresh elsewhere.
            if (attempt < 5 && output.Contains("Address already in use", StringComparison.Ordinal))
            {
                await RunScriptAsync(null, "stop", Directory);
                if (System.IO.Directory.Exists(Directory))
                {
                    System.IO.Directory.Delete(Directory, recursive: true);
                }

                continue;
            }

            throw new InvalidOperationException($"The Postfix fixture did not start (exit {exit}):\n{output}");
        }

        foreach (var line in await File.ReadAllLinesAsync(Path.Combine(Directory, "fixture.env")))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && !line.StartsWith('#'))
            {
                _values[line[..equals]] = line[(equals + 1)..].Trim('"', '\'');
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await RunScriptAsync(null, "stop", Directory);
        _lmtp.Dispose();
    }

    /// <summary>Another instance beside the shared one, in its own directory (named after
    /// <paramref name="name"/>, which must be unique in the assembly) and on its own ports, for a
    /// test that needs Postfix in another role; disposing it stops it.</summary>
    public static async Task<PostfixFixture> StartAnotherAsync(string name)
    {
        var instance = new PostfixFixture(name);
        await instance.InitializeAsync();
        return instance;
    }

    /// <summary>Makes this instance a client of the SMTP server on 127.0.0.1:<paramref name="port"/>,
    /// its relayhost, which it must reach with STARTTLS and SASL AUTH as <paramref name="user"/>
    /// (postfix-fixture.sh relay-via). The queue starts empty; mail submitted on
    /// <see cref="PlainPort"/> from loopback goes there and nowhere else.</summary>
    public async Task RelayViaAsync(int port, string user, string password)
    {
        var (exit, output) = await RunScriptAsync(password + "\n", "relay-via", Directory, $"[127.0.0.1]:{port}", user);
        if (exit != 0)
        {
            throw new InvalidOperationException($"postfix-fixture.sh relay-via failed (exit {exit}):\n{output}");
        }
    }

    /// <summary>A recipient address no other test uses.</summary>
    public static string NewRecipient(string prefix = "t") => $"{prefix}-{Guid.NewGuid():N}@example.org";

    /// <summary>The raw bytes of each message Postfix delivered to <paramref name="address"/>.</summary>
    public IReadOnlyList<byte[]> Delivered(string address)
    {
        // The fixture's delivery helper names folders in lower case.
        address = address.ToLowerInvariant();
        var at = address.IndexOf('@', StringComparison.Ordinal);
        var folder = Path.Combine(_values["MAIL_DIR"], address[(at + 1)..], address[..at], "new");
        return System.IO.Directory.Exists(folder)
            ? System.IO.Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray()
            : [];
    }

    /// <summary>Waits until a message for the address has been delivered, and returns its bytes.</summary>
    public async Task<byte[]> WaitForMessageAsync(string address, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            if (Delivered(address) is [var first, ..])
            {
                return first;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"No message for {address} reached the Postfix mailbox. Mail log tail:\n{MailLogTail()}");
    }

    public string MailLogTail() =>
        File.Exists(_values.GetValueOrDefault("MAILLOG", "")) ? string.Join('\n', File.ReadLines(_values["MAILLOG"]).TakeLast(30)) : "(no mail log)";

    /// <summary>The lines of Postfix's log so far that contain every one of <paramref name="parts"/>.</summary>
    public IReadOnlyList<string> LogLines(params string[] parts) =>
        File.Exists(_values["MAILLOG"])
            ? File.ReadLines(_values["MAILLOG"]).Where(line => parts.All(part => line.Contains(part, StringComparison.Ordinal))).ToArray()
            : [];

    /// <summary>Waits until a line of Postfix's log contains every one of <paramref name="parts"/>,
    /// and returns it.</summary>
    public async Task<string> WaitForLogLineAsync(TimeSpan timeout, params string[] parts)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (LogLines(parts) is [var found, ..])
            {
                return found;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"No line of the Postfix log in {Directory} contains all of [{string.Join(" | ", parts)}]. Mail log tail:\n{MailLogTail()}");
            }

            await Task.Delay(100);
        }
    }

    private int Port(string name) => int.Parse(_values[name], System.Globalization.CultureInfo.InvariantCulture);

    private static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var start = Random.Shared.Next(20000, 60000);
            var listeners = new List<TcpListener>();
            try
            {
                for (var port = start; port < start + count; port++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    listeners.Add(listener);
                }

                return start;
            }
            catch (SocketException)
            {
                // Taken; try another range.
            }
            finally
            {
                listeners.ForEach(l => l.Stop());
            }
        }

        throw new InvalidOperationException("No free range of loopback ports was found.");
    }

    private static async Task<(int Exit, string Output)> RunScriptAsync(string? standardInput, params string[] args)
    {
        var script = Path.Combine(Repository.Root, "tests", "fixtures", "postfix", "postfix-fixture.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(standardInput ?? "");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    private sealed class Release(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
