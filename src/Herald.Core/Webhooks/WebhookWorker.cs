using System.Collections.Concurrent;
using System.Text;
using Herald.Credentials;
using Herald.Outbox;
using Herald.Settings;
using Herald.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Webhooks;

/// <summary>
/// The webhook loop: a <see cref="WorkLoop{TItem}"/> of deliveries, as the delivery worker is one
/// of messages. It claims due deliveries (only the earliest undelivered one of each message per
/// endpoint, so a message's changes arrive in order), keeps their leases renewed while they are
/// tried, posts each one signed, and records the outcomes in batches. at-least-once: a delivery
/// is recorded as delivered only after a 2xx; a node that dies mid-attempt lets its lease run out
/// and the delivery is sent again, with the same <c>webhook-id</c>.
/// </summary>
public sealed partial class WebhookWorker(
    IWebhookStore store,
    CredentialVault vault,
    WebhookSender sender,
    WebhookSignal signal,
    NodeIdentity node,
    IOptions<WebhookOptions> options,
    IOptions<WorkOptions> work,
    TimeProvider time,
    ILoggerFactory logs) : BackgroundService
{
    private static readonly TimeSpan PruneEvery = TimeSpan.FromHours(1);

    private readonly ILogger _log = logs.CreateLogger<WebhookWorker>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var leases = new LeaseKeeper<long>(
            "webhook delivery", o.Lease, async (ids, until, ct) => await store.RenewAsync(node.Name, ids, until, ct).ConfigureAwait(false), time, _log);
        var recorder = new BatchRecorder<WebhookOutcome, long>(
            "webhook delivery", outcomes => store.RecordAsync(outcomes, o.LogSize, time.GetUtcNow() - o.DisableAfter, CancellationToken.None), d => d.Sequence, leases, time, _log);
        using var room = new WorkRoom(o.Concurrency);
        var deliveries = new Deliveries(store, vault, sender, node, o, leases, recorder, time, _log);
        var loop = new WorkLoop<ClaimedWebhookDelivery>(
            deliveries, room, new WorkLoopSettings(o.ClaimBatch, o.Concurrency, o.PollInterval), signal, leases, work.Value, time, _log);
        var recording = Task.Run(recorder.RunAsync, CancellationToken.None);
        try
        {
            await loop.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            recorder.Complete();
            await recording.ConfigureAwait(false);
        }
    }

    /// <summary>Deliveries as the loop works on them.</summary>
    private sealed class Deliveries(
        IWebhookStore store,
        CredentialVault vault,
        WebhookSender sender,
        NodeIdentity node,
        WebhookOptions options,
        LeaseKeeper<long> leases,
        BatchRecorder<WebhookOutcome, long> recorder,
        TimeProvider time,
        ILogger log) : IWorkItems<ClaimedWebhookDelivery>
    {
        // Opened once per endpoint: an endpoint's secret never changes (a new endpoint has a new id).
        private readonly ConcurrentDictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
        private DateTimeOffset _prunedAt = DateTimeOffset.MinValue;

        public string Kind => "webhook delivery";

        public string NameOf(ClaimedWebhookDelivery item) => item.Id;

        public int FailuresOf(ClaimedWebhookDelivery item) => item.Failures;

        public async Task<IReadOnlyList<ClaimedWebhookDelivery>> ClaimAsync(int most, CancellationToken cancellationToken)
        {
            var now = time.GetUtcNow();
            if (now - _prunedAt > PruneEvery)
            {
                _prunedAt = now;
                var pruned = await store.PruneAsync(now - options.Retention, cancellationToken).ConfigureAwait(false);
                if (pruned > 0)
                {
                    LogPruned(log, pruned);
                }
            }

            var claimed = await store.ClaimAsync(node.Name, most, now, options.Lease, cancellationToken).ConfigureAwait(false);
            return claimed.Where(d => leases.Hold(d.Sequence, now + options.Lease)).ToArray();
        }

        public async Task ProcessAsync(ClaimedWebhookDelivery item, CancellationToken cancellationToken)
        {
            if (!leases.Holds(item.Sequence))
            {
                leases.Release(item.Sequence);
                return;
            }

            var key = await KeyAsync(item.EndpointId, cancellationToken).ConfigureAwait(false);
            var reply = key.Key is { } bytes
                ? await sender.SendAsync(item.Url, item.Id, item.Payload, bytes, cancellationToken).ConfigureAwait(false)
                : new WebhookReply(null, key.Problem!);
            var now = time.GetUtcNow();
            if (!reply.Succeeded)
            {
                LogAttemptFailed(log, item.Id, item.Url, reply.Status, reply.Text);
            }

            recorder.Add(new WebhookOutcome(
                item.Sequence, item.EndpointId, node.Name, now, reply.Status, reply.Succeeded, reply.Text, now + options.DelayAfter(item.Attempts + 1)));
        }

        public Task FailAsync(ClaimedWebhookDelivery item, ItemFailure failure, CancellationToken cancellationToken)
        {
            var now = time.GetUtcNow();
            recorder.Add(new WebhookOutcome(item.Sequence, item.EndpointId, node.Name, now, null, false, failure.Reason, failure.RetryAt ?? now, failure));
            return Task.CompletedTask;
        }

        public Task PostponeAsync(ClaimedWebhookDelivery item, DateTimeOffset retryAt, CancellationToken cancellationToken)
        {
            recorder.Add(new WebhookOutcome(item.Sequence, item.EndpointId, node.Name, time.GetUtcNow(), null, false, "", retryAt) { Postponed = true });
            return Task.CompletedTask;
        }

        private async Task<(byte[]? Key, string? Problem)> KeyAsync(string endpointId, CancellationToken cancellationToken)
        {
            if (_keys.TryGetValue(endpointId, out var known))
            {
                return (known, null);
            }

            var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
            if (status.Key is not { } credentialKey)
            {
                return (null, $"This node cannot sign the delivery: {status.Problem}");
            }

            var sealedSecret = await store.GetSecretAsync(endpointId, cancellationToken).ConfigureAwait(false);
            if (sealedSecret is null || !credentialKey.TryOpen(sealedSecret, SecretNames.WebhookSecret(endpointId), out var plaintext))
            {
                return (null, "This node cannot open the webhook's signing secret (sealed with another credential key?); nothing was sent.");
            }

            var key = WebhookSignature.KeyOf(Encoding.UTF8.GetString(plaintext));
            _keys[endpointId] = key;
            return (key, null);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryId} to {Url} failed ({Status}): {Reply}; it is tried again")]
    private static partial void LogAttemptFailed(ILogger logger, string deliveryId, Uri url, int? status, string reply);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} delivered webhook deliveries past their retention")]
    private static partial void LogPruned(ILogger logger, int count);
}
