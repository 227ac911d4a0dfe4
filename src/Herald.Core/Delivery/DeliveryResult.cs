namespace Herald.Delivery;

public enum RecipientOutcome
{
    /// <summary>The smart host accepted the message for this recipient.</summary>
    Sent,

    /// <summary>Try again later: a 4xx reply, a connection, TLS, authentication or timeout failure.</summary>
    TransientFailure,

    /// <summary>A 5xx reply for this recipient (or the whole message): retrying will not help.</summary>
    PermanentFailure,
}

/// <summary>Where in the SMTP conversation a delivery stopped.</summary>
public enum DeliveryStage
{
    Connect,
    Tls,
    Authenticate,
    MailFrom,
    RcptTo,
    Data,
}

/// <summary>An SMTP reply as the server gave it: <c>250 2.0.0 Ok: queued as 4Xq</c>.</summary>
public sealed record SmtpReplyText(int Code, string? EnhancedCode, string Text)
{
    public override string ToString() => EnhancedCode is null || Text.StartsWith(EnhancedCode, StringComparison.Ordinal)
        ? $"{Code} {Text}"
        : $"{Code} {EnhancedCode} {Text}";
}

public sealed record RecipientResult(string Address, RecipientOutcome Outcome, SmtpReplyText? Reply, string Detail);

/// <summary>One result per recipient, the stage and sentence of a failure that stopped the whole
/// transaction, and the redacted SMTP transcript.</summary>
public sealed record DeliveryResult(
    IReadOnlyList<RecipientResult> Recipients,
    DeliveryStage? FailedAt,
    string? Failure,
    string Transcript)
{
    public bool AllSent => Recipients.Count > 0 && Recipients.All(r => r.Outcome == RecipientOutcome.Sent);
}
