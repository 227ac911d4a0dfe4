using System.Globalization;
using Herald.Scopes;

namespace Herald.Outbox.DeadLetters;

/// <summary>Which recipient states are dead letters: delivery gave up on them, or never tried, and
/// only an administrator brings them back. One set for the list, the filters and the bulk actions,
/// so that a new final state (a complaint) is one line here.</summary>
public static class DeadLetterStates
{
    public static readonly IReadOnlyList<RecipientState> All =
    [
        RecipientState.Expired,
        RecipientState.Bounced,
        RecipientState.Failed,
        RecipientState.Suppressed,
    ];

    public static bool IsDeadLetter(this RecipientState state) => All.Contains(state);

    /// <summary>The names as the stores keep them.</summary>
    public static string[] Names(IEnumerable<RecipientState> states) => states.Select(RecipientStateNames.Values.NameOf).ToArray();
}

/// <summary>One recipient in a dead-letter state, with what its message was and why it stopped.</summary>
/// <param name="Reply">The smart host's reply, the quarantine's reason or the suppression entry.</param>
/// <param name="At">When the recipient reached <paramref name="State"/>.</param>
public sealed record DeadLetter(
    string MessageId,
    int Ordinal,
    string Recipient,
    RecipientState State,
    int? Code,
    string? Reply,
    DateTimeOffset At,
    ScopePath Scope,
    string? Subject)
{
    /// <summary>Where the list continues after this row (newest first).</summary>
    public DeadLetterCursor Cursor => new(At.ToUnixTimeMilliseconds(), MessageId, Ordinal);
}

/// <summary>A position in the newest-first order: (time, message id, ordinal), written as one
/// opaque token for the doors' <c>next</c>.</summary>
public sealed record DeadLetterCursor(long AtMilliseconds, string MessageId, int Ordinal)
{
    public const int MaxLength = 140;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{AtMilliseconds}:{Ordinal}:{MessageId}");

    public static bool TryParse(string? text, out DeadLetterCursor? cursor)
    {
        cursor = null;
        if (text is not { Length: > 0 and <= MaxLength })
        {
            return false;
        }

        var parts = text.Split(':', 3);
        if (parts.Length != 3
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var at)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal)
            || !DeadLetterService.IsMessageId(parts[2]))
        {
            return false;
        }

        cursor = new DeadLetterCursor(at, parts[2], ordinal);
        return true;
    }
}

/// <summary>Which dead letters a store lists: recipients in one of <see cref="States"/> of messages
/// of <see cref="Scope"/> and the scopes below it, newest first.</summary>
/// <param name="Domain">The recipient's domain, exactly, in lower-case ASCII.</param>
/// <param name="Since">Reached its state at or after this time.</param>
/// <param name="Until">Reached its state before this time.</param>
/// <param name="After">The page after this row.</param>
public sealed record DeadLetterFilter(
    ScopePath Scope,
    IReadOnlyList<RecipientState> States,
    string? Domain,
    DateTimeOffset? Since,
    DateTimeOffset? Until,
    DeadLetterCursor? After,
    int Limit);

/// <summary>One page; <see cref="Next"/> asks for the next one (null: this was the last).</summary>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, string? Next);

/// <summary>A recipient of a message, as a bulk action names it.</summary>
public sealed record DeadLetterKey(string MessageId, int Ordinal);

/// <summary>The dead letters as the use cases need them; <see cref="RetryAsync"/> is the outbox's
/// per-recipient retry.</summary>
public interface IDeadLetterStore
{
    /// <summary>One page of <paramref name="filter"/>, newest first; <c>Limit + 1</c> rows are read
    /// to know whether another page follows.</summary>
    Task<DeadLetterPage> ListAsync(DeadLetterFilter filter, CancellationToken cancellationToken);

    /// <summary>The recipients of <paramref name="messageIds"/>, in whatever state they are now.</summary>
    Task<IReadOnlyList<DeadLetter>> RecipientsOfAsync(IReadOnlyCollection<string> messageIds, CancellationToken cancellationToken);

    /// <summary>Makes exactly <paramref name="recipients"/> due now, each only while it is still in
    /// one of <paramref name="states"/> (checked in the same statement that changes it, so that two
    /// retries at once send once); their messages become pending with their failures forgotten and
    /// at least <paramref name="newExpiry"/> to live. The other recipients of those messages stay as
    /// they are. Returns the recipients that were retried.</summary>
    Task<IReadOnlyList<DeadLetterKey>> RetryAsync(
        IReadOnlyList<DeadLetterKey> recipients, IReadOnlyList<RecipientState> states, DateTimeOffset now, DateTimeOffset newExpiry, CancellationToken cancellationToken);
}
