using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Herald.Outbox;
using Herald.Relay;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Listeners;

/// <summary>
/// Runs one <see cref="RelayServer"/> per relay listener in force (the stored ones, or the
/// default one while none is stored) and reconciles them with the settings every few seconds:
/// a new endpoint starts, a removed one stops. A policy change needs no restart at all, since
/// each listener's gate reads the settings for every session. An endpoint that cannot be bound
/// (port in use, address not on this host) is logged once and tried again; serve keeps running.
/// </summary>
public sealed partial class RelayListenerHost(
    RelaySettingsCache settings,
    RelayGateFactory gates,
    IOptions<RelayOptions> options,
    MessageSpool spool,
    string dataDirectory,
    ILoggerFactory loggers,
    TimeProvider time) : BackgroundService
{
    /// <summary>How often the running listeners are compared with the stored ones; with the
    /// settings cache's lifetime, a change on any node is applied within about four seconds.</summary>
    public static readonly TimeSpan ReconcileInterval = TimeSpan.FromSeconds(2);

    private readonly ILogger _logger = loggers.CreateLogger<RelayListenerHost>();
    private readonly Dictionary<string, RelayServer> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _failing = new(StringComparer.Ordinal);
    private X509Certificate2? _certificate;

    /// <summary>The endpoints listening now, by their listener's endpoint text (for tests and logs).</summary>
    public IReadOnlyCollection<string> Listening
    {
        get
        {
            lock (_running)
            {
                return [.. _running.Keys];
            }
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Once per process: a missing or unreadable certificate file stops serve with the reason.
        try
        {
            _certificate = RelayCertificate.LoadOrCreate(options.Value.CertificatePath, options.Value.CertificatePassword, dataDirectory);
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
        {
            var path = options.Value.CertificatePath ?? Path.Combine(dataDirectory, RelayCertificate.GeneratedFileName);
            LogCertificateFailed(_logger, ex, path);
            throw;
        }

        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        RelayServer[] servers;
        lock (_running)
        {
            servers = [.. _running.Values];
            _running.Clear();
        }

        foreach (var server in servers)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        _certificate?.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReconcileAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be away for a moment; the running listeners go on meanwhile.
                LogReconcileFailed(_logger, ex);
            }

            try
            {
                await Task.Delay(ReconcileInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var wanted = (await settings.GetListenersAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(l => l.Listen, StringComparer.Ordinal);
        KeyValuePair<string, RelayServer>[] removed;
        lock (_running)
        {
            removed = _running.Where(r => !wanted.ContainsKey(r.Key)).ToArray();
            foreach (var (listen, _) in removed)
            {
                _running.Remove(listen);
            }
        }

        foreach (var (listen, server) in removed)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            LogStopped(_logger, listen);
        }

        foreach (var key in _failing.Keys.Where(k => !wanted.ContainsKey(k)).ToArray())
        {
            _failing.Remove(key);
        }

        foreach (var listener in wanted.Values)
        {
            bool running;
            lock (_running)
            {
                running = _running.ContainsKey(listener.Listen);
            }

            if (!running)
            {
                await StartListenerAsync(listener, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task StartListenerAsync(RelayListenerSettings listener, CancellationToken cancellationToken)
    {
        if (!RelayAddresses.TryParseEndpoint(listener.Listen, out var endpoint, out var error))
        {
            ReportFailure(listener.Listen, error);
            return;
        }

        var server = new RelayServer(endpoint, gates.Create(listener.Listen), options.Value, spool, _certificate!, loggers.CreateLogger<RelayServer>(), time);
        try
        {
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            ReportFailure(listener.Listen, ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the port is already in use by another program",
                SocketError.AddressNotAvailable => "the address does not belong to this host",
                SocketError.AccessDenied => "permission denied (ports below 1024 need privileges)",
                _ => ex.Message,
            });
            return;
        }

        lock (_running)
        {
            _running[listener.Listen] = server;
        }

        _failing.Remove(listener.Listen);
        LogStarted(_logger, listener.Listen, listener.Scope, listener.Access, listener.Auth);
    }

    private void ReportFailure(string listen, string reason)
    {
        // Once per endpoint and reason: it is tried again every few seconds, quietly.
        if (_failing.TryGetValue(listen, out var reported) && reported == reason)
        {
            return;
        }

        _failing[listen] = reason;
        LogBindFailed(_logger, listen, reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Relay listener {Listen} is accepting mail for scope {Scope} (access {Access}, auth {Auth})")]
    private static partial void LogStarted(ILogger logger, string listen, Scopes.ScopePath scope, RelayAccessMode access, RelayAuthMode auth);

    [LoggerMessage(Level = LogLevel.Information, Message = "Relay listener {Listen} was removed from the settings and has stopped")]
    private static partial void LogStopped(ILogger logger, string listen);

    [LoggerMessage(Level = LogLevel.Error, Message = "Relay listener {Listen} cannot listen: {Reason}. Herald keeps running and tries again every few seconds; change it with 'herald relay set --listen …' or free the port")]
    private static partial void LogBindFailed(ILogger logger, string listen, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay listeners could not be compared with the settings; the running ones go on")]
    private static partial void LogReconcileFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The relay's STARTTLS certificate {Path} cannot be loaded")]
    private static partial void LogCertificateFailed(ILogger logger, Exception exception, string path);
}
