using System.Collections.Concurrent;
using Herald.Outbox;
using Herald.Relay;

namespace Herald.IntegrationTests.Relay;

/// <summary>What the gate stored: the session as the server described it, the envelope and the
/// message bytes.</summary>
public sealed record AcceptedMessage(RelaySessionInfo Session, RelayEnvelope Envelope, byte[] Data)
{
    /// <summary>The session handed the message over in a spool file, not in memory.</summary>
    public bool Spooled { get; init; }
}

/// <summary>
/// A gate like the real one for one listener: admits everyone (unless told otherwise), accepts
/// recipients only in <see cref="RecipientDomain"/> (the "recipient domains" setting), checks relay
/// accounts from a dictionary, and keeps every accepted message in memory.
/// </summary>
public sealed class RecordingGate : IRelayGate
{
    public string RecipientDomain { get; init; } = "herald.test";

    public RelayAuthRules Rules { get; set; } = new(Required: false, AllowedWithoutTls: false);

    public Dictionary<string, string> Accounts { get; } = new() { ["app"] = "s3cret pass" };

    /// <summary>Given at connect instead of the greeting, when set.</summary>
    public SmtpReply? AdmitReply { get; set; }

    /// <summary>Given to MAIL instead of 250, when set (e.g. 452 when the disk is nearly full).</summary>
    public SmtpReply? SenderReply { get; set; }

    /// <summary>Given at the end of data instead of storing the message, when set (e.g. 451 when
    /// the outbox cannot store it).</summary>
    public SmtpReply? DataReply { get; set; }

    public ConcurrentQueue<AcceptedMessage> Accepted { get; } = new();

    public ConcurrentQueue<string> SendersChecked { get; } = new();

    public ConcurrentQueue<string> RecipientsChecked { get; } = new();

    public ConcurrentQueue<RelaySessionInfo> Authentications { get; } = new();

    /// <summary>Forgets everything recorded so far (a long test that measures memory keeps no history).</summary>
    public void Clear()
    {
        Accepted.Clear();
        SendersChecked.Clear();
        RecipientsChecked.Clear();
        Authentications.Clear();
    }

    public ValueTask<SmtpReply?> AdmitAsync(RelayClient client, CancellationToken cancellationToken) => ValueTask.FromResult(AdmitReply);

    public ValueTask<RelayAuthRules> AuthRulesAsync(RelayClient client, CancellationToken cancellationToken) => ValueTask.FromResult(Rules);

    public ValueTask<RelayAuthentication> AuthenticateAsync(RelaySessionInfo session, string userName, string password, CancellationToken cancellationToken)
    {
        Authentications.Enqueue(session);
        return ValueTask.FromResult(Accounts.TryGetValue(userName, out var expected) && expected == password ? RelayAuthentication.As(userName) : RelayAuthentication.Invalid);
    }

    public ValueTask<SmtpReply?> CheckSenderAsync(RelaySessionInfo session, string sender, long? declaredSize, CancellationToken cancellationToken)
    {
        SendersChecked.Enqueue(sender);
        return ValueTask.FromResult(SenderReply);
    }

    public ValueTask<SmtpReply?> CheckRecipientAsync(RelaySessionInfo session, string recipient, CancellationToken cancellationToken)
    {
        RecipientsChecked.Enqueue(recipient);
        var at = recipient.LastIndexOf('@');
        var domain = at < 0 ? "" : recipient[(at + 1)..];
        return ValueTask.FromResult<SmtpReply?>(domain.Equals(RecipientDomain, StringComparison.OrdinalIgnoreCase)
            ? null
            : new SmtpReply(554, "5.7.1", $"<{recipient}>: Relay access denied"));
    }

    public async ValueTask<SmtpReply> AcceptAsync(RelaySessionInfo session, RelayEnvelope envelope, MimeData message, CancellationToken cancellationToken)
    {
        if (DataReply is { } refusal)
        {
            return refusal;
        }

        await using var stream = await message.OpenReadAsync(cancellationToken);
        var data = new MemoryStream();
        await stream.CopyToAsync(data, cancellationToken);
        Accepted.Enqueue(new AcceptedMessage(session, envelope, data.ToArray()) { Spooled = message.Bytes is null });
        return new SmtpReply(250, "2.0.0", $"Ok: queued as {Accepted.Count}");
    }
}
