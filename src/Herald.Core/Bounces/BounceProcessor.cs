using System.Diagnostics.Metrics;
using Herald.Outbox;
using Herald.Suppression;
using Herald.Telemetry;
using MimeKit;

namespace Herald.Bounces;

/// <summary>What became of one message read from a bounce mailbox.</summary>
public enum BounceOutcome
{
    /// <summary>A permanent failure after <c>sent</c>: the recipient is <c>bounced</c> and suppressed.</summary>
    Bounced,

    /// <summary>A temporary failure: a line in the recipient's history, its state unchanged.</summary>
    Delayed,

    /// <summary>A feedback report: the recipient is <c>complained</c> and suppressed.</summary>
    Complained,

    /// <summary>A failure for a recipient that is no longer <c>sent</c> (already bounced, say):
    /// recorded in its history only.</summary>
    Repeated,

    /// <summary>Not a report Herald reads, or no bounce address in it: kept for a person.</summary>
    Unmatched,

    /// <summary>A bounce address whose signature does not hold: kept, never acted on.</summary>
    Forged,

    /// <summary>A genuine address of a message the outbox no longer has: kept.</summary>
    Unknown,

    /// <summary>Could not be read at all (too large, broken MIME): kept.</summary>
    Unreadable,
}

public static class BounceOutcomeNames
{
    public static readonly Settings.NamedValues<BounceOutcome> Values = new(
        (BounceOutcome.Bounced, "bounced"),
        (BounceOutcome.Delayed, "delayed"),
        (BounceOutcome.Complained, "complained"),
        (BounceOutcome.Repeated, "repeated"),
        (BounceOutcome.Unmatched, "unmatched"),
        (BounceOutcome.Forged, "forged"),
        (BounceOutcome.Unknown, "unknown"),
        (BounceOutcome.Unreadable, "unreadable"));

    /// <summary>Whether the mail has done its work and may be deleted; the rest is kept for a person.</summary>
    public static bool IsProcessed(this BounceOutcome outcome) =>
        outcome is BounceOutcome.Bounced or BounceOutcome.Delayed or BounceOutcome.Complained or BounceOutcome.Repeated;
}

/// <summary>Counts what bounce mailboxes brought: <c>herald_bounces_total{outcome}</c>.</summary>
public sealed class BounceMetrics
{
    private readonly Counter<long> _bounces;

    public BounceMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _bounces = meters.Create(HeraldTelemetry.Name).CreateCounter<long>(
            "herald.bounces", description: "Messages read from bounce mailboxes on this node, by outcome (bounced, delayed, complained, repeated, unmatched, forged, unknown, unreadable).");
    }

    public void Read(BounceOutcome outcome) => _bounces.Add(1, new KeyValuePair<string, object?>("outcome", BounceOutcomeNames.Values.NameOf(outcome)));
}

/// <summary>What one report asks for, decided before anything is written: a final outcome
/// (nothing to record), or an update of the recipient it names (with, for a bounce or a complaint,
/// an entry on the suppression list).</summary>
public sealed record BounceDecision(BounceOutcome? Final, BounceUpdate? Update, BounceKind Kind);

/// <summary>
/// What reports read from a bounce mailbox do: each finds its recipient through the signed
/// bounce address (<see cref="BounceTokens"/>) and never through anything else in the report,
/// which anyone can write; a permanent failure after <c>sent</c> makes the recipient
/// <c>bounced</c> with the report's status and diagnostic, a complaint makes it <c>complained</c>,
/// and both put the address on the suppression list of the message's scope; a delay is a line in
/// the recipient's history. A reader decides each message of a batch on its own
/// (<see cref="DecideAsync"/>, where a broken one fails alone), then records the batch at once
/// (<see cref="RecordAsync"/>): one transaction for the recipients, their history and their
/// suppression entries, not one per report.
/// </summary>
public sealed class BounceProcessor(BounceTokens tokens, IBounceStore store, NodeIdentity node, BounceMetrics metrics, TimeProvider time)
{
    private const string CreatedBy = "Herald (bounce mailbox)";
    private static readonly RecipientState[] Delivered = [RecipientState.Sent];
    private static readonly RecipientState[] Complainable = [RecipientState.Sent, RecipientState.Bounced, RecipientState.Deferred, RecipientState.Expired];

    /// <summary>Counts mail that could not even be parsed.</summary>
    public void Unreadable() => metrics.Read(BounceOutcome.Unreadable);

    /// <summary>Parses one message and finds the recipient it names; writes nothing.</summary>
    public async Task<BounceDecision> DecideAsync(MimeMessage message, BounceMailbox mailbox, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(mailbox);
        var report = BounceParser.Parse(message);
        BounceTarget? target = null;
        foreach (var address in report.Addresses)
        {
            if ((target = await tokens.ReadAsync(address, cancellationToken).ConfigureAwait(false)) is not null)
            {
                break;
            }
        }

        if (target is null)
        {
            return new BounceDecision(report.Addresses.Count > 0 ? BounceOutcome.Forged : BounceOutcome.Unmatched, null, report.Kind);
        }

        if (report.Kind == BounceKind.Unrecognised)
        {
            return new BounceDecision(BounceOutcome.Unmatched, null, report.Kind);
        }

        var (state, from, reason) = report.Kind switch
        {
            BounceKind.Failed => ((RecipientState?)RecipientState.Bounced, Delivered, (SuppressionReason?)SuppressionReason.HardBounce),
            BounceKind.Complaint => (RecipientState.Complained, Complainable, SuppressionReason.Complaint),
            _ => (null, Delivered, (SuppressionReason?)null),
        };
        var code = report.Code ?? (report.Kind == BounceKind.Failed ? 550 : null);
        var what = report.Kind == BounceKind.Complaint ? "complaint" : $"DSN {report.Status}";
        return new BounceDecision(
            null,
            new BounceUpdate(
                target.MessageId, target.Ordinal, state, from, code, report.Reply, time.GetUtcNow(), node.Name,
                reason is { } suppress ? new BounceSuppression(suppress, $"{what} {report.ReportMessageId ?? "(no Message-ID)"} in bounce mailbox {mailbox.Description}", CreatedBy) : null),
            report.Kind);
    }

    /// <summary>Records a batch of decisions, in order; one outcome per decision.</summary>
    public async Task<IReadOnlyList<BounceOutcome>> RecordAsync(IReadOnlyList<BounceDecision> decisions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        var updates = decisions.Where(d => d.Update is not null).Select(d => d.Update!).ToArray();
        var recorded = updates.Length == 0 ? [] : await store.RecordAsync(updates, cancellationToken).ConfigureAwait(false);
        var outcomes = new List<BounceOutcome>(decisions.Count);
        var next = 0;
        foreach (var decision in decisions)
        {
            if (decision.Final is { } final)
            {
                outcomes.Add(final);
                continue;
            }

            var result = recorded[next++];
            outcomes.Add(result is null ? BounceOutcome.Unknown : decision.Kind switch
            {
                BounceKind.Delayed => BounceOutcome.Delayed,
                _ when !result.Changed => BounceOutcome.Repeated,
                BounceKind.Complaint => BounceOutcome.Complained,
                _ => BounceOutcome.Bounced,
            });
        }

        foreach (var outcome in outcomes)
        {
            metrics.Read(outcome);
        }

        return outcomes;
    }
}
