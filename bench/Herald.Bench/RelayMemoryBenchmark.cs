using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Herald.Bench.Node;
using Herald.Bench.Processes;

namespace Herald.Bench;

internal sealed record RelayMemoryOptions(
    string HeraldDll, string WorkDirectory, int Sessions, int MessageBytes, int ConnectionLimit, TimeSpan StallTimeout);

/// <summary>What the relay-memory run measured: herald serve's peak resident memory while the
/// sessions transferred and while the messages were delivered, and whether every message arrived.</summary>
internal sealed record RelayMemoryFigures(
    int Sessions, int MessageBytes, int Accepted, TimeSpan Transfer, long PeakTransferRss, long PeakDeliveryRss, long RestingRss,
    int Arrived, int Identical, TimeSpan? Delivered, IReadOnlyList<string> Problems)
{
    private static string Mib(long bytes) => (bytes / 1024.0 / 1024.0).ToString("#,0", CultureInfo.InvariantCulture) + " MiB";

    public string Format() => string.Join('\n',
        $"sessions               {Sessions} at once, each one message of {MessageBytes:#,0} bytes ({Mib((long)Sessions * MessageBytes)} in all)",
        $"accepted (250)         {Accepted} of {Sessions} in {Transfer.TotalSeconds:0.0} s",
        $"peak RSS, transfers    {Mib(PeakTransferRss)}",
        $"peak RSS, delivery     {Mib(PeakDeliveryRss)}",
        $"RSS afterwards         {Mib(RestingRss)}",
        Delivered is { } delivered ? $"delivered              {Arrived} in {delivered.TotalSeconds:0.0} s after the last 250" : $"delivered              {Arrived} of {Accepted} (stalled)",
        $"byte for byte          {Identical} of {Arrived} bodies identical to what was sent");
}

/// <summary>
/// Many relay clients at once, each sending one large message (25 MiB by default) over its own
/// session, to a fresh SQLite node that relays to smtp-sink -d. The node's resident memory is read
/// from /proc while the transfers run and while the messages are delivered: a relay that held
/// each transfer in memory would need sessions × size. Every dump is then compared with what was
/// sent: the body byte for byte (smtp-sink writes LF for CRLF), the header section by its id.
/// </summary>
internal sealed class RelayMemoryBenchmark(RelayMemoryOptions options, ChildProcesses children, HttpClient http, TextWriter progress)
{
    private const string IdHeader = "X-Relay-Memory-Id";

    public async Task<RelayMemoryFigures> RunAsync(CancellationToken cancellationToken)
    {
        var directory = Path.Combine(options.WorkDirectory, "relay-memory");
        Directory.CreateDirectory(directory);
        using var sink = await SinkDump.StartAsync(children, Ports.Free(), Path.Combine(directory, "sink"), Path.Combine(directory, "smtp-sink.log"), cancellationToken);
        var limit = (options.MessageBytes + (1024 * 1024)).ToString(CultureInfo.InvariantCulture);
        using var node = new HeraldNode(options.HeraldDll, Path.Combine(directory, "data"), null, Path.Combine(directory, "serve.log"), children,
            new Dictionary<string, string?>
            {
                // Room for a message of the size asked for, and every session from the one client address.
                ["HERALD_Relay__MaxMessageBytes"] = limit,
                ["HERALD_Outbox__MaxMessageBytes"] = limit,
                ["HERALD_Relay__MaxSessions"] = (options.Sessions + 10).ToString(CultureInfo.InvariantCulture),
                ["HERALD_Relay__MaxSessionsPerAddress"] = (options.Sessions + 10).ToString(CultureInfo.InvariantCulture),
            });
        await node.ConfigureSmtpAsync(sink.Port, options.ConnectionLimit, cancellationToken);
        var relayPort = Ports.Free();
        await node.ConfigureRelayAsync(relayPort, cancellationToken);
        await node.StartAsync(Ports.Free(), http, cancellationToken);
        await node.WaitForRelayAsync(relayPort, cancellationToken);

        var body = Body(options.MessageBytes);
        using var watch = new ProcessWatch(node.ProcessId);
        watch.Enter("transfer");
        progress.WriteLine($"relay-memory: {options.Sessions} sessions sending {options.MessageBytes:#,0} bytes each");
        var started = Stopwatch.GetTimestamp();
        var replies = await Task.WhenAll(Enumerable.Range(0, options.Sessions).Select(i => Task.Run(() => SendAsync(relayPort, i, body, cancellationToken), CancellationToken.None)));
        var transfer = Stopwatch.GetElapsedTime(started);
        var problems = replies.Where(r => !r.StartsWith("250", StringComparison.Ordinal)).Distinct(StringComparer.Ordinal).Take(5).ToList();
        var accepted = replies.Count(r => r.StartsWith("250", StringComparison.Ordinal));

        watch.Enter("delivery");
        progress.WriteLine($"relay-memory: {accepted} accepted in {transfer.TotalSeconds:0.0} s; waiting for delivery");
        var deliveryStarted = Stopwatch.GetTimestamp();
        TimeSpan? delivered = null;
        var lastCount = -1;
        var lastProgress = Stopwatch.GetTimestamp();
        while (true)
        {
            var count = sink.Files().Count;
            if (count >= accepted)
            {
                delivered = Stopwatch.GetElapsedTime(deliveryStarted);
                break;
            }

            if (count != lastCount)
            {
                (lastCount, lastProgress) = (count, Stopwatch.GetTimestamp());
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) > options.StallTimeout)
            {
                problems.Add($"delivery stalled at {count} of {accepted}");
                break;
            }

            await Task.Delay(500, cancellationToken);
        }

        // Let smtp-sink finish writing the last dump before it is read.
        await Task.Delay(1000, cancellationToken);
        watch.Enter("rest");
        var resting = watch.Read().RssBytes;
        var (arrived, identical) = Compare(sink.Files(), body, problems);
        return new RelayMemoryFigures(
            options.Sessions, options.MessageBytes, accepted, transfer, watch.PeakDuring("transfer"), watch.PeakDuring("delivery"), resting,
            arrived, identical, delivered, problems);
    }

    /// <summary>The shared body: lines of 76 letters and digits, CRLF, no line starting with a dot,
    /// and a header section of the session's own in front (<see cref="Headers"/>).</summary>
    private static byte[] Body(int messageBytes)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var random = new Random(20261206);
        var body = new byte[messageBytes - 512];
        var column = 0;
        for (var i = 0; i < body.Length; i++)
        {
            if (i >= body.Length - 2)
            {
                body[i] = i == body.Length - 2 ? (byte)'\r' : (byte)'\n';
            }
            else if (column == 76)
            {
                body[i] = (byte)'\r';
                column++;
            }
            else if (column == 77)
            {
                body[i] = (byte)'\n';
                column = 0;
            }
            else
            {
                body[i] = (byte)Alphabet[random.Next(Alphabet.Length)];
                column++;
            }
        }

        return body;
    }

    private static byte[] Headers(int session) => Encoding.ASCII.GetBytes(
        $"From: app{session}@bench.example\r\nTo: rcpt@example.org\r\nSubject: Large message {session}\r\n"
        + $"Message-ID: <relay-memory-{session}@bench.example>\r\n{IdHeader}: {session}\r\nMIME-Version: 1.0\r\n"
        + "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");

    /// <summary>One session, one message, over a plain socket (so that the bytes sent are exactly
    /// these): the final reply to DATA, or why there was none.</summary>
    private static async Task<string> SendAsync(int port, int session, byte[] body, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port, cancellationToken);
            await using var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII, detectEncodingFromByteOrderMarks: false, bufferSize: 4096, leaveOpen: true);
            async Task<string> ReplyAsync()
            {
                while (true)
                {
                    var line = await reader.ReadLineAsync(cancellationToken) ?? throw new IOException("The relay closed the connection.");
                    if (line.Length < 4 || line[3] != '-')
                    {
                        return line;
                    }
                }
            }

            async Task<string> CommandAsync(string command)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), cancellationToken);
                return await ReplyAsync();
            }

            await ReplyAsync();
            await CommandAsync("EHLO bench.example");
            await CommandAsync($"MAIL FROM:<app{session}@bench.example>");
            await CommandAsync("RCPT TO:<rcpt@example.org>");
            var data = await CommandAsync("DATA");
            if (!data.StartsWith("354", StringComparison.Ordinal))
            {
                return data;
            }

            await stream.WriteAsync(Headers(session), cancellationToken);
            for (var offset = 0; offset < body.Length; offset += 64 * 1024)
            {
                await stream.WriteAsync(body.AsMemory(offset, Math.Min(64 * 1024, body.Length - offset)), cancellationToken);
            }

            await stream.WriteAsync(".\r\n"u8.ToArray(), cancellationToken);
            var reply = await ReplyAsync();
            await CommandAsync("QUIT");
            return reply;
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            return $"session {session}: {ex.Message}";
        }
    }

    /// <summary>How many dumps carry a session's id, and how many of those bodies are the body
    /// sent, byte for byte (smtp-sink stores LF for CRLF and ends the dump with one more LF).</summary>
    private static (int Arrived, int Identical) Compare(IReadOnlyList<string> dumps, byte[] body, List<string> problems)
    {
        var expected = body.Where(b => b != (byte)'\r').ToArray();
        var marker = Encoding.ASCII.GetBytes($"\n{IdHeader}: ");
        var sessions = new HashSet<string>(StringComparer.Ordinal);
        var identical = 0;
        foreach (var file in dumps)
        {
            var dump = File.ReadAllBytes(file);
            var at = dump.AsSpan().IndexOf(marker);
            if (at < 0)
            {
                continue;
            }

            var idEnd = dump.AsSpan(at + marker.Length).IndexOf((byte)'\n');
            sessions.Add(Encoding.ASCII.GetString(dump, at + marker.Length, idEnd));
            var bodyStart = dump.AsSpan(at).IndexOf("\n\n"u8);
            if (bodyStart >= 0 && dump.AsSpan(at + bodyStart + 2, dump.Length - (at + bodyStart + 2) - 1).SequenceEqual(expected))
            {
                identical++;
            }
            else if (problems.Count < 10)
            {
                problems.Add($"{Path.GetFileName(file)}: the body differs from what was sent");
            }
        }

        return (sessions.Count, identical);
    }
}
