using Herald.Settings;

namespace Herald.Delivery;

/// <summary>What a producer wants to send, already validated: addresses parsed, no line breaks
/// in any header value.</summary>
public sealed record MessageContent(IReadOnlyList<EmailAddress> To, string Subject, string? Text, string? Html)
{
    public IReadOnlyList<EmailAddress> Cc { get; init; } = [];

    /// <summary>A From other than the configured one; only when the scope allows impersonation.</summary>
    public EmailAddress? From { get; init; }

    public string? FromName { get; init; }

    public EmailAddress? ReplyTo { get; init; }

    public IReadOnlyList<MessageAttachment> Attachments { get; init; } = [];

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];
}

public sealed record MessageAttachment(string FileName, string ContentType, byte[] Content);
