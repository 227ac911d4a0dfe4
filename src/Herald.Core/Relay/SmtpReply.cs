namespace Herald.Relay;

/// <summary>
/// An SMTP reply as a value: the code, the enhanced status code (RFC 3463, e.g. <c>5.7.1</c>) and
/// the text. Whatever decides that a client is refused returns the reply the client must see.
/// </summary>
public sealed record SmtpReply(int Code, string? EnhancedCode, string Text)
{
    public bool IsPositive => Code is >= 200 and < 400;

    public override string ToString() => EnhancedCode is null ? $"{Code} {Text}" : $"{Code} {EnhancedCode} {Text}";
}
