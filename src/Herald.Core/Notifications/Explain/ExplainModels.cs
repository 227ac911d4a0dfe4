using System.Diagnostics.CodeAnalysis;
using Herald.Outbox;
using Herald.Settings;

namespace Herald.Notifications.Explain;

/// <summary>What happened to one candidate recipient of an event's fan-out. Stored as its number:
/// append new outcomes, never renumber (rows of older releases keep their meaning).</summary>
public enum CandidateOutcome
{
    /// <summary>An email was queued; the message and its delivery history say the rest.</summary>
    Mailed = 0,

    /// <summary>The person (or a group's alias: the group) has no View on the event's scope.</summary>
    NoView = 1,

    /// <summary>Opted out of the source (a group's subscription, a rule, administrative mail).</summary>
    OptedOut = 2,

    /// <summary>The event's actor, left out by the source's "exclude the actor".</summary>
    Actor = 3,

    /// <summary>One email per event and address: an earlier source already reached them.</summary>
    AlreadyReached = 4,

    /// <summary>Queued, but the address is on a suppression list: the entry is named.</summary>
    Suppressed = 5,

    /// <summary>A daily or weekly subscription: the event waits for the digest of a window.</summary>
    Digest = 6,

    /// <summary>The scope's email is turned off: the notification was dropped.</summary>
    ScopeDisabled = 7,
}

public static class CandidateOutcomeNames
{
    public static readonly NamedValues<CandidateOutcome> Values = new(
        (CandidateOutcome.Mailed, "mailed"),
        (CandidateOutcome.NoView, "no-view"),
        (CandidateOutcome.OptedOut, "opted-out"),
        (CandidateOutcome.Actor, "actor"),
        (CandidateOutcome.AlreadyReached, "already-reached"),
        (CandidateOutcome.Suppressed, "suppressed"),
        (CandidateOutcome.Digest, "digest"),
        (CandidateOutcome.ScopeDisabled, "scope-disabled"));
}

/// <summary>A subscription, rule or the scope's administrators that matched the event, numbered
/// in the order the fan-out met them (candidates name their source by this number).</summary>
/// <param name="Frequency">immediate, daily or weekly.</param>
public sealed record MatchedSource(int Number, NotificationSourceKind Kind, string Id, string Name, string Frequency);

/// <summary>One candidate as recorded. <paramref name="Source"/> is the <see cref="MatchedSource.Number"/>
/// that named them; <paramref name="Other"/> the source that already reached them
/// (<see cref="CandidateOutcome.AlreadyReached"/>); <paramref name="Detail"/> the suppression entry's
/// reply or the digest window's end (ISO 8601), else null.</summary>
public sealed record CandidateRecord(
    string Address, string? UserId, CandidateOutcome Outcome, int Source, int? Other = null, string? Detail = null, string? MessageId = null);

/// <summary>Everything one fan-out decided for one event; <paramref name="Disabled"/> is why the
/// scope's email was off, when it was.</summary>
public sealed record ExplanationRecord(
    EventKey Event, DateTimeOffset RecordedAt, IReadOnlyList<MatchedSource> Sources, IReadOnlyList<CandidateRecord> Candidates, string? Disabled);

/// <summary>The delivery of a mailed candidate's message as the outbox has it now: a bounce or
/// complaint read from the bounce mailbox later is its <paramref name="State"/> (<c>bounced</c>,
/// <c>complained</c>) with the report's status and diagnostic as <paramref name="LastReply"/>.</summary>
public sealed record CandidateDelivery(string MessageId, RecipientState State, int Attempts, string? LastReply, DateTimeOffset UpdatedAt);

/// <summary>A recorded candidate with its message's delivery (null when none was queued, or the
/// message has been removed from the outbox since).</summary>
public sealed record ExplainedCandidate(CandidateRecord Record, CandidateDelivery? Delivery);

/// <summary>What the store holds of one event's explanation: its sources, how many candidates had
/// each outcome, and the candidates asked for (all, or those of one recipient), at most a page.</summary>
public sealed record StoredExplanation(
    DateTimeOffset RecordedAt,
    IReadOnlyList<MatchedSource> Sources,
    IReadOnlyDictionary<CandidateOutcome, int> Counts,
    string? Disabled,
    IReadOnlyList<ExplainedCandidate> Candidates);

/// <summary>Who an explanation is asked about: a user id or an email address (a user id may look
/// like an address, so both are looked for). At most 254 characters, no spaces or controls.</summary>
public sealed record ExplainRecipient
{
    private ExplainRecipient(string value) => Value = value;

    public string Value { get; }

    public static bool TryParse(string? text, [NotNullWhen(true)] out ExplainRecipient? recipient, [NotNullWhen(false)] out string? error)
    {
        recipient = null;
        if (text is null || text.Length > 254)
        {
            error = text is null ? "A user id or an email address is required." : "A recipient is a user id or an email address of at most 254 characters.";
            return false;
        }

        if (DirectoryIds.TryCheck(text, out _) || EmailAddress.TryParse(text, out _, out _))
        {
            recipient = new ExplainRecipient(text.Trim());
            error = null;
            return true;
        }

        error = $"'{DirectoryIds.Printable(text)}' is neither a user id nor an email address.";
        return false;
    }
}

/// <summary>An event's explanation as every door shows it.</summary>
public sealed record EventExplanation(
    NotificationEvent Event,
    DateTimeOffset RecordedAt,
    IReadOnlyList<MatchedSource> Sources,
    IReadOnlyDictionary<CandidateOutcome, int> Counts,
    IReadOnlyList<ExplainedCandidate> Candidates,
    string? Recipient)
{
    public MatchedSource? SourceOf(int number) => Sources.FirstOrDefault(s => s.Number == number);

    /// <summary>Why, in one sentence, for a person reading the console or a terminal.</summary>
    public string Reason(ExplainedCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        var record = candidate.Record;
        var source = SourceOf(record.Source) is { } s ? Describe(s) : $"source {record.Source}";
        return record.Outcome switch
        {
            CandidateOutcome.Mailed => candidate.Delivery is { } d
                ? $"Mailed through {source}: message {d.MessageId}, {RecipientStateNames.Values.NameOf(d.State)}{(d.LastReply is { Length: > 0 } reply ? $" ({reply})" : "")}."
                : $"Mailed through {source}: message {record.MessageId}.",
            CandidateOutcome.NoView => $"Not mailed: no View on {Event.Scope} ({source}).",
            CandidateOutcome.OptedOut => $"Not mailed: opted out of {source}.",
            CandidateOutcome.Actor => $"Not mailed: the event's actor, and {source} leaves the actor out.",
            CandidateOutcome.AlreadyReached => $"Not mailed again through {source}: already reached through {(record.Other is { } o && SourceOf(o) is { } first ? Describe(first) : "another source")}.",
            CandidateOutcome.Suppressed => $"Not sent ({source}): {record.Detail}",
            CandidateOutcome.Digest => $"Waiting for the {SourceOf(record.Source)?.Frequency ?? "digest"} digest of {source}, window ending {record.Detail}.",
            CandidateOutcome.ScopeDisabled => $"Dropped ({source}): email of the scope is turned off{(Disabled is { Length: > 0 } why ? $": {why}" : ".")}",
            _ => record.Outcome.ToString(),
        };
    }

    public static string Describe(MatchedSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Kind switch
        {
            NotificationSourceKind.Subscription => $"subscription '{source.Name}' ({source.Id})",
            NotificationSourceKind.Rule => $"rule '{source.Name}' ({source.Id})",
            _ => source.Name,
        };
    }

    /// <summary>Why the scope's email was off, if it was.</summary>
    public string? Disabled { get; init; }
}

/// <summary>Where explanations are kept: one per event, replaced when the event is fanned out
/// again, gone after the retention period.</summary>
public interface IExplainStore
{
    Task RecordAsync(ExplanationRecord record, CancellationToken cancellationToken);

    /// <summary>The event's explanation with at most <paramref name="limit"/> candidates (those
    /// whose user id or address is <paramref name="recipient"/>, when given), in the order the
    /// fan-out met them, each with its message's delivery; null when none is kept.</summary>
    Task<StoredExplanation?> FindAsync(EventKey key, string? recipient, int limit, CancellationToken cancellationToken);

    /// <summary>Removes explanations recorded before <paramref name="before"/>; returns how many.</summary>
    Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
