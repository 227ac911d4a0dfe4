using System.Net;
using System.Net.Sockets;
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
    bool AuthWithoutTls)
{
    /// <summary>The shortest prefix of an "only the list below" entry that still names a part of
    /// the network rather than nearly all of it: <c>0.0.0.0/1</c> or <c>::/0</c> admit everybody
    /// as surely as "all except" does.</summary>
    public const int NarrowestWideIPv4Prefix = 8;

    /// <inheritdoc cref="NarrowestWideIPv4Prefix"/>
    public const int NarrowestWideIPv6Prefix = 7;

    /// <summary>Whether clients on other machines can connect: the endpoint is not a loopback
    /// address (<c>0.0.0.0</c> and <c>[::]</c> are every interface).</summary>
    public bool ReachableBeyondLoopback =>
        !RelayAddresses.TryParseEndpoint(Listen, out var endpoint, out _) || !IPAddress.IsLoopback(RelayAddresses.Normalize(endpoint.Address));

    /// <summary>
    /// Why this listener would be an open relay, or null: anonymous submission, reachable beyond
    /// loopback, no recipient domains, and a client list that admits anybody ("all except the list
    /// below", or an "only the list below" entry as wide as <c>0.0.0.0/0</c>). Such a listener
    /// relays anyone's mail to anywhere through the organisation's upstream; it is refused when it
    /// is configured, in every door, and a listener stored so before this rule existed accepts no
    /// recipient until an administrator fixes it.
    /// </summary>
    public FieldError? OpenRelayProblem()
    {
        if (Auth != RelayAuthMode.None || RecipientDomains.Count > 0 || !ReachableBeyondLoopback)
        {
            return null;
        }

        const string Remedy = "require a relay account (auth required), give the recipient domains it may deliver to, or list the clients it admits";
        if (Access == RelayAccessMode.AllExcept)
        {
            return new FieldError("access", $"An anonymous listener on {Listen} is reachable from other machines: 'all except the list below' without recipient domains would relay anyone's mail anywhere (an open relay). Use 'only the list below', or {Remedy}.");
        }

        for (var i = 0; i < Entries.Count; i++)
        {
            if (RelayAccessEntry.TryParse(Entries[i], out var entry, out _) && entry.Network is { } network
                && network.PrefixLength < (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? NarrowestWideIPv4Prefix : NarrowestWideIPv6Prefix))
            {
                return new FieldError($"entries[{i}]", $"'{entry.Text}' admits nearly every address, and an anonymous listener on {Listen} without recipient domains would then relay anyone's mail anywhere (an open relay). List narrower networks, or {Remedy}.");
            }
        }

        return null;
    }
}

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

    /// <summary>Checks a relay account's password: the account, a temporary refusal to give
    /// instead (the client's address guessed too often, the node is busy), or neither.</summary>
    ValueTask<RelayAuthentication> AuthenticateAsync(RelaySessionInfo session, string userName, string password, CancellationToken cancellationToken);

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

/// <summary>What AUTH learned: the <see cref="Account"/> the client is now, or a reply to give
/// instead of checking (<see cref="TryLater"/>, 454), or neither (invalid credentials: 535).</summary>
public readonly record struct RelayAuthentication(string? Account, SmtpReply? TryLater)
{
    public static RelayAuthentication Invalid => default;

    public static RelayAuthentication As(string account) => new(account, null);

    public static RelayAuthentication Later(SmtpReply reply) => new(null, reply);
}
