using Herald.Scopes;
using Herald.Settings;

namespace Herald.Suppression;

/// <summary>Why an address is on a suppression list.</summary>
public enum SuppressionReason
{
    /// <summary>Its mailbox does not exist: the smart host or a later DSN said 5.x.x.</summary>
    HardBounce,

    /// <summary>Its owner reported a message as spam (an ARF feedback report).</summary>
    Complaint,

    /// <summary>Its owner chose "unsubscribe from everything" on an unsubscribe page.</summary>
    UnsubscribeAll,

    /// <summary>An administrator put it there.</summary>
    Administrator,
}

public static class SuppressionReasonNames
{
    public static readonly NamedValues<SuppressionReason> Values = new(
        (SuppressionReason.HardBounce, "hard-bounce"),
        (SuppressionReason.Complaint, "complaint"),
        (SuppressionReason.UnsubscribeAll, "unsubscribe-all"),
        (SuppressionReason.Administrator, "administrator"));
}

/// <summary>
/// One address on the suppression list of <see cref="Scope"/>: nothing is sent to it from that
/// scope or any scope below it (an entry of <c>/hr</c> holds for <c>/hr/payroll</c>, not for
/// <c>/hr2</c>) until it is removed or <see cref="ExpiresAt"/> has passed.
/// </summary>
/// <param name="Source">Where it came from, in words: "DSN from mailbox bounces@example.org",
/// "administrator alice", "unsubscribe link".</param>
/// <param name="CreatedBy">Who added it: an administrator, an API key, the local operator, or
/// Herald itself for bounces and unsubscribe links.</param>
public sealed record SuppressionEntry(
    string Id,
    ScopePath Scope,
    string Address,
    SuppressionReason Reason,
    string Source,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    DateTimeOffset? ExpiresAt)
{
    /// <summary>Whether the entry still holds at <paramref name="now"/>.</summary>
    public bool AppliesAt(DateTimeOffset now) => ExpiresAt is not { } expires || expires > now;

    /// <summary>What a suppressed recipient's reply says: the entry, so that an administrator
    /// asking "where is my mail?" finds it.</summary>
    public string Reply(string recipient) =>
        $"Suppressed: {recipient} is on the suppression list of {Scope} since {CreatedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC "
        + $"({SuppressionReasonNames.Values.NameOf(Reason)}, source {Source}{(ExpiresAt is { } expires ? $", until {expires.UtcDateTime:yyyy-MM-dd HH:mm} UTC" : "")}; entry {Id}).";
}

/// <summary>A new entry as the store keeps it, its address already compared by <see cref="SuppressionAddress"/>.</summary>
public sealed record NewSuppression(SuppressionEntry Entry, SuppressionAddress Address);

/// <summary>An entry Herald adds on the authority of what it read (see
/// <see cref="SuppressionService.AddOnBehalfAsync(IReadOnlyList{OnBehalfSuppression}, string, CancellationToken)"/>).</summary>
public sealed record OnBehalfSuppression(ScopePath Scope, string Address, SuppressionReason Reason, string Source);

/// <summary>Which entries to list: those of <see cref="Scope"/> and the scopes below it, newest first.</summary>
/// <param name="Address">One address (by its key), or with <see cref="Domain"/> every address of a domain.</param>
/// <param name="Before">The page after the one that ended with this entry id.</param>
public sealed record SuppressionFilter(ScopePath Scope, string? Address, string? Domain, SuppressionReason? Reason, string? Before, int Limit);

/// <summary>One page of entries; <see cref="Next"/> asks for the next one (null: this was the last).</summary>
public sealed record SuppressionPage(IReadOnlyList<SuppressionEntry> Entries, string? Next);

/// <summary>The suppression lists of every scope, as the outbox and the use cases need them.</summary>
public interface ISuppressionStore
{
    /// <summary>In one transaction, in order: adds each entry unless its scope already lists the
    /// address with an entry that still applies at <paramref name="now"/> (an expired one is
    /// replaced). Returns, for each, the entry that stands and whether it is the new one.</summary>
    Task<IReadOnlyList<(SuppressionEntry Entry, bool Added)>> AddAsync(IReadOnlyList<NewSuppression> suppressions, DateTimeOffset now, CancellationToken cancellationToken);

    Task<SuppressionEntry?> FindAsync(string id, CancellationToken cancellationToken);

    /// <summary>Removes the entry; false when there was none.</summary>
    Task<bool> RemoveAsync(string id, CancellationToken cancellationToken);

    Task<SuppressionPage> ListAsync(SuppressionFilter filter, CancellationToken cancellationToken);

    /// <summary>The entries that apply at <paramref name="now"/> to any of <paramref name="keys"/>
    /// (<see cref="SuppressionAddress.Key"/>) in any of <paramref name="scopes"/> (exactly those
    /// scopes: the caller names the ancestors): ONE query for a whole batch of the outbox.</summary>
    Task<IReadOnlyList<(string Key, SuppressionEntry Entry)>> MatchAsync(
        IReadOnlyCollection<string> keys, IReadOnlyCollection<ScopePath> scopes, DateTimeOffset now, CancellationToken cancellationToken);
}
