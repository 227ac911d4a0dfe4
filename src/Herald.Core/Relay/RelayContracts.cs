using System.Net;
using Herald.Outbox;
using Herald.Scopes;

namespace Herald.Relay;

/// <summary>"Only the list below" or "all except the list below" (DESIGN.md, "The relay listener").</summary>
public enum RelayAccessMode
{
    OnlyList,
    AllExcept,
}

/// <summary>Anonymous submission, or AUTH with a relay account before MAIL.</summary>
public enum RelayAuthMode
{
    None,
    Required,
}

/// <summary>
/// One relay listener as an administrator configures it (settings store, API, CLI). The listen
/// endpoint (<c>127.0.0.1:2525</c>, <c>[::1]:2525</c>) is its identity. Entries are IP addresses,
/// CIDR subnets (IPv4 and IPv6) and domains (reverse DNS, forward-confirmed).
/// </summary>
public sealed record RelayListenerSettings(
    string Listen,
    ScopePath Scope,
    RelayAccessMode Access,
    IReadOnlyList<string> Entries,
    RelayAuthMode Auth,
    IReadOnlyList<string> SenderDomains,
    IReadOnlyList<string> RecipientDomains,
    bool AuthWithoutTls);

/// <summary>The client of a relay session, as the listener saw it connect.</summary>
public sealed record RelayClient(IPAddress Address, int Port, string Listen);

/// <summary>What a session knows when it asks the gate: who, over what, as whom.</summary>
public sealed record RelaySessionInfo(RelayClient Client, string? HeloName, bool Tls, string? AuthenticatedAs);

/// <summary>The envelope of one accepted transaction; <paramref name="Sender"/> is empty for the
/// null sender <c>MAIL FROM:&lt;&gt;</c>.</summary>
public sealed record RelayEnvelope(string Sender, IReadOnlyList<string> Recipients, bool EightBitMime, bool SmtpUtf8);

/// <summary>
/// What the relay's SMTP sessions ask of the rest of Herald, one call per protocol step, for one
/// listener. The protocol code owns the grammar, the limits and the safety rules; the gate owns
/// the listener's policy (access list, accounts, domains) and the outbox. Each method returns
/// <c>null</c> to go on, or the reply the client must get instead. The gate reads the current
/// settings on every call, so a policy change applies to the next session without a restart.
/// </summary>
public interface IRelayGate
{
    /// <summary>Before the greeting: may this client address use the listener at all?</summary>
    ValueTask<SmtpReply?> AdmitAsync(RelayClient client, CancellationToken cancellationToken);

    /// <summary>Whether MAIL needs an authenticated session, and whether AUTH may be offered
    /// without TLS (the listener's settings at the time of the call).</summary>
    ValueTask<RelayAuthRules> AuthRulesAsync(RelayClient client, CancellationToken cancellationToken);

    /// <summary>Checks a relay account's password; returns the account name, or null.</summary>
    ValueTask<string?> AuthenticateAsync(RelaySessionInfo session, string userName, string password, CancellationToken cancellationToken);

    /// <summary>MAIL FROM: sender domain policy, room on disk (452 when nearly full), and the
    /// declared SIZE against the upstream's limit (552 for a message that will never fit).</summary>
    ValueTask<SmtpReply?> CheckSenderAsync(RelaySessionInfo session, string sender, long? declaredSize, CancellationToken cancellationToken);

    /// <summary>RCPT TO: recipient domain policy. The address is already the literal mailbox
    /// (no source route, no % or ! interpretation).</summary>
    ValueTask<SmtpReply?> CheckRecipientAsync(RelaySessionInfo session, string recipient, CancellationToken cancellationToken);

    /// <summary>After end of data: stores the message in the outbox. Checkpoint: the reply is
    /// positive (250) only once the message is durable; any failure is a 4xx, never a lost 250.
    /// The message bytes are the client's MIME after dot-unstuffing, CRLF line ends, without
    /// the final <c>.</c> line, in memory or (a large one) in a spool file the session removes
    /// once this returns; the gate adds the Received header.</summary>
    ValueTask<SmtpReply> AcceptAsync(RelaySessionInfo session, RelayEnvelope envelope, MimeData message, CancellationToken cancellationToken);
}

public sealed record RelayAuthRules(bool Required, bool AllowedWithoutTls);
