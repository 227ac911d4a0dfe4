using System.Text.RegularExpressions;
using Herald.Access;
using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Options;

namespace Herald.Outbox;

/// <summary>A message as a producer submits it through the API; every field is optional here so
/// that validation, not deserialization, names what is wrong.</summary>
public sealed record SubmitRequest
{
    public string? Scope { get; init; }

    public string? From { get; init; }

    public string? FromName { get; init; }

    public string? ReplyTo { get; init; }

    public IReadOnlyList<string>? To { get; init; }

    public IReadOnlyList<string>? Cc { get; init; }

    public IReadOnlyList<string>? Bcc { get; init; }

    public string? Subject { get; init; }

    public string? Text { get; init; }

    public string? Html { get; init; }

    public IReadOnlyList<AttachmentRequest>? Attachments { get; init; }

    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    public string? IdempotencyKey { get; init; }
}

public sealed record AttachmentRequest(string? FileName, string? ContentType, string? Content);

/// <summary>The use case "submit messages" (API): who may, validation, composition in the scope's
/// settings, and the group-commit writer. A batch is stored whole or not at all.</summary>
public sealed partial class SubmissionService(
    OutgoingSettingsCache settings,
    OutboxWriter writer,
    DiskSpaceGuard disk,
    IOptions<OutboxOptions> outboxOptions,
    IOptions<DeliveryOptions> deliveryOptions,
    TimeProvider time)
{
    public const int MaxRecipients = 1000;
    public const int MaxBatch = 1000;

    // Headers the composer owns; a producer cannot set or duplicate them.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "MIME-Version",
        "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Received", "Return-Path",
    };

    /// <summary>
    /// Stores the messages once each is valid and the caller may send into each one's scope (its
    /// senders and administrators): the ids, with <see cref="EnqueueResult.Duplicate"/> for an
    /// idempotency key seen before in that scope. Refused: <see cref="RefusalKind.NotAllowed"/>
    /// for a scope the caller may not send into (checked before anything else),
    /// <see cref="RefusalKind.Invalid"/> by field (<c>to[1]</c>, <c>messages[3].subject</c>; a
    /// From, display name or Reply-To under impersonation 'never' included), or
    /// <see cref="RefusalKind.Unavailable"/> when the outbox's disk is nearly full or its database
    /// cannot be reached. Nothing is stored when it refuses.
    /// </summary>
    public async Task<Result<IReadOnlyList<EnqueueResult>>> SubmitAsync(Caller caller, IReadOnlyList<SubmitRequest> requests, bool batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count is 0 or > MaxBatch)
        {
            return Refusal.Invalid("messages", $"A batch holds 1 to {MaxBatch} messages.");
        }

        // A JSON body may hold null where a message belongs; each such slot is named, and nothing is accepted.
        var missing = Enumerable.Range(0, requests.Count).Where(i => requests[i] is null)
            .Select(i => new FieldError(batch ? $"messages[{i}]" : "message", "is null; each entry must be a message object."))
            .ToList();
        if (missing.Count > 0)
        {
            return Refusal.Invalid(missing, "The message is not valid; nothing was accepted.");
        }

        foreach (var request in requests)
        {
            if (ScopePath.TryParse(request.Scope, out var scope, out _) && caller.RefuseUnlessMaySendInto(scope) is { } refusal)
            {
                return refusal with { Sentence = refusal.Sentence + " Nothing was accepted." };
            }
        }

        var errors = new List<FieldError>();
        var now = time.GetUtcNow();
        var messages = new List<NewMessage>(requests.Count);
        var effectiveByScope = new Dictionary<ScopePath, (EffectiveOutgoingSettings? Settings, string? Problem)>();
        for (var index = 0; index < requests.Count; index++)
        {
            var prefix = batch ? $"messages[{index}]." : "";
            var problems = new List<FieldError>();
            var message = await BuildAsync(requests[index], now, effectiveByScope, problems, cancellationToken).ConfigureAwait(false);
            errors.AddRange(problems.Select(p => p with { Field = prefix + p.Field }));
            if (message is not null)
            {
                messages.Add(message);
            }
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The message is not valid; nothing was accepted.");
        }

        if (!disk.HasRoomFor(messages.Sum(m => (long)m.Mime.Length) * 2))
        {
            return Refusal.Unavailable("The outbox's disk is nearly full; nothing was accepted. Try again later.");
        }

        try
        {
            return (await writer.EnqueueAsync(messages, cancellationToken).ConfigureAwait(false)).ToArray();
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or TimeoutException)
        {
            return Refusal.Unavailable("The outbox could not store the message; nothing was accepted. Try again.");
        }
    }

    private async Task<NewMessage?> BuildAsync(
        SubmitRequest request,
        DateTimeOffset now,
        Dictionary<ScopePath, (EffectiveOutgoingSettings? Settings, string? Problem)> effectiveByScope,
        List<FieldError> problems,
        CancellationToken cancellationToken)
    {
        if (!ScopePath.TryParse(request.Scope, out var scope, out var scopeError))
        {
            problems.Add(new("scope", scopeError));
            return null;
        }

        if (!effectiveByScope.TryGetValue(scope, out var resolved))
        {
            // A scope whose email is turned off still takes messages: they wait in the queue, with
            // the reason shown, until its email is turned back on.
            var check = await settings.CheckRouteAsync(scope, cancellationToken).ConfigureAwait(false);
            resolved = (check.Route?.Settings, check.Problem);
            effectiveByScope[scope] = resolved;
        }

        if (resolved.Problem is { } problem)
        {
            problems.Add(new("scope", problem));
            return null;
        }

        var effective = resolved.Settings!;
        var to = Addresses(request.To, "to", problems);
        var cc = Addresses(request.Cc, "cc", problems);
        var bcc = Addresses(request.Bcc, "bcc", problems);
        var recipients = to.Concat(cc).Concat(bcc).Select(a => a.Value).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        if (recipients.Length == 0 && problems.Count == 0)
        {
            problems.Add(new("to", "At least one recipient (to, cc or bcc) is required."));
        }
        else if (recipients.Length > MaxRecipients)
        {
            problems.Add(new("to", $"A message may have at most {MaxRecipients} recipients."));
        }

        var subject = request.Subject ?? "";
        SingleLine(subject, "subject", problems);
        if (request.FromName is { } fromName)
        {
            SingleLine(fromName, "fromName", problems);
        }

        if (request.Text is null && request.Html is null)
        {
            problems.Add(new("text", "A message needs a text or an html body."));
        }

        // Impersonation 'never': whatever is asked, the scope's From and Reply-To are used, so
        // asking is refused rather than silently ignored.
        problems.AddRange(SenderIdentity.Refuse(effective, request.From is not null, request.FromName is not null, request.ReplyTo is not null));
        var from = OptionalAddress(request.From, "from", problems);
        var replyTo = OptionalAddress(request.ReplyTo, "replyTo", problems);
        var headers = Headers(request.Headers, problems);
        var attachments = Attachments(request.Attachments, problems);
        if (request.IdempotencyKey is { Length: > 200 })
        {
            problems.Add(new("idempotencyKey", "An idempotency key is at most 200 characters."));
        }

        if (problems.Count > 0)
        {
            return null;
        }

        var content = new MessageContent(to, subject, request.Text, request.Html)
        {
            Cc = cc,
            Requested = new RequestedIdentity(from, request.FromName, replyTo),
            Attachments = attachments,
            Headers = headers,
        };
        var message = NewMessage.Compose(
            effective, content, scope, MessageSource.Api, recipients, string.IsNullOrWhiteSpace(request.IdempotencyKey) ? null : request.IdempotencyKey, now, deliveryOptions.Value.MaximumAge);
        if (message.Mime.Length > outboxOptions.Value.MaxMessageBytes)
        {
            problems.Add(new("attachments", $"The message is {message.Mime.Length} bytes; the limit is {outboxOptions.Value.MaxMessageBytes}."));
            return null;
        }

        return message;
    }

    private static List<EmailAddress> Addresses(IReadOnlyList<string>? texts, string field, List<FieldError> problems)
    {
        var result = new List<EmailAddress>();
        for (var i = 0; i < (texts?.Count ?? 0); i++)
        {
            if (EmailAddress.TryParse(texts![i], out var address, out var error))
            {
                result.Add(address);
            }
            else
            {
                problems.Add(new($"{field}[{i}]", error));
            }
        }

        return result;
    }

    private static EmailAddress? OptionalAddress(string? text, string field, List<FieldError> problems)
    {
        if (text is null)
        {
            return null;
        }

        if (EmailAddress.TryParse(text, out var address, out var error))
        {
            return address;
        }

        problems.Add(new(field, error));
        return null;
    }

    private static void SingleLine(string value, string field, List<FieldError> problems)
    {
        if (value.Contains('\r', StringComparison.Ordinal) || value.Contains('\n', StringComparison.Ordinal))
        {
            problems.Add(new(field, "Contains a line break (CR or LF), which would start a new header; it is refused."));
        }
        else if (value.Length > 998)
        {
            problems.Add(new(field, "Is longer than 998 characters."));
        }
    }

    private static List<KeyValuePair<string, string>> Headers(IReadOnlyDictionary<string, string>? headers, List<FieldError> problems)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            var field = $"headers[{name}]";
            if (!HeaderName().IsMatch(name))
            {
                problems.Add(new(field, "A header name is 1 to 76 printable ASCII characters without spaces or ':'."));
            }
            else if (ReservedHeaders.Contains(name))
            {
                problems.Add(new(field, $"'{name}' is set by Herald from the message's fields and cannot be given as a custom header."));
            }
            else if (value is null)
            {
                problems.Add(new(field, "A header needs a value (a string, not null)."));
            }
            else
            {
                SingleLine(value, field, problems);
                result.Add(new(name, value));
            }
        }

        return result;
    }

    private static List<MessageAttachment> Attachments(IReadOnlyList<AttachmentRequest>? attachments, List<FieldError> problems)
    {
        var result = new List<MessageAttachment>();
        for (var i = 0; i < (attachments?.Count ?? 0); i++)
        {
            var attachment = attachments![i];
            var field = $"attachments[{i}]";
            if (attachment is null)
            {
                problems.Add(new(field, "is null; each attachment must be an object with a file name and content."));
                continue;
            }

            if (string.IsNullOrWhiteSpace(attachment.FileName))
            {
                problems.Add(new(field + ".fileName", "An attachment needs a file name."));
                continue;
            }

            SingleLine(attachment.FileName, field + ".fileName", problems);
            var contentType = attachment.ContentType ?? "application/octet-stream";
            if (!MimeKit.ContentType.TryParse(contentType, out _) || contentType.Any(char.IsControl))
            {
                problems.Add(new(field + ".contentType", $"'{contentType}' is not a MIME content type."));
                continue;
            }

            try
            {
                result.Add(new MessageAttachment(attachment.FileName, contentType, Convert.FromBase64String(attachment.Content ?? "")));
            }
            catch (FormatException)
            {
                problems.Add(new(field + ".content", "The content must be base64."));
            }
        }

        return result;
    }

    [GeneratedRegex("^[!-9;-~]{1,76}$")]
    private static partial Regex HeaderName();
}
