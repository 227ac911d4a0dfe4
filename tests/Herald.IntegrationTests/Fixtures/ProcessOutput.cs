using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>Everything a child process has written so far, stdout and stderr interleaved as
/// they arrived, readable while it runs.</summary>
public sealed class ProcessOutput
{
    private readonly StringBuilder _text = new();

    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    public void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_text)
        {
            _text.AppendLine(line);
        }
    }
}

/// <summary>
/// Ports for the servers tests start (Herald, Postfix, Dovecot…), which bind them a while later.
/// Not the kernel's "any free port": that is drawn from the ephemeral range, where the next
/// outgoing connection, or the next test asking, may get the same port before the server binds
/// it; a CI run once saw a test's client reach another test's Herald on a reused port (401 for a
/// key that node never had). So each port is handed out once per test process, from below the
/// ephemeral range (Linux: 32768–60999), starting at a point of its own per process.
/// </summary>
public static class LoopbackPort
{
    private const int First = 10_000;
    private const int Span = 22_000;
    private static int _next = Random.Shared.Next(Span);

    /// <summary>A TCP port on 127.0.0.1 that nothing listens on at this moment and that this
    /// process has not handed out before.</summary>
    public static int Free()
    {
        for (var tried = 0; tried < Span; tried++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref _next) % Span);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use by something else: the next one.
            }
        }

        throw new InvalidOperationException($"No free port on 127.0.0.1 between {First} and {First + Span}.");
    }
}
