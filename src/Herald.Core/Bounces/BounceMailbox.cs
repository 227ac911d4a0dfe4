using Herald.Credentials;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Suppression;
using MimeKit;

namespace Herald.Bounces;

/// <summary>How a bounce mailbox is read.</summary>
public enum MailboxProtocol
{
    Imap,
    Pop3,
}

/// <summary>How a bounce mailbox's connection is encrypted. <see cref="None"/> sends the
/// password in the clear: an administrator chooses it by name, for a server on the same host.</summary>
public enum MailboxSecurity
{
    ImplicitTls,
    StartTls,
    None,
}

public static class MailboxNames
{
    public static readonly NamedValues<MailboxProtocol> Protocols = new(
        (MailboxProtocol.Imap, "imap"),
        (MailboxProtocol.Pop3, "pop3"));

    public static readonly NamedValues<MailboxSecurity> Securities = new(
        (MailboxSecurity.ImplicitTls, "implicit-tls"),
        (MailboxSecurity.StartTls, "starttls"),
        (MailboxSecurity.None, "none"));
}

/// <summary>A bounce mailbox's settings, without its secrets.</summary>
/// <param name="Domain">The domain of the envelope senders (<c>bounces+TOKEN@Domain</c>) of every
/// message of the scope and the scopes below it (unless one of them has its own mailbox); mail to
/// it must reach this mailbox.</param>
/// <param name="Folder">IMAP only: the folder read (default INBOX).</param>
public sealed record BounceMailboxSettings(
    MailboxProtocol Protocol,
    string Host,
    int Port,
    MailboxSecurity Security,
    ServerTrust Trust,
    string Domain,
    string Folder = "INBOX");

/// <summary>
/// The mailbox DSNs and complaints for a scope's mail arrive in. Its user name and password are
/// sealed with the credential key (<see cref="SecretNames.BounceMailboxUserName"/>,
/// <see cref="SecretNames.BounceMailboxPassword"/>) and never shown.
/// </summary>
public sealed record BounceMailbox(ScopePath Scope, BounceMailboxSettings Settings)
{
    public EncryptedSecret? UserName { get; init; }

    public EncryptedSecret? Password { get; init; }

    /// <summary>What the last read found or why it failed, in one sentence.</summary>
    public string? LastOutcome { get; init; }

    public DateTimeOffset? LastReadAt { get; init; }

    /// <summary>How it is named in logs and suppression sources: never with its secrets.</summary>
    public string Description => $"{MailboxNames.Protocols.NameOf(Settings.Protocol)}://{Settings.Host}:{Settings.Port} (scope {Scope})";
}

/// <summary>What a report does to the recipient it names.</summary>
/// <param name="NewState">The recipient's new state, if its state is one of <paramref name="From"/>; null: history only.</param>
/// <param name="Suppress">The entry the recipient's address gets on the suppression list of the
/// message's scope when the report leaves the recipient in <paramref name="NewState"/> (now, or
/// already: a report read again after a crash still lists the address).</param>
public sealed record BounceUpdate(
    string MessageId,
    int Ordinal,
    RecipientState? NewState,
    IReadOnlyCollection<RecipientState> From,
    int? Code,
    string Reply,
    DateTimeOffset At,
    string Node,
    BounceSuppression? Suppress = null);

/// <summary>A suppression entry that a report asks for, on Herald's own authority.</summary>
public sealed record BounceSuppression(SuppressionReason Reason, string Source, string CreatedBy);

/// <summary>The recipient a report named, as the outbox had it, and whether its state changed.</summary>
public sealed record BounceRecorded(ScopePath Scope, string Address, RecipientState Before, bool Changed);

/// <summary>Bounce mailboxes, and what their reports do to the outbox.</summary>
public interface IBounceStore
{
    Task<IReadOnlyList<BounceMailbox>> ListAsync(CancellationToken cancellationToken);

    Task<BounceMailbox?> FindAsync(ScopePath scope, CancellationToken cancellationToken);

    /// <summary>Adds or replaces the scope's mailbox with exactly its sealed secrets (a null one
    /// is removed); true when it is new.</summary>
    Task<bool> SaveAsync(BounceMailbox mailbox, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the mailbox and its secrets; false when there was none.</summary>
    Task<bool> RemoveAsync(ScopePath scope, CancellationToken cancellationToken);

    Task RecordReadAsync(ScopePath scope, string outcome, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Takes (or extends) the mailbox's read lease for <paramref name="holder"/>: one row
    /// update, which only one node wins.</summary>
    Task<bool> TryLeaseAsync(ScopePath scope, string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken);

    Task ReleaseAsync(ScopePath scope, string holder, CancellationToken cancellationToken);

    /// <summary>In one transaction for the whole batch (a reader settles mail a batch at a time),
    /// in order: each recipient's state (when it is one of <see cref="BounceUpdate.From"/>), a
    /// line in its delivery history and the suppression entry it asks for
    /// (<see cref="BounceUpdate.Suppress"/>), so that no crash leaves a bounced recipient whose
    /// address is not suppressed. One result per update, null when the outbox has no such
    /// recipient (the message was purged).</summary>
    Task<IReadOnlyList<BounceRecorded?>> RecordAsync(IReadOnlyList<BounceUpdate> updates, CancellationToken cancellationToken);
}

/// <summary>What a bounce mailbox is opened with: its settings and its opened secrets.</summary>
public sealed record MailboxLogin(BounceMailboxSettings Settings, string UserName, string Password)
{
    public override string ToString() => $"{Settings.Host}:{Settings.Port} as {UserName}";
}

/// <summary>One message fetched from a bounce mailbox; <see cref="Message"/> is null when it
/// could not be read (<see cref="Problem"/> says why: too large, not MIME).</summary>
public sealed record FetchedMail(string Handle, MimeMessage? Message, string? Problem);

/// <summary>Opens bounce mailboxes (MailKit's IMAP and POP3 clients, in Herald.Smtp).</summary>
public interface IBounceMailboxClient
{
    /// <summary>Connected, secured and signed in; a <see cref="BounceMailboxException"/> says why not.</summary>
    Task<IBounceMailboxSession> OpenAsync(MailboxLogin login, CancellationToken cancellationToken);
}

/// <summary>How much one fetch of a bounce mailbox may read: at most <paramref name="Messages"/>
/// messages, none larger than <paramref name="MessageBytes"/> read into memory (a larger one comes
/// back unread), and the bodies it reads adding up to at most <paramref name="BatchBytes"/> (the
/// first one always, so a batch never comes back empty while mail waits).</summary>
public sealed record FetchLimits(int Messages, long MessageBytes, long BatchBytes);

/// <summary>An open bounce mailbox.</summary>
public interface IBounceMailboxSession : IAsyncDisposable
{
    /// <summary>The next messages not in <paramref name="skip"/> (handles of mail kept earlier
    /// where it cannot be moved aside: POP3), within <paramref name="limits"/>.</summary>
    Task<IReadOnlyList<FetchedMail>> FetchAsync(FetchLimits limits, IReadOnlySet<string> skip, CancellationToken cancellationToken);

    /// <summary>Marks <paramref name="processed"/> deleted; moves <paramref name="kept"/> to the folder
    /// <see cref="UnmatchedFolder"/> (IMAP) or leaves them (POP3). The mail leaves the folder for
    /// good at <see cref="CommitAsync"/> (IMAP) or when the session ends (POP3); until then a
    /// later <see cref="FetchAsync"/> of this session does not return it again.</summary>
    Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken);

    /// <summary>Removes for good what <see cref="SettleAsync"/> marked, once per read rather than per
    /// batch: IMAP expunges it (Dovecot's Maildir pays for each EXPUNGE in proportion to the whole
    /// folder); POP3 does nothing, its deletions take effect when the session ends.</summary>
    Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>Returns when new mail may have arrived (IMAP IDLE, when the server has it) or
    /// after <paramref name="most"/>.</summary>
    Task WaitForMailAsync(TimeSpan most, CancellationToken cancellationToken);

    /// <summary>Whether <see cref="SettleAsync"/> moves kept mail aside (IMAP) rather than leaving it where it is.</summary>
    bool MovesKeptMail { get; }

    /// <summary>Whether the session sees mail that arrives while it is open (IMAP); a POP3
    /// session shows the mailbox as it was at sign-in, so the reader opens a new one to look again.</summary>
    bool StaysCurrent { get; }

    const string UnmatchedFolder = "Herald/Unmatched";
}

/// <summary>A bounce mailbox cannot be opened or read; the message says why, in one sentence
/// without secrets.</summary>
public sealed class BounceMailboxException : Exception
{
    public BounceMailboxException()
    {
    }

    public BounceMailboxException(string message)
        : base(message)
    {
    }

    public BounceMailboxException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
