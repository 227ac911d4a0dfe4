using Herald.Settings;

namespace Herald.Delivery;

/// <summary>What a producer wants to send, already validated: addresses parsed, no line breaks
/// in any header value.</summary>
public sealed record MessageContent(IReadOnlyList<EmailAddress> To, string Subject, string? Text, string? Html)
{
    public IReadOnlyList<EmailAddress> Cc { get; init; } = [];

    /// <summary>The From, display name and Reply-To the producer asked for; the scope's
    /// impersonation policy decides what is used (<see cref="SenderIdentity.Decide"/>).</summary>
    public RequestedIdentity Requested { get; init; } = RequestedIdentity.None;

    public IReadOnlyList<MessageAttachment> Attachments { get; init; } = [];

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];
}

public sealed record MessageAttachment(string FileName, string ContentType, byte[] Content);
