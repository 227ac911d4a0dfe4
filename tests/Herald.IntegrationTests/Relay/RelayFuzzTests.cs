using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Herald.Relay;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Herald.IntegrationTests.Relay;

/// <summary>Runs alone: the test measures the process's managed heap and listens for the
/// process's unobserved task exceptions, which other tests running beside it would disturb.</summary>
[CollectionDefinition(nameof(RelayFuzzTests), DisableParallelization = true)]
public sealed class RelayFuzzRunsAlone;

/// <summary>
/// Random and malformed input against the relay in process, many connections at once, for a
/// bounded time: random bytes, overlong lines, NULs, bare CR and LF, commands in any order and
/// state, DATA with broken endings, STARTTLS followed by garbage or by a real handshake, and
/// connections that are half-closed, reset or dropped mid-command. What must hold afterwards is
/// what an operator would check: the listener still takes mail, nothing failed unexpectedly, no
/// session is left behind and memory did not grow.
/// </summary>
[Collection(nameof(RelayFuzzTests))]
public sealed class RelayFuzzTests
{
    private const int Workers = 16;
    private const long AllowedHeapGrowth = 20L * 1024 * 1024;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Fuzzing = TimeSpan.FromSeconds(12);

    [Fact]
    public async Task Random_and_malformed_input_leaves_the_listener_answering_without_errors_open_sessions_or_memory_growth()
    {
        // HERALD_FUZZ_SEED=<seed> replays a run: each worker's inputs follow from the seed (the
        // interleaving of the workers, and so the server's exact path, depends on scheduling).
        var seed = int.TryParse(Environment.GetEnvironmentVariable("HERALD_FUZZ_SEED"), CultureInfo.InvariantCulture, out var given) ? given : Random.Shared.Next();
        TestContext.Current.TestOutputHelper?.WriteLine($"Relay fuzz seed: {seed} (replay with HERALD_FUZZ_SEED={seed})");
        Console.WriteLine($"Relay fuzz seed: {seed} (replay with HERALD_FUZZ_SEED={seed})");
        var failures = new ConcurrentQueue<string>();
        UnhandledExceptionEventHandler unhandled = (_, e) => failures.Enqueue("unhandled: " + e.ExceptionObject);
        EventHandler<UnobservedTaskExceptionEventArgs> unobserved = (_, e) => failures.Enqueue("unobserved task exception: " + e.Exception);
        AppDomain.CurrentDomain.UnhandledException += unhandled;
        TaskScheduler.UnobservedTaskException += unobserved;
        try
        {
            var logger = new CapturingLogger<RelayServer>(LogLevel.Error);
            var options = RelayHarness.TestOptions();
            // Deeper sessions: the default 20 errors would end most random sessions after a few lines.
            options.MaxErrorsPerSession = 100;
            await using var relay = await RelayHarness.StartAsync(options, logger: logger);
            relay.Gate.Rules = new RelayAuthRules(Required: false, AllowedWithoutTls: true);
            var workers = Enumerable.Range(0, Workers).Select(i => new SmtpFuzzer(relay.Port, seed * 397 + i)).ToArray();

            await Task.WhenAll(workers.Select(w => w.RunAsync(WarmUp)));
            await WaitUntilNoSessionAsync(relay);
            relay.Gate.Clear();
            var baseline = ManagedHeapAfterFullGc();

            await Task.WhenAll(workers.Select(w => w.RunAsync(Fuzzing)));
            var acceptedWhileFuzzing = relay.Gate.Accepted.Count;
            await WaitUntilNoSessionAsync(relay);
            relay.Gate.Clear();
            var after = ManagedHeapAfterFullGc();

            var tlsHandshakes = workers.Sum(w => w.TlsHandshakes);
            var context = $"seed {seed}: {workers.Sum(w => w.Connections)} connections, {acceptedWhileFuzzing} messages accepted, {tlsHandshakes} TLS handshakes, "
                + $"{logger.Count(LogLevel.Warning)} warnings logged; managed heap {baseline:N0} -> {after:N0} bytes";
            TestContext.Current.TestOutputHelper?.WriteLine(context);
            Assert.True(relay.Server.OpenSessions == 0, $"{relay.Server.OpenSessions} session(s) still open after every client went away ({context})");
            await SendWithMailKitAsync(relay);
            var errors = logger.Entries.Where(e => e.Level >= LogLevel.Error).ToArray();
            Assert.True(errors.Length == 0, $"{context}\nThe server logged {errors.Length} error(s):\n{string.Join("\n", errors.Take(5))}");
            Assert.True(failures.IsEmpty, $"{context}\n{string.Join("\n", failures.Take(5))}");
            Assert.True(after - baseline < AllowedHeapGrowth, $"the managed heap grew by more than {AllowedHeapGrowth:N0} bytes ({context})");
            // The run was not vacuous: messages went through, TLS was negotiated, clients were refused.
            Assert.True(acceptedWhileFuzzing > 0 && tlsHandshakes > 0 && logger.Count(LogLevel.Warning) > 0, context);
        }
        finally
        {
            AppDomain.CurrentDomain.UnhandledException -= unhandled;
            TaskScheduler.UnobservedTaskException -= unobserved;
        }
    }

    /// <summary>Sessions end when their clients are gone; a bound on the wait, not a timing claim.</summary>
    private static async Task WaitUntilNoSessionAsync(RelayHarness relay)
    {
        var deadline = Stopwatch.StartNew();
        while (relay.Server.OpenSessions > 0 && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }
    }

    /// <summary>Bytes in the managed heap after full, compacting collections (finalizers run in
    /// between, which also raises any unobserved task exception).</summary>
    private static long ManagedHeapAfterFullGc()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static async Task SendWithMailKitAsync(RelayHarness relay)
    {
        using var client = new SmtpClient { ServerCertificateValidationCallback = (_, presented, _, _) => RelayHarness.IsRelayCertificate(presented) };
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("app@example.org"));
        message.To.Add(MailboxAddress.Parse("after-the-fuzz@herald.test"));
        message.Subject = "After the fuzz";
        message.Body = new TextPart("plain") { Text = "Still answering.\n" };

        await client.ConnectAsync("127.0.0.1", relay.Port, MailKit.Security.SecureSocketOptions.StartTls, TestContext.Current.CancellationToken);
        await client.SendAsync(message, TestContext.Current.CancellationToken);
        await client.DisconnectAsync(true, TestContext.Current.CancellationToken);

        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.Equal(["after-the-fuzz@herald.test"], accepted.Envelope.Recipients);
        Assert.Contains("Still answering.", Encoding.ASCII.GetString(accepted.Data), StringComparison.Ordinal);
    }
}

/// <summary>One fuzzing client: connection after connection of random input, from its own
/// seeded <see cref="Random"/>. The server closing on it is expected and ends the connection.</summary>
internal sealed class SmtpFuzzer(int port, int seed)
{
    private static readonly string[] Verbs =
        ["EHLO", "HELO", "MAIL FROM:", "RCPT TO:", "DATA", "RSET", "NOOP", "VRFY", "EXPN", "HELP", "AUTH", "STARTTLS", "BDAT", "ETRN", "XCLIENT", "QUIT", "mail from:", "Rcpt To:", "EHLO\t", ""];

    private static readonly string[] Arguments =
    [
        "<app@example.org>", "<someone@herald.test>", "<>", "<postmaster>", "<a%b@herald.test>", "<@relay.example:victim@evil.example>", "<\"x@evil.example\"@herald.test>",
        "<evil.example!victim@herald.test>", "<victim@evil.example>", "app@example.org", "<app@example.org> SIZE=1000", "<app@example.org> SIZE=99999999999999999999",
        "<app@example.org> BODY=8BITMIME SMTPUTF8", "<app@example.org> BODY=BINARYMIME", "<app@example.org> FOO=BAR", "<ünïcödé@herald.test> SMTPUTF8", "<app@example.org> SIZE=-1",
        "PLAIN", "PLAIN AGFwcABzM2NyZXQgcGFzcw==", "PLAIN !!!notbase64", "LOGIN", "LOGIN YXBw", "CRAM-MD5", "PLAIN =", "client.example", "[127.0.0.1]", "[IPv6:::1]", "", "*", "<", ">", "<<>>",
    ];

    private readonly Random _random = new(seed);
    private readonly byte[] _readBuffer = new byte[16 * 1024];

    public int Connections { get; private set; }

    public int TlsHandshakes { get; private set; }

    public async Task RunAsync(TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            if (_random.Next(25) == 0)
            {
                await BurstAsync();
                continue;
            }

            Socket? socket = null;
            try
            {
                socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(IPAddress.Loopback, port);
                Connections++;
                await FuzzConnectionAsync(socket);
            }
            catch (Exception ex) when (ex is IOException or SocketException or AuthenticationException or OperationCanceledException or ObjectDisposedException)
            {
                // The server closed or reset the connection, or a bounded wait ran out: on to the next.
            }
            finally
            {
                socket?.Dispose();
            }
        }
    }

    /// <summary>Many connections at once that say nothing and go away (some over the per-address limit).</summary>
    private async Task BurstAsync()
    {
        var sockets = new List<Socket>();
        try
        {
            var count = _random.Next(10, 60);
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, port);
                Connections++;
            }

            await Task.Delay(_random.Next(0, 300));
        }
        catch (SocketException)
        {
            // The backlog was full: also a way to go away.
        }
        finally
        {
            foreach (var socket in sockets)
            {
                if (_random.Next(2) == 0)
                {
                    socket.LingerState = new LingerOption(true, 0);
                }

                socket.Dispose();
            }
        }
    }

    private async Task FuzzConnectionAsync(Socket socket)
    {
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        try
        {
            if (_random.Next(8) != 0)
            {
                await ReadSomeAsync(socket, stream, TimeSpan.FromSeconds(2)); // the greeting; else talk first
            }

            var steps = _random.Next(1, 40);
            for (var step = 0; step < steps; step++)
            {
                switch (_random.Next(12))
                {
                    case 0:
                        await SendAsync(stream, RandomBytes(_random.Next(1, 3000)));
                        break;
                    case 1:
                        await SendAsync(stream, Encoding.ASCII.GetBytes("NOOP " + new string('x', _random.Next(500, 70_000)) + "\r\n"));
                        break;
                    case 2:
                        await SendAsync(stream, Encoding.ASCII.GetBytes(RandomCommand().Replace(' ', '\0') + "\0\r\n"));
                        break;
                    case 3:
                        await SendAsync(stream, Encoding.ASCII.GetBytes(RandomCommand() + (_random.Next(3) switch { 0 => "\n", 1 => "\r", _ => "\r\r\n" })));
                        break;
                    case 4:
                        await SendAsync(stream, Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, _random.Next(1, 8)).Select(_ => RandomCommand() + "\r\n"))));
                        break;
                    case 5:
                        await SendDataAsync(socket, stream);
                        break;
                    case 6:
                        await SendTransactionAsync(socket, stream);
                        break;
                    case 7 when stream is not SslStream:
                        if (await StartTlsAsync(socket, stream) is not { } tls)
                        {
                            return;
                        }

                        stream = tls;
                        break;
                    default:
                        await ExchangeAsync(socket, stream, RandomCommand());
                        break;
                }

                if (_random.Next(3) == 0)
                {
                    await ReadSomeAsync(socket, stream, TimeSpan.FromMilliseconds(_random.Next(0, 50)));
                }
            }

            await LeaveAsync(socket, stream);
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    /// <summary>Ends the connection one of the ways clients do.</summary>
    private async Task LeaveAsync(Socket socket, Stream stream)
    {
        switch (_random.Next(4))
        {
            case 0:
                await ExchangeAsync(socket, stream, "QUIT");
                break;
            case 1:
                // Half-closed: no more input, but still reading until the server closes.
                if (stream is SslStream tls)
                {
                    await tls.ShutdownAsync();
                }

                socket.Shutdown(SocketShutdown.Send);
                var limit = Stopwatch.StartNew();
                while (limit.Elapsed < TimeSpan.FromSeconds(10) && await ReadSomeAsync(socket, stream, TimeSpan.FromSeconds(1)) != 0)
                {
                }

                break;
            case 2:
                socket.LingerState = new LingerOption(true, 0); // reset
                break;
            default:
                break; // just gone, possibly mid-command
        }
    }

    /// <summary>DATA and a body with random lines: dot lines with every ending, bare CR and LF,
    /// NULs, 8-bit bytes and overlong lines; sometimes the end, sometimes not.</summary>
    private async Task SendDataAsync(Socket socket, Stream stream)
    {
        await ExchangeAsync(socket, stream, "DATA");
        var body = new List<byte>();
        var lines = _random.Next(0, 30);
        for (var i = 0; i < lines; i++)
        {
            body.AddRange(_random.Next(10) switch
            {
                0 => ".\n"u8.ToArray(),
                1 => "\r\n.\r"u8.ToArray(),
                2 => "..stuffed\r\n"u8.ToArray(),
                3 => "bare\nline feed\r\n"u8.ToArray(),
                4 => "bare\rcarriage return\r\n"u8.ToArray(),
                5 => Encoding.ASCII.GetBytes(new string('z', _random.Next(900, 5000)) + "\r\n"),
                6 => RandomBytes(_random.Next(1, 200)),
                7 => "\0\0nul\0\r\n"u8.ToArray(),
                _ => Encoding.UTF8.GetBytes($"Line {i}: héllo wörld\r\n"),
            });
        }

        if (_random.Next(3) != 0)
        {
            body.AddRange("\r\n.\r\n"u8.ToArray());
        }

        await SendAsync(stream, [.. body]);
    }

    /// <summary>A transaction a real client would send, reply by reply, so that messages are
    /// accepted between the random ones (and AUTH succeeds or fails now and then).</summary>
    private async Task SendTransactionAsync(Socket socket, Stream stream)
    {
        await ExchangeAsync(socket, stream, "EHLO fuzz.example");
        if (_random.Next(3) == 0)
        {
            await ExchangeAsync(socket, stream, _random.Next(2) == 0 ? "AUTH PLAIN AGFwcABzM2NyZXQgcGFzcw==" : "AUTH PLAIN AGFwcAB3cm9uZw==");
        }

        await ExchangeAsync(socket, stream, "MAIL FROM:<app@example.org>");
        await ExchangeAsync(socket, stream, "RCPT TO:<someone@herald.test>");
        await ExchangeAsync(socket, stream, "DATA");
        await SendAsync(stream, Encoding.ASCII.GetBytes($"Subject: fuzz\r\n\r\n..body {_random.Next()}\r\n.\r\n"));
        await ReadSomeAsync(socket, stream, TimeSpan.FromSeconds(2));
    }

    /// <summary>STARTTLS, then garbage, a truncated ClientHello or a real handshake; null when the
    /// connection is over.</summary>
    private async Task<SslStream?> StartTlsAsync(Socket socket, Stream stream)
    {
        await ExchangeAsync(socket, stream, "STARTTLS");
        switch (_random.Next(3))
        {
            case 0:
                await SendAsync(stream, RandomBytes(_random.Next(1, 2000)));
                return null;
            case 1:
                await SendAsync(stream, [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, .. RandomBytes(_random.Next(0, 100))]);
                return null;
            default:
                var tls = new SslStream(stream, leaveInnerStreamOpen: false, (_, presented, _, _) => RelayHarness.IsRelayCertificate(presented));
                using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
                {
                    await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "relay.herald.test" }, deadline.Token);
                }

                TlsHandshakes++;
                return tls;
        }
    }

    private async Task ExchangeAsync(Socket socket, Stream stream, string command)
    {
        await SendAsync(stream, Encoding.UTF8.GetBytes(command + "\r\n"));
        await ReadSomeAsync(socket, stream, TimeSpan.FromSeconds(2));
    }

    private static async Task SendAsync(Stream stream, byte[] bytes)
    {
        await stream.WriteAsync(bytes);
        await stream.FlushAsync();
    }

    /// <summary>Reads what the server has sent, waiting at most <paramref name="wait"/> for the
    /// first byte; 0 when nothing came. The end of the stream ends the connection (IOException).
    /// Under TLS a read cannot be given up and resumed, so a wait that runs out ends it too.</summary>
    private async Task<int> ReadSomeAsync(Socket socket, Stream stream, TimeSpan wait)
    {
        int read;
        if (stream is SslStream)
        {
            using var deadline = new CancellationTokenSource(wait);
            read = await stream.ReadAsync(_readBuffer, deadline.Token);
        }
        else
        {
            var clock = Stopwatch.StartNew();
            while (socket.Available == 0 && !socket.Poll(0, SelectMode.SelectRead) && clock.Elapsed < wait)
            {
                await Task.Delay(5);
            }

            if (socket.Available == 0 && !socket.Poll(0, SelectMode.SelectRead))
            {
                return 0;
            }

            read = await stream.ReadAsync(_readBuffer);
        }

        return read == 0 ? throw new IOException("The server closed the connection.") : read;
    }

    private string RandomCommand()
    {
        var verb = Verbs[_random.Next(Verbs.Length)];
        var argument = Arguments[_random.Next(Arguments.Length)];
        return _random.Next(4) switch
        {
            0 => verb,
            1 => verb + argument,
            2 => verb.ToLowerInvariant() + " " + argument,
            _ => verb + " " + argument,
        };
    }

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }
}
