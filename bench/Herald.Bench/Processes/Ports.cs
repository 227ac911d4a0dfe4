using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Herald.Bench.Processes;

/// <summary>Loopback ports for the processes the benchmark starts.</summary>
internal static class Ports
{
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The first of <paramref name="count"/> consecutive free ports (for a fixture that
    /// takes a base port and listens on the ones after it too).</summary>
    public static int FreeRange(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var first = Free();
            if (first + count <= IPEndPoint.MaxPort && Enumerable.Range(first + 1, count - 1).All(IsFree))
            {
                return first;
            }
        }

        throw new InvalidOperationException($"No {count} consecutive free loopback ports were found.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Waits until something accepts connections on the port, failing at once if the
    /// process meant to listen there exits.</summary>
    public static async Task WaitUntilListeningAsync(int port, Process process, string what, string logFile, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited with {process.ExitCode} before listening on port {port}; see {logFile}.");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, cancellationToken);
            }
        }

        throw new TimeoutException($"{what} did not listen on port {port} within 30 s; see {logFile}.");
    }
}
