using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Herald.Outbox;
using Herald.Settings;
using MailKit;
using Microsoft.Extensions.Options;

namespace Herald.Delivery;

/// <summary>
/// Keeps open, authenticated SMTP sessions per SMTP connection and reuses them: at most the
/// connection's limit at once, at most its rate per minute, idle ones closed after a while. A
/// reused session that turns out to be dead is replaced once, transparently.
/// </summary>
public sealed class SmtpConnectionPool(IOptions<DeliveryOptions> options, TimeProvider time, UpstreamSizeLimits sizeLimits, AccessTokens tokens) : IDeliveryPool, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lane> _lanes = new(StringComparer.Ordinal);

    public async Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken)
    {
        var connection = request.Connection;
        var lane = LaneOf(connection);
        await lane.Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (lane.Rate is { } rate)
            {
                using var lease = await rate.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
            }

            for (var attempt = 0; ; attempt++)
            {
                var reused = lane.TryTakeIdle(time.GetUtcNow() - options.Value.IdleConnectionTimeout, out var session);
                if (!reused)
                {
                    var (opened, failure) = await SmtpSession.OpenAsync(request.Connection, tokens, new NullProtocolLogger(), EhloName.For(request.Connection.Settings, request.EnvelopeSender), cancellationToken).ConfigureAwait(false);
                    if (opened is null)
                    {
                        return Failed(request, failure!);
                    }

                    // The relay refuses at MAIL time what this server would refuse anyway.
                    sizeLimits.Report(connection.Settings.Id, opened.MaxSize);
                    session = opened;
                }

                var current = session!;
                var (results, sendFailure) = await TransactAsync(current, request, cancellationToken).ConfigureAwait(false);
                if (sendFailure is null && current.IsUsable)
                {
                    current.LastUsed = time.GetUtcNow();
                    lane.ReturnIdle(current);
                    return new DeliveryResult(results, null, null, "");
                }

                await current.CloseAsync(cancellationToken).ConfigureAwait(false);
                // A pooled connection the server has dropped meanwhile fails before anything was
                // accepted; one fresh connection gets the same transaction.
                if (reused && attempt == 0 && sendFailure is { Reply: null } && !results.Any(r => r.Outcome == RecipientOutcome.Sent))
                {
                    continue;
                }

                return new DeliveryResult(results, sendFailure?.Stage, sendFailure?.Message, "");
            }
        }
        finally
        {
            lane.Slots.Release();
        }
    }

    /// <summary>One transaction for every recipient, or, when each has its own envelope sender
    /// (<see cref="DeliveryRequest.RecipientSenders"/>), one per recipient on this session (MailKit
    /// resets a transaction the server refused before the next MAIL FROM). Once a failure has
    /// closed the session, the recipients not yet tried share it.</summary>
    private static async Task<(IReadOnlyList<RecipientResult> Results, SessionFailure? Failure)> TransactAsync(
        SmtpSession session, DeliveryRequest request, CancellationToken cancellationToken)
    {
        if (request.RecipientSenders is not { } senders)
        {
            return await session.SendAsync(request.Message, request.EnvelopeSender, request.Recipients, cancellationToken).ConfigureAwait(false);
        }

        var results = new List<RecipientResult>(request.Recipients.Count);
        SessionFailure? failure = null;
        for (var i = 0; i < request.Recipients.Count; i++)
        {
            if (failure is not null && !session.IsUsable)
            {
                results.Add(new RecipientResult(request.Recipients[i], failure.Outcome, failure.Reply, failure.Message));
                continue;
            }

            var (one, oneFailure) = await session.SendAsync(request.Message, senders[i], [request.Recipients[i]], cancellationToken).ConfigureAwait(false);
            results.AddRange(one);
            failure = oneFailure ?? failure;
        }

        return (results, failure);
    }

    /// <summary>
    /// Opens one session (connect, TLS, authentication) to test a connection that is down, within
    /// its connection limit. A session that opens is kept as an idle one, so that the first message
    /// after the outage goes out on it; a failure says at which stage and why.
    /// </summary>
    public async Task<DeliveryResult> ProbeAsync(OpenedConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var lane = LaneOf(connection);
        await lane.Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (opened, failure) = await SmtpSession.OpenAsync(connection, tokens, new NullProtocolLogger(), EhloName.For(connection.Settings, null), cancellationToken).ConfigureAwait(false);
            if (opened is null)
            {
                return new DeliveryResult([], failure!.Stage, failure.Message, "");
            }

            sizeLimits.Report(connection.Settings.Id, opened.MaxSize);
            opened.LastUsed = time.GetUtcNow();
            lane.ReturnIdle(opened);
            return new DeliveryResult([], null, null, "");
        }
        finally
        {
            lane.Slots.Release();
        }
    }

    /// <summary>Whether the last attempt through a connection failed for a configuration reason
    /// (authentication, TLS), and why.</summary>
    public static bool IsConfigurationFailure(DeliveryResult result) =>
        result.FailedAt is DeliveryStage.Authenticate or DeliveryStage.Tls;

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes.Values)
        {
            await lane.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The lane of the connection's current settings (a changed connection gets a new one).
    /// By the connection's stored identity: two scopes may each own a connection of the same name.</summary>
    private Lane LaneOf(OpenedConnection connection) => _lanes.AddOrUpdate(
        connection.Settings.Id,
        _ => new Lane(connection),
        (_, existing) => existing.Fingerprint == connection.Fingerprint ? existing : Replace(existing, connection));

    private static DeliveryResult Failed(DeliveryRequest request, SessionFailure failure) => new(
        request.Recipients.Select(r => new RecipientResult(r, failure.Outcome, failure.Reply, failure.Message)).ToArray(),
        failure.Stage, failure.Message, "");

    private static Lane Replace(Lane existing, OpenedConnection connection)
    {
        // Settings changed: new sessions from now on; the old ones are closed as they come back.
        _ = existing.DisposeAsync().AsTask();
        return new Lane(connection);
    }

    /// <summary>The sessions and limits of one SMTP connection, for one version of its settings.</summary>
    private sealed class Lane(OpenedConnection connection) : IAsyncDisposable
    {
        private readonly ConcurrentStack<SmtpSession> _idle = new();
        private bool _disposed;

        public string Fingerprint { get; } = connection.Fingerprint;

        public SemaphoreSlim Slots { get; } = new(connection.Settings.ConnectionLimit, connection.Settings.ConnectionLimit);

        public RateLimiter? Rate { get; } = connection.Settings.RateLimitPerMinute is { } perMinute
            ? new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, perMinute / 60),
                TokensPerPeriod = Math.Max(1, perMinute / 60),
                ReplenishmentPeriod = TimeSpan.FromSeconds(perMinute >= 60 ? 1 : 60.0 / perMinute),
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            })
            : null;

        public bool TryTakeIdle(DateTimeOffset staleBefore, out SmtpSession? session)
        {
            while (_idle.TryPop(out session))
            {
                if (session.IsUsable && session.LastUsed >= staleBefore)
                {
                    return true;
                }

                session.Dispose();
            }

            session = null;
            return false;
        }

        public void ReturnIdle(SmtpSession session)
        {
            if (Volatile.Read(ref _disposed))
            {
                session.Dispose();
                return;
            }

            _idle.Push(session);
        }

        public async ValueTask DisposeAsync()
        {
            Volatile.Write(ref _disposed, true);
            while (_idle.TryPop(out var session))
            {
                await session.CloseAsync(CancellationToken.None).ConfigureAwait(false);
            }

            Rate?.Dispose();
        }
    }
}
