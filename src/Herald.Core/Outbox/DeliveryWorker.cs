using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Herald.Credentials;
using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Herald.Outbox;

/// <summary>
/// Delivers the outbox: claims due messages with a lease, sends each message's pending recipients
/// in one SMTP transaction through the connection pool, and records every recipient's outcome.
/// Outcomes are recorded in batches, like submissions, so that a busy node commits once per batch.
/// </summary>
public sealed partial class DeliveryWorker(
    IOutboxStore outbox,
    OutgoingSettingsCache settings,
    CredentialVault vault,
    IDeliveryPool pool,
    NodeIdentity node,
    IOptions<DeliveryOptions> options,
    OutboxSignal signal,
    DeliveryHandoff handoff,
    DeliveryMetrics metrics,
    ConnectionHealth health,
    TimeProvider time,
    ILogger<DeliveryWorker> log) : BackgroundService
{
    private readonly SemaphoreSlim _opening = new(1, 1);
    private readonly Dictionary<string, OpenedConnection> _opened = new(StringComparer.Ordinal);
    private IReadOnlyList<SmtpConnection>? _listed;
    private string _leftToOthers = "";

    // The leases this node holds, by message id, with when each runs out as far as this node
    // knows: from the claim until the attempt's outcome is recorded.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _held = new(StringComparer.Ordinal);

    // Room for messages on this node (claimed or handed over, until sent), and the queue the
    // senders take them from; set while the worker runs.
    private SemaphoreSlim? _capacity;

    // How long a claim waits for one more slot while the senders are busy (see GatherRoomAsync).
    private static readonly TimeSpan GatherWait = TimeSpan.FromMilliseconds(5);
    private ChannelWriter<ClaimedMessage>? _work;

    // The connections this node may use (null: all), as of the last claim; messages for others
    // are never handed over here. Unknown (not yet claimed) means nothing is handed over yet.
    private volatile StrongBox<IReadOnlyCollection<string>?>? _allowed;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var capacity = new SemaphoreSlim(o.Concurrency * 2, o.Concurrency * 2);
        var work = Channel.CreateUnbounded<ClaimedMessage>();
        _capacity = capacity;
        _work = work.Writer;
        var outcomes = Channel.CreateUnbounded<AttemptOutcome>(new UnboundedChannelOptions { SingleReader = true });
        var senders = Enumerable.Range(0, o.Concurrency)
            .Select(_ => Task.Run(() => SendLoopAsync(work.Reader, outcomes.Writer, capacity, stoppingToken), CancellationToken.None))
            .ToArray();
        var recorder = Task.Run(() => RecordLoopAsync(outcomes.Reader), CancellationToken.None);
        var renewer = Task.Run(() => RenewLoopAsync(stoppingToken), CancellationToken.None);
        LogStarted(log, node.Name, o.Concurrency);
        handoff.Attach(this);

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await capacity.WaitAsync(stoppingToken).ConfigureAwait(false);
                var slots = 1 + await GatherRoomAsync(capacity, work.Reader, o.ClaimBatch - 1, stoppingToken).ConfigureAwait(false);

                IReadOnlyList<ClaimedMessage> claimed = [];
                var claimedAt = time.GetUtcNow();
                try
                {
                    var allowed = await AllowedConnectionsAsync(stoppingToken).ConfigureAwait(false);
                    _allowed = new StrongBox<IReadOnlyCollection<string>?>(allowed);
                    claimed = await outbox.ClaimAsync(node.Name, allowed, slots, claimedAt, o.Lease, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogClaimFailed(log, ex);
                }

                var queued = 0;
                foreach (var message in claimed)
                {
                    if (Hold(message.Id, claimedAt + o.Lease))
                    {
                        work.Writer.TryWrite(message);
                        queued++;
                    }
                }

                // Slots the claim did not fill go back (SemaphoreSlim refuses a release of 0).
                if (queued < slots)
                {
                    capacity.Release(slots - queued);
                }

                if (claimed.Count == 0)
                {
                    await signal.WaitAsync(o.PollInterval, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: claimed messages not yet started keep their lease until it expires.
        }

        handoff.Detach(this);
        work.Writer.TryComplete();
        await Task.WhenAll(senders).ConfigureAwait(false);
        outcomes.Writer.TryComplete();
        await recorder.ConfigureAwait(false);
        await renewer.ConfigureAwait(false);
    }

    /// <summary>
    /// More room for the claim that is about to run, up to <paramref name="most"/> slots: all that
    /// is free now and, while the senders still have messages queued (so waiting costs them
    /// nothing), what they free within a few milliseconds, until a quarter of a claim batch is
    /// gathered. A backlog (a 100,000-member fan-out) is then claimed in transactions of dozens of
    /// messages, not one transaction per freed slot: the database's writer is what such a backlog
    /// waits on.
    /// </summary>
    private static async Task<int> GatherRoomAsync(SemaphoreSlim capacity, ChannelReader<ClaimedMessage> queued, int most, CancellationToken stoppingToken)
    {
        var gathered = 0;
        while (gathered < most)
        {
            if (capacity.Wait(0, CancellationToken.None))
            {
                gathered++;
            }
            else if (gathered >= most / 4 || queued.Count == 0 || !await capacity.WaitAsync(GatherWait, stoppingToken).ConfigureAwait(false))
            {
                break;
            }
            else
            {
                gathered++;
            }
        }

        return gathered;
    }

    /// <summary>For <see cref="DeliveryHandoff"/>: the message leased to this node when there is
    /// room for it here and this node may use its connection; null otherwise.</summary>
    internal NewMessage? TryLease(NewMessage message) =>
        Accepts(message) && _capacity!.Wait(0, CancellationToken.None) ? Leased(message) : null;

    /// <summary>For <see cref="DeliveryHandoff"/>: whether this worker sends such a message once
    /// it has room (it runs, and this node may use the message's connection).</summary>
    internal bool Accepts(NewMessage message) =>
        _allowed is { } allowed && _capacity is not null
        && (allowed.Value is not { } connections || message.ConnectionName is not { } name || connections.Contains(name));

    /// <summary>For <see cref="DeliveryHandoff"/>: the message leased to this node, in room
    /// reserved for it with <see cref="ReserveAsync"/>.</summary>
    internal NewMessage Leased(NewMessage message) =>
        message with { Lease = new MessageLease(node.Name, time.GetUtcNow() + options.Value.Lease) };

    /// <summary>For <see cref="DeliveryHandoff"/>: room for up to <paramref name="most"/> messages,
    /// waiting up to <paramref name="patience"/> for the first slot and taking what else is free
    /// then; 0 when none came in time. Each slot is filled (<see cref="Take"/>) or given back.</summary>
    internal async Task<int> ReserveAsync(int most, TimeSpan patience, CancellationToken cancellationToken)
    {
        if (_capacity is not { } capacity || most <= 0 || !await capacity.WaitAsync(patience, cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        var reserved = 1;
        while (reserved < most && capacity.Wait(0, CancellationToken.None))
        {
            reserved++;
        }

        return reserved;
    }

    /// <summary>For <see cref="DeliveryHandoff"/>: a message stored leased to this node, to send
    /// as if it had been claimed.</summary>
    internal void Take(NewMessage message)
    {
        var claimed = new ClaimedMessage(
            message.Id,
            message.Scope,
            message.EnvelopeSender,
            message.ConnectionName,
            message.Mime,
            Attempts: 0,
            message.CreatedAt,
            message.ExpiresAt,
            message.Recipients.Select((address, ordinal) => new PendingRecipient(ordinal, address, 0)).ToArray())
        {
            Content = message.Content,
        };

        // A worker that has stopped takes nothing more: the lease runs out and a node sends it.
        if (!Hold(message.Id, message.Lease!.Until) || !_work!.TryWrite(claimed))
        {
            GiveBack();
        }
    }

    /// <summary>For <see cref="DeliveryHandoff"/>: room leased for a message that was not stored.</summary>
    internal void GiveBack() => _capacity?.Release();

    /// <summary>Notes a lease this node has just claimed; false when the message is already
    /// waiting here (its lease ran out while renewals failed), which then is not queued a second
    /// time: the claim has only renewed its lease.</summary>
    private bool Hold(string id, DateTimeOffset until)
    {
        while (true)
        {
            if (_held.TryAdd(id, until))
            {
                return true;
            }

            // Gone meanwhile (sent and recorded, or given up): the next round adds it afresh.
            if (_held.TryGetValue(id, out var known) && _held.TryUpdate(id, until, known))
            {
                return false;
            }
        }
    }

    private async Task SendLoopAsync(ChannelReader<ClaimedMessage> work, ChannelWriter<AttemptOutcome> outcomes, SemaphoreSlim capacity, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested && await work.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            if (!work.TryRead(out var message))
            {
                continue;
            }

            try
            {
                // Checked as the attempt begins (the wait for a connection slot and the rate limit
                // that follows is covered by the renewals): a message whose lease this node may
                // have lost, renewals having failed until it ran out, is left to whichever node
                // holds it now.
                if (!_held.TryGetValue(message.Id, out var until) || until <= time.GetUtcNow())
                {
                    _held.TryRemove(message.Id, out _);
                    LogLeaseLost(log, message.Id);
                    continue;
                }

                // A transaction under way is finished even when the node is stopping.
                outcomes.TryWrite(await DeliverAsync(message, CancellationToken.None).ConfigureAwait(false));
            }
            catch (Exception ex)
            {
                // No longer renewed, so that the lease runs out and the message is tried again.
                _held.TryRemove(message.Id, out _);
                LogDeliveryCrashed(log, message.Id, ex);
            }
            finally
            {
                capacity.Release();
            }
        }
    }

    private async Task RecordLoopAsync(ChannelReader<AttemptOutcome> outcomes)
    {
        var batch = new List<AttemptOutcome>();
        while (await outcomes.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < 512 && outcomes.TryRead(out var outcome))
            {
                batch.Add(outcome);
            }

            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await outbox.RecordAsync(batch, CancellationToken.None).ConfigureAwait(false);
                    // Recorded, and the leases released with it: nothing more to renew.
                    foreach (var outcome in batch)
                    {
                        _held.TryRemove(outcome.MessageId, out _);
                    }

                    break;
                }
                catch (Exception ex)
                {
                    // Never given up: these outcomes exist nowhere else, and the messages were
                    // sent. They are written again (every five seconds at most) and their leases
                    // renewed meanwhile, so that no node sends them again.
                    LogRecordFailed(log, batch.Count, ex);
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(200 * attempt, 5000)), time, CancellationToken.None).ConfigureAwait(false);
                }
            }

            batch.Clear();
        }
    }

    /// <summary>
    /// at-least-once, not twice: a message stays leased for as long as this node holds it, since
    /// waiting for a connection slot or a rate limit can take longer than one lease; a lease left
    /// to run out would let another node (or this one) claim and send the message again while
    /// it still waits here. Only the leases of a node that died (or lost the database) run out.
    /// </summary>
    private async Task RenewLoopAsync(CancellationToken stoppingToken)
    {
        var lease = options.Value.Lease;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(lease / 3, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var held = _held.ToArray();
            if (held.Length == 0)
            {
                continue;
            }

            var now = time.GetUtcNow();
            try
            {
                var renewed = (await outbox.RenewAsync(node.Name, held.Select(h => h.Key).ToArray(), now + lease, stoppingToken).ConfigureAwait(false))
                    .ToHashSet(StringComparer.Ordinal);
                foreach (var entry in held)
                {
                    // Each entry changes only if nothing changed it meanwhile (a new claim).
                    if (renewed.Contains(entry.Key))
                    {
                        _held.TryUpdate(entry.Key, now + lease, entry.Value);
                    }
                    else
                    {
                        // Recorded meanwhile, or taken over by another node: not ours any more.
                        _held.TryRemove(entry);
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogRenewFailed(log, held.Length, ex);
            }
        }
    }

    /// <summary>One attempt for one claimed message; never throws for delivery problems.</summary>
    public async Task<AttemptOutcome> DeliverAsync(ClaimedMessage message, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        // Past its maximum age a message gets one last attempt; a temporary failure then expires it.
        var lastChance = now >= message.ExpiresAt;
        var (connection, problem) = await ConnectionForAsync(message.Scope, cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            LogCannotSend(log, message.Id, problem!);
            return Outcome(message, now, lastChance, message.Recipients.Select(r => (r, RecipientOutcome.TransientFailure, (SmtpReplyText?)null, problem!)));
        }

        var mime = message.Content ?? Parse(message.Mime, cancellationToken);
        var result = await pool.SendAsync(
            new DeliveryRequest(connection, mime, message.EnvelopeSender, message.Recipients.Select(r => r.Address).ToArray()),
            cancellationToken).ConfigureAwait(false);

        var name = connection.Settings.Id;
        if (result.FailedAt is DeliveryStage.Authenticate or DeliveryStage.Tls)
        {
            health.ReportFailure(name, result.Failure!, configuration: true);
            LogConnectionFailing(log, name, result.Failure!);
        }
        else if (result.FailedAt is null or DeliveryStage.MailFrom or DeliveryStage.RcptTo or DeliveryStage.Data)
        {
            health.ReportSuccess(name);
        }

        var done = time.GetUtcNow();
        var byAddress = result.Recipients.ToDictionary(r => r.Address, StringComparer.OrdinalIgnoreCase);
        foreach (var recipient in result.Recipients.Where(r => r.Outcome == RecipientOutcome.Sent))
        {
            metrics.Delivered(name, done - message.CreatedAt);
        }

        return Outcome(message, done, lastChance, message.Recipients.Select(r =>
        {
            var own = byAddress[r.Address];
            return (r, own.Outcome, own.Reply, own.Detail);
        }), name);
    }

    // The bytes are in memory: the synchronous parser does the same without an await per block.
    private static MimeMessage Parse(byte[] bytes, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return MimeMessage.Load(stream, cancellationToken);
    }

    private AttemptOutcome Outcome(
        ClaimedMessage message,
        DateTimeOffset at,
        bool lastChance,
        IEnumerable<(PendingRecipient Recipient, RecipientOutcome Outcome, SmtpReplyText? Reply, string Detail)> results,
        string connection = "(none)")
    {
        var updates = results.Select(r =>
        {
            var state = r.Outcome switch
            {
                RecipientOutcome.Sent => RecipientState.Sent,
                RecipientOutcome.PermanentFailure => RecipientState.Bounced,
                _ => lastChance ? RecipientState.Expired : RecipientState.Deferred,
            };
            metrics.Recipient(RecipientStateNames.Values.NameOf(state), connection);
            return new RecipientUpdate(r.Recipient.Ordinal, state, r.Reply?.Code, r.Reply?.ToString() ?? r.Detail);
        }).ToArray();
        var next = RetrySchedule.NextAttempt(options.Value, message.Attempts + 1, at, message.ExpiresAt, Random.Shared);
        return new AttemptOutcome(message.Id, node.Name, at, updates, next);
    }

    /// <summary>The scope's connection with its secrets open (kept while its settings stay the
    /// same); or why the scope cannot send now (which defers, never drops).</summary>
    private async Task<(OpenedConnection? Connection, string? Problem)> ConnectionForAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var (route, unroutable) = await settings.GetRouteAsync(scope, cancellationToken).ConfigureAwait(false);
        if (route is null)
        {
            return (null, $"{unroutable} The message waits.");
        }

        var smtp = route.Connection;
        var name = smtp.Id;
        if (!node.MayUse(smtp))
        {
            return (null, $"SMTP connection {smtp.Qualified} is reserved for nodes tagged {string.Join(", ", smtp.NodeTags)}; node {node.Name} is not.");
        }

        await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_opened.TryGetValue(name, out var opened) && opened.Fingerprint == OpenedConnection.FingerprintOf(smtp))
            {
                return (opened, null);
            }

            var (fresh, problem) = await OpenedConnection.OpenAsync(smtp, vault, cancellationToken).ConfigureAwait(false);
            if (fresh is null)
            {
                // A configuration problem (no password, an unreadable secret): shown on the console like a refused login.
                health.ReportFailure(name, problem!, configuration: true);
                return (null, problem);
            }

            _opened[name] = fresh;
            return (fresh, null);
        }
        finally
        {
            _opening.Release();
        }
    }

    /// <summary>Null when this node may use every connection; otherwise the ones it may use.</summary>
    private async Task<IReadOnlyCollection<string>?> AllowedConnectionsAsync(CancellationToken cancellationToken)
    {
        var all = await settings.ListConnectionsAsync(cancellationToken).ConfigureAwait(false);
        // The cache hands out the same list until it reads the store again.
        if (!ReferenceEquals(all, _listed))
        {
            _listed = all;
            ReportLeftToOthers(all.Where(c => !node.MayUse(c)));
        }

        return all.All(node.MayUse) ? null : all.Where(node.MayUse).Select(c => c.Id).ToArray();
    }

    /// <summary>Says which connections this node leaves to other nodes, once and again whenever
    /// that changes: their messages are never claimed here, so they stay queued, with no attempt
    /// in their history, until a node with a matching tag runs; this line is where an operator
    /// finds out why.</summary>
    private void ReportLeftToOthers(IEnumerable<SmtpConnection> reserved)
    {
        var described = string.Join("; ", reserved.Select(c => $"{c.Qualified} (reserved for nodes tagged {string.Join(", ", c.NodeTags)})"));
        if (described == _leftToOthers)
        {
            return;
        }

        _leftToOthers = described;
        if (described.Length > 0)
        {
            LogLeftToOthers(log, node.Name, node.Tags.Count == 0 ? "none" : string.Join(", ", node.Tags), described);
        }
    }

    public override void Dispose()
    {
        _opening.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Delivery worker on node {Node} started ({Concurrency} in flight at most)")]
    private static partial void LogStarted(ILogger logger, string node, int concurrency);

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} (tags: {Tags}) does not deliver through SMTP connection(s) {Connections}: their messages stay queued until a node carrying one of those tags runs")]
    private static partial void LogLeftToOthers(ILogger logger, string node, string tags, string connections);

    [LoggerMessage(Level = LogLevel.Error, Message = "Claiming due messages failed; trying again")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivering message {MessageId} failed unexpectedly; its lease will expire and it will be retried")]
    private static partial void LogDeliveryCrashed(ILogger logger, string messageId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Renewing the leases of {Count} message(s) failed; trying again")]
    private static partial void LogRenewFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageId} is not sent by this node: its lease ran out before the transaction began, and whichever node holds it now sends it")]
    private static partial void LogLeaseLost(ILogger logger, string messageId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording {Count} delivery outcome(s) failed; retrying")]
    private static partial void LogRecordFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageId} cannot be sent now: {Problem}")]
    private static partial void LogCannotSend(ILogger logger, string messageId, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SMTP connection {Connection} is failing: {Problem}")]
    private static partial void LogConnectionFailing(ILogger logger, string connection, string problem);
}
