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
