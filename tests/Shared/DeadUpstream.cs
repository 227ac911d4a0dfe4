using System.Net;
using System.Net.Sockets;

namespace Herald.Testing;

/// <summary>
/// The upstream while it is down: a listener on the sink's port that counts every TCP connection
/// made to it and closes each at once, before any greeting, as a smart host whose SMTP service has
/// died behind its address does. From Herald's side it is a connection that fails at the first
/// stage (no greeting); from the benchmark's, every connection attempt is counted.
/// </summary>
public sealed class DeadUpstream : IDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _connections;

    private DeadUpstream(TcpListener listener)
    {
        _listener = listener;
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted (and closed) so far.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    public static DeadUpstream Start(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        // The port was the sink's a moment ago (and is again afterwards): its old connections may
        // still be in TIME_WAIT.
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start(backlog: 512);
        return new DeadUpstream(listener);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _accepting.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // Stopped while accepting; nothing to report.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            client.Dispose();
        }
    }
}
