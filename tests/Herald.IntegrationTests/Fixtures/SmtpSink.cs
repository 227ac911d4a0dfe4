using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MimeKit;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// Postfix's <c>smtp-sink</c> as an upstream for fault tests: it accepts everything unless told to
/// reject, delay or drop chosen commands (<c>-r</c>/<c>-f</c> 4xx/5xx, <c>-q</c>/<c>-Q</c>
/// disconnects, <c>-w</c>/<c>-W</c> delays; see <c>man smtp-sink</c>), and it can be stopped and
/// restarted on the same port to play an upstream that is down for a while.
/// </summary>
/// <remarks>
/// Every mail transaction is dumped to its own file (<c>-d DIR/%Y%m%d%H/</c>: smtp-sink expands the
/// template with strftime and appends a random 8-digit hex name, created with O_EXCL, so
/// DIR/2026112309/6c84fb6c). The file is opened at MAIL, deleted again on RSET or a dropped
/// connection, and closed at the final dot before the reply to it is sent; a file the sink still
/// holds open is a transaction in progress and is not reported.
/// </remarks>
public sealed class SmtpSink : IDisposable
{
    private static readonly string[] EndOfDataFailures = ["-r", "-f", "-q", "-Q"];

    private const UnixFileMode Traversable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private readonly string _directory;
    private readonly List<Generation> _generations = [];
    private readonly ProcessOutput _output = new();
    private readonly Lock _lock = new();
    private Process? _process;

    private SmtpSink(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Starts a sink on a free loopback port with smtp-sink's own options added
    /// (e.g. <c>"-r", "RCPT"</c>); returns once it answers connections.</summary>
    public static SmtpSink Start(params string[] extraFlags)
    {
        var directory = Directory.CreateTempSubdirectory("herald-sink-").FullName;
        // smtp-sink drops to nobody after binding; it must be able to reach the dump directories.
        File.SetUnixFileMode(directory, Traversable);
        for (var attempt = 1; ; attempt++)
        {
            var sink = new SmtpSink(directory, LoopbackPort.Free());
            try
            {
                sink.Launch(extraFlags);
                return sink;
            }
            catch (InvalidOperationException) when (attempt < 5 && sink.Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                // Another process took the port between the probe and the bind; take another.
                sink.Stop();
            }
        }
    }

    /// <summary>What smtp-sink printed (errors only, without <c>-v</c>).</summary>
    public string Output => _output.Text;

    /// <summary>
    /// The messages the sink accepted, oldest first (by when the sink finished writing them),
    /// across restarts. A message counts once its final dot was read; transactions still in
    /// progress, aborted (RSET, dropped connection) or cut off by <see cref="Stop"/> do not. Nor do
    /// those received while "." was rejected or dropped (<c>-r .</c>, <c>-f .</c>, <c>-q .</c>,
    /// <c>-Q .</c>): smtp-sink dumps those before it sends the failure, but the client was told
    /// they were not accepted.
    /// </summary>
    public IReadOnlyList<SinkMessage> Received()
    {
        lock (_lock)
        {
            var files = new List<string>();
            foreach (var generation in _generations.Where(g => g.AcceptsEndOfData && Directory.Exists(g.Directory)))
            {
                files.AddRange(Directory.EnumerateFiles(generation.Directory, "*", SearchOption.AllDirectories));
            }

            // Listed before looking at what is open: a file missing from the open set was closed by then.
            var open = OpenDumpFiles();
            var messages = new List<(DateTime Written, string Path, SinkMessage Message)>();
            foreach (var file in files.Where(f => !open.Contains(f)))
            {
                try
                {
                    messages.Add((File.GetLastWriteTimeUtc(file), file, SinkMessage.Parse(File.ReadAllBytes(file))));
                }
                catch (FileNotFoundException)
                {
                    // Aborted (RSET or a dropped connection) after it was listed.
                }
            }

            return messages.OrderBy(m => m.Written).ThenBy(m => m.Path, StringComparer.Ordinal).Select(m => m.Message).ToArray();
        }
    }

    /// <summary>How many mail transactions the sink is in the middle of: MAIL FROM accepted, the
    /// final dot not yet read.</summary>
    public int InProgress
    {
        get
        {
            lock (_lock)
            {
                return OpenDumpFiles().Count;
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> messages were received, and returns
    /// them all.</summary>
    public async Task<IReadOnlyList<SinkMessage>> WaitForAsync(int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var received = Received();
            if (received.Count >= count)
            {
                return received;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"smtp-sink on port {Port} received {received.Count} of {count} message(s) in {timeout}.\n{Output}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Stops the sink: the port refuses connections until <see cref="Restart"/>. Messages
    /// received so far stay readable; a transaction in progress is lost, as on a crash.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            if (_process is null)
            {
                return;
            }

            if (!_process.HasExited)
            {
                // Frozen first, so that the set of half-written dumps cannot change while it is read.
                Signal(_process.Id, "STOP");
                WaitUntilStopped(_process);
                var partial = OpenDumpFiles();
                _process.Kill();
                _process.WaitForExit();
                foreach (var file in partial)
                {
                    File.Delete(file);
                }
            }

            _process.Dispose();
            _process = null;
        }
    }

    /// <summary>Starts the sink again on the same port, with these flags instead of the earlier ones.</summary>
    public void Restart(params string[] flags)
    {
        Stop();
        // The old listener is gone, but a port can stay busy for a moment (smtp-sink binds with
        // SO_REUSEADDR, so TIME_WAIT connections do not matter); try for a few seconds.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Launch(flags);
                return;
            }
            catch (InvalidOperationException) when (attempt < 20 && Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                Stop();
                Thread.Sleep(250);
            }
        }
    }

    public void Dispose()
    {
        Stop();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Left in the temp directory; nothing holds it any more.
        }
    }

    private void Launch(string[] flags)
    {
        lock (_lock)
        {
            var generation = new Generation(Path.Combine(_directory, $"run{_generations.Count + 1}"), AcceptsEndOfData(flags));
            Directory.CreateDirectory(generation.Directory);
            File.SetUnixFileMode(generation.Directory, Traversable | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);
            _generations.Add(generation);

            var start = new ProcessStartInfo(Executable()) { RedirectStandardOutput = true, RedirectStandardError = true };
            if (Environment.IsPrivilegedProcess)
            {
                // smtp-sink refuses to run as root without it.
                start.ArgumentList.Add("-u");
                start.ArgumentList.Add("nobody");
            }

            // Template semantics: strftime, then a random hex name appended; missing directories are created.
            start.ArgumentList.Add("-d");
            start.ArgumentList.Add(generation.Directory + "/%Y%m%d%H/");
            foreach (var flag in flags)
            {
                start.ArgumentList.Add(flag);
            }

            start.ArgumentList.Add($"127.0.0.1:{Port}");
            start.ArgumentList.Add("256");

            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, e) => _output.Append(e.Data);
            _process.ErrorDataReceived += (_, e) => _output.Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            WaitUntilListening(_process);
        }
    }

    private void WaitUntilListening(Process process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                process.WaitForExit(); // Flushes the redirected output into Output.
                throw new InvalidOperationException($"smtp-sink on port {Port} exited with {process.ExitCode}:\n{Output}");
            }

            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(20);
            }
        }

        throw new InvalidOperationException($"smtp-sink did not listen on port {Port} within 10 s:\n{Output}");
    }

    /// <summary>Dump files the running sink holds open: transactions in progress.</summary>
    private HashSet<string> OpenDumpFiles()
    {
        var open = new HashSet<string>(StringComparer.Ordinal);
        if (_process is null || _process.HasExited)
        {
            return open;
        }

        try
        {
            foreach (var descriptor in new DirectoryInfo($"/proc/{_process.Id}/fd").EnumerateFileSystemInfos())
            {
                if (descriptor.LinkTarget is { } target && target.StartsWith(_directory + "/", StringComparison.Ordinal))
                {
                    open.Add(target);
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            // It exited meanwhile; nothing is open.
        }

        return open;
    }

    /// <summary>Whether a message can be accepted at all with these flags: smtp-sink dumps a message
    /// before answering its final dot, so a generation that rejects or drops "." dumps only refusals.</summary>
    private static bool AcceptsEndOfData(string[] flags)
    {
        for (var i = 0; i < flags.Length; i++)
        {
            var option = EndOfDataFailures.FirstOrDefault(o => flags[i].StartsWith(o, StringComparison.Ordinal));
            if (option is null)
            {
                continue;
            }

            // getopt: "-r ." or "-r.".
            var commands = flags[i].Length > option.Length ? flags[i][option.Length..] : i + 1 < flags.Length ? flags[++i] : "";
            if (commands.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries).Contains("."))
            {
                return false;
            }
        }

        return true;
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private static void WaitUntilStopped(Process process)
    {
        // /proc/PID/stat: "pid (comm) S ..."; T once the stop signal has taken effect.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            var stat = File.ReadAllText($"/proc/{process.Id}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('T'))
            {
                return;
            }

            Thread.Sleep(5);
        }
    }

    private static string Executable() => File.Exists("/usr/sbin/smtp-sink") ? "/usr/sbin/smtp-sink" : "smtp-sink";



    /// <summary>One run of smtp-sink (Start or Restart) and where it dumps.</summary>
    private sealed record Generation(string Directory, bool AcceptsEndOfData);
}

/// <summary>A message as smtp-sink received it: the envelope (MAIL FROM and each accepted RCPT TO
/// address) and the message content.</summary>
/// <param name="Data">The content between DATA and the final dot, dot-unstuffed, with CRLF line
/// ends. smtp-sink stores lines (it drops every CR), so CRLF is restored here; a bare LF or CR the
/// client sent cannot be told apart, which no client following RFC 5321 sends.</param>
public sealed record SinkMessage(string Sender, IReadOnlyList<string> Recipients, byte[] Data)
{
    /// <summary>What the client greeted with (EHLO/HELO argument), when smtp-sink recorded it.</summary>
    public string? Helo { get; init; }

    public MimeMessage ToMimeMessage() => MimeMessage.Load(new MemoryStream(Data));

    /// <summary>
    /// Reads one smtp-sink dump file ("dump file format" in <c>man smtp-sink</c>): header records
    /// X-Client-Addr, X-Client-Proto, optionally X-Helo-Args, X-Mail-Args, one X-Rcpt-Args per
    /// accepted recipient, then a three-line Received: header, then the message lines, then the
    /// empty line that stands for the terminating ".".
    /// </summary>
    public static SinkMessage Parse(byte[] dump)
    {
        string? sender = null;
        string? helo = null;
        var recipients = new List<string>();
        var position = 0;
        while (true)
        {
            var line = ReadLine(dump, ref position) ?? throw new InvalidDataException("An smtp-sink dump without its Received: header.");
            if (line.StartsWith("X-Helo-Args: ", StringComparison.Ordinal))
            {
                helo = line["X-Helo-Args: ".Length..].Trim();
            }
            else if (line.StartsWith("X-Mail-Args: ", StringComparison.Ordinal))
            {
                sender = Address(line["X-Mail-Args: ".Length..]);
            }
            else if (line.StartsWith("X-Rcpt-Args: ", StringComparison.Ordinal))
            {
                recipients.Add(Address(line["X-Rcpt-Args: ".Length..]));
            }
            else if (line.StartsWith("Received: ", StringComparison.Ordinal))
            {
                // Its two continuation lines: "\tby … id …;" and "\tdate".
                for (var i = 0; i < 2; i++)
                {
                    if (ReadLine(dump, ref position) is not ['\t', ..])
                    {
                        throw new InvalidDataException("An smtp-sink dump whose Received: header is not three lines.");
                    }
                }

                break;
            }
        }

        if (sender is null || dump.Length == position || dump[^1] != (byte)'\n')
        {
            throw new InvalidDataException("An incomplete smtp-sink dump (no X-Mail-Args:, or no end of data).");
        }

        var content = dump.AsSpan(position, dump.Length - position - 1);
        var data = new List<byte>(content.Length + (content.Length / 32));
        foreach (var b in content)
        {
            if (b == (byte)'\n')
            {
                data.Add((byte)'\r');
            }

            data.Add(b);
        }

        return new SinkMessage(sender, recipients, [.. data]) { Helo = helo };
    }

    private static string? ReadLine(byte[] dump, ref int position)
    {
        var end = Array.IndexOf(dump, (byte)'\n', position);
        if (end < 0)
        {
            return null;
        }

        var line = Encoding.UTF8.GetString(dump, position, end - position);
        position = end + 1;
        return line;
    }

    /// <summary>"&lt;a@example.org&gt; SIZE=123 BODY=8BITMIME" → "a@example.org"; "&lt;&gt;" → "".</summary>
    private static string Address(string arguments)
    {
        var open = arguments.IndexOf('<', StringComparison.Ordinal);
        var close = open < 0 ? -1 : arguments.IndexOf('>', open);
        return close > open ? arguments[(open + 1)..close] : arguments.Split(' ', 2)[0];
    }
}
