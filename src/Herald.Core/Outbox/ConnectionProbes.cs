using Herald.Delivery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.Outbox;

/// <summary>
/// The other half of <see cref="ConnectionHealth"/>'s circuit breaker: while a connection is down
/// its messages are not claimed, and this loop tests it, one probe at a time at the breaker's
/// growing intervals (connect, TLS, authentication; nothing is sent). When a probe gets through,
/// the connection is up again, the messages deferred by the attempts that found it down are made
/// due at once, and the send loop is woken to drain the backlog at full speed.
/// </summary>
public sealed partial class ConnectionProbes(
    ConnectionHealth health,
    DeliveryConnections connections,
    IDeliveryPool pool,
    IOutboxStore outbox,
    OutboxSignal signal,
    TimeProvider time,
    ILogger<ConnectionProbes> log) : BackgroundService
{
    /// <summary>How often the loop looks for a connection newly down when none is due.</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = health.UntilNextProbe() is { } next && next < Idle ? next : Idle;
            try
            {
                await Task.Delay(wait, time, stoppingToken).ConfigureAwait(false);
                foreach (var connection in health.BeginDueProbes())
                {
                    await ProbeAsync(connection, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Tests one down connection and answers the breaker; never throws but for cancellation.</summary>
    public async Task ProbeAsync(string connection, CancellationToken cancellationToken)
    {
        try
        {
            var (opened, problem) = await connections.ByIdAsync(connection, cancellationToken).ConfigureAwait(false);
            if (opened is null)
            {
                // Removed, or no longer this node's: its messages go wherever their scope sends now.
                LogForgotten(log, connection, problem!);
                health.Forget(connection);
                signal.Notify();
                return;
            }

            var result = await pool.ProbeAsync(opened, cancellationToken).ConfigureAwait(false);
            if (result.FailedAt is not null)
            {
                health.ProbeFailed(connection, result.Failure!);
                LogProbeFailed(log, connection, result.Failure!);
                return;
            }

            health.ReportSuccess(connection);
            var resumed = await outbox.ResumeAsync(connection, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            LogBackUp(log, connection, resumed);
            signal.Notify();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The database or the secrets could not be read: the connection stays down and is probed again later.
            health.ProbeFailed(connection, $"The probe could not be made: {ex.Message}");
            LogProbeError(log, ex, connection);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SMTP connection {Connection} answers again; {Resumed} deferred message(s) are due now")]
    private static partial void LogBackUp(ILogger logger, string connection, int resumed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMTP connection {Connection} is still down: {Problem}")]
    private static partial void LogProbeFailed(ILogger logger, string connection, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "SMTP connection {Connection} is no longer probed: {Problem}")]
    private static partial void LogForgotten(ILogger logger, string connection, string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "Probing SMTP connection {Connection} failed; it stays down")]
    private static partial void LogProbeError(ILogger logger, Exception exception, string connection);
}
