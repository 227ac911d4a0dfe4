using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Herald.Outbox;
using Microsoft.Extensions.Logging;

namespace Herald.Relay;

/// <summary>
/// One relay listener: accepts connections on an endpoint and runs an SMTP session for each,
/// asking <see cref="IRelayGate"/> at every protocol step. Each session is asynchronous and has
/// deadlines, and the number of sessions (overall and per client address) is bounded, so idle or
/// slow clients cannot keep others from their greeting.
/// </summary>
public sealed class RelayServer : IAsyncDisposable
{
    private readonly IPEndPoint _endpoint;
    private readonly IRelayGate _gate;
    private readonly RelayOptions _options;
    private readonly MessageSpool _spool;
    private readonly SslStreamCertificateContext _certificate;
    private readonly ILogger<RelayServer> _logger;
    private readonly TimeProvider _time;
    private readonly string _hostName;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _sessions = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Lock _lock = new();
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;
    private int _open;
    private string _listen = "";

    public RelayServer(IPEndPoint endpoint, IRelayGate gate, RelayOptions options, MessageSpool spool, X509Certificate2 certificate, ILogger<RelayServer> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(gate);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(spool);
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        _endpoint = endpoint;
        _gate = gate;
        _options = options;
        _spool = spool;
        _certificate = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        _logger = logger;
        _time = time;
        _hostName = string.IsNullOrWhiteSpace(options.HostName) ? Dns.GetHostName() : options.HostName;
        LocalEndPoint = endpoint;
    }

    /// <summary>The bound endpoint (with the actual port when 0 was asked for) after <see cref="StartAsync"/>.</summary>
    public IPEndPoint LocalEndPoint { get; private set; }

    /// <summary>Sessions open right now.</summary>
    public int OpenSessions => Volatile.Read(ref _open);

    /// <summary>Binds the endpoint and starts accepting connections in the background.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        if (_listener is not null)
        {
            throw new InvalidOperationException("The relay listener is already started.");
        }

        var listener = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(_endpoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _listen = LocalEndPoint.ToString();
        RelayLog.Started(_logger, LocalEndPoint);
        _accepting = Task.Run(AcceptLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                // e.g. EMFILE under load: the listener stays up; the next accept may succeed.
                RelayLog.AcceptFailed(_logger, ex, LocalEndPoint);
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            socket.NoDelay = true;
            var remote = (IPEndPoint)socket.RemoteEndPoint!;
            var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
            var client = new RelayClient(address, remote.Port, _listen);
            var refusal = Enter(address);
            Track(refusal is null ? RunSessionAsync(socket, client) : RefuseAsync(socket, client, refusal));
        }
    }

    /// <summary>Counts a new session in, or says why it cannot be one.</summary>
    private SmtpReply? Enter(IPAddress address)
    {
        lock (_lock)
        {
            if (_open >= _options.MaxSessions)
            {
                return SmtpReplies.TooManySessions;
            }

            var fromAddress = _perAddress.GetValueOrDefault(address);
            if (fromAddress >= _options.MaxSessionsPerAddress)
            {
                return SmtpReplies.TooManySessionsFromAddress;
            }

            _perAddress[address] = fromAddress + 1;
            _open++;
            return null;
        }
    }

    private void Leave(IPAddress address)
    {
        lock (_lock)
        {
            _open--;
            if (--_perAddress[address] == 0)
            {
                _perAddress.Remove(address);
            }
        }
    }

    private void Track(Task session)
    {
        _sessions.TryAdd(session, 0);
        session.ContinueWith(t => _sessions.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RunSessionAsync(Socket socket, RelayClient client)
    {
        // Off the accept loop at once: the gate's AdmitAsync may take a while (reverse DNS).
        await Task.Yield();
        try
        {
            await using var session = new RelaySession(socket, client, _gate, _options, _spool, _hostName, _certificate, _logger, _time, _stopping.Token);
            await session.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            RelayLog.SessionFailed(_logger, ex, client.Address);
        }
        finally
        {
            socket.Dispose();
            Leave(client.Address);
        }
    }

    private async Task RefuseAsync(Socket socket, RelayClient client, SmtpReply refusal)
    {
        await Task.Yield();
        RelayLog.ClientRefused(_logger, client.Address, refusal);
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
            await socket.SendAsync(RelaySession.Format(refusal), SocketFlags.None, deadline.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            // Gone already.
        }
        finally
        {
            socket.Dispose();
        }
    }

    /// <summary>Stops accepting, tells open sessions 421 and waits until they have ended.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(_sessions.Keys).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
