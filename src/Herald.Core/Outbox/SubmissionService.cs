using System.Text.RegularExpressions;
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

/// <summary>Accepted (with the stored ids), or why not.</summary>
public abstract record SubmitOutcome
{
    public sealed record Accepted(IReadOnlyList<EnqueueResult> Messages) : SubmitOutcome;

    /// <summary>Problems by field (<c>to[1]</c>, <c>messages[3].subject</c>).</summary>
    public sealed record Invalid(IReadOnlyDictionary<string, string[]> Errors) : SubmitOutcome;

    public sealed record InsufficientStorage(string Reason) : SubmitOutcome;
}

/// <summary>Turns submissions into outbox messages: validates, composes the final MIME in the
/// scope's settings, and hands them to the group-commit writer.</summary>
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

    public async Task<SubmitOutcome> SubmitAsync(IReadOnlyList<SubmitRequest> requests, MessageSource source, bool batch, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (requests.Count is 0 or > MaxBatch)
        {
            return new SubmitOutcome.Invalid(new Dictionary<string, string[]> { ["messages"] = [$"A batch holds 1 to {MaxBatch} messages."] });
        }

        var now = time.GetUtcNow();
        var messages = new List<NewMessage>(requests.Count);
        var effectiveByScope = new Dictionary<ScopePath, (EffectiveOutgoingSettings? Settings, string? Problem)>();
        for (var index = 0; index < requests.Count; index++)
        {
            var prefix = batch ? $"messages[{index}]." : "";
            var problems = new List<(string Field, string Message)>();
            var message = await BuildAsync(requests[index], source, now, effectiveByScope, problems, cancellationToken).ConfigureAwait(false);
            foreach (var group in problems.GroupBy(p => p.Field))
            {
                errors[prefix + group.Key] = group.Select(p => p.Message).ToArray();
            }

            if (message is not null)
            {
                messages.Add(message);
            }
        }

        if (errors.Count > 0)
        {
            return new SubmitOutcome.Invalid(errors);
        }

        if (!disk.HasRoomFor(messages.Sum(m => (long)m.Mime.Length) * 2))
        {
            return new SubmitOutcome.InsufficientStorage("The outbox's disk is nearly full; nothing was accepted. Try again later.");
        }

        return new SubmitOutcome.Accepted(await writer.EnqueueAsync(messages, cancellationToken).ConfigureAwait(false));
    }

    private async Task<NewMessage?> BuildAsync(
        SubmitRequest request,
        MessageSource source,
        DateTimeOffset now,
        Dictionary<ScopePath, (EffectiveOutgoingSettings? Settings, string? Problem)> effectiveByScope,
        List<(string, string)> problems,
        CancellationToken cancellationToken)
    {
        if (!ScopePath.TryParse(request.Scope, out var scope, out var scopeError))
        {
            problems.Add(("scope", scopeError));
            return null;
        }

        if (!effectiveByScope.TryGetValue(scope, out var resolved))
        {
            var (route, unroutable) = await settings.GetRouteAsync(scope, cancellationToken).ConfigureAwait(false);
            resolved = (route?.Settings, unroutable);
            effectiveByScope[scope] = resolved;
        }

        if (resolved.Problem is { } problem)
        {
            problems.Add(("scope", problem));
            return null;
        }

        var effective = resolved.Settings!;
        var to = Addresses(request.To, "to", problems);
        var cc = Addresses(request.Cc, "cc", problems);
        var bcc = Addresses(request.Bcc, "bcc", problems);
        var recipients = to.Concat(cc).Concat(bcc).Select(a => a.Value).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        if (recipients.Length == 0 && problems.Count == 0)
        {
            problems.Add(("to", "At least one recipient (to, cc or bcc) is required."));
        }
        else if (recipients.Length > MaxRecipients)
        {
            problems.Add(("to", $"A message may have at most {MaxRecipients} recipients."));
        }

        var subject = request.Subject ?? "";
        SingleLine(subject, "subject", problems);
        if (request.FromName is { } fromName)
        {
            SingleLine(fromName, "fromName", problems);
        }

        if (request.Text is null && request.Html is null)
        {
            problems.Add(("text", "A message needs a text or an html body."));
        }

        var from = OptionalAddress(request.From, "from", problems);
        if (from is not null && from != effective.FromAddress.Value && effective.Impersonation.Value != ImpersonationPolicy.AllowUserFrom)
        {
            problems.Add(("from", $"Scope {scope} sends only as {effective.FromAddress.Value} (impersonation policy 'never'); leave 'from' out or ask an administrator to allow it."));
        }

        var replyTo = OptionalAddress(request.ReplyTo, "replyTo", problems);
        var headers = Headers(request.Headers, problems);
        var attachments = Attachments(request.Attachments, problems);
        if (request.IdempotencyKey is { Length: > 200 })
        {
            problems.Add(("idempotencyKey", "An idempotency key is at most 200 characters."));
        }

        if (problems.Count > 0)
        {
            return null;
        }

        var content = new MessageContent(to, subject, request.Text, request.Html)
        {
            Cc = cc,
            From = from,
            FromName = request.FromName,
            ReplyTo = replyTo,
            Attachments = attachments,
            Headers = headers,
        };
        var message = NewMessage.Compose(
            effective, content, scope, source, recipients, string.IsNullOrWhiteSpace(request.IdempotencyKey) ? null : request.IdempotencyKey, now, deliveryOptions.Value.MaximumAge);
        if (message.Mime.Length > outboxOptions.Value.MaxMessageBytes)
        {
            problems.Add(("attachments", $"The message is {message.Mime.Length} bytes; the limit is {outboxOptions.Value.MaxMessageBytes}."));
            return null;
        }

        return message;
    }

    private static List<EmailAddress> Addresses(IReadOnlyList<string>? texts, string field, List<(string, string)> problems)
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
                problems.Add(($"{field}[{i}]", error));
            }
        }

        return result;
    }

    private static EmailAddress? OptionalAddress(string? text, string field, List<(string, string)> problems)
    {
        if (text is null)
        {
            return null;
        }

        if (EmailAddress.TryParse(text, out var address, out var error))
        {
            return address;
        }

        problems.Add((field, error));
        return null;
    }

    private static void SingleLine(string value, string field, List<(string, string)> problems)
    {
        if (value.Contains('\r', StringComparison.Ordinal) || value.Contains('\n', StringComparison.Ordinal))
        {
            problems.Add((field, "Contains a line break (CR or LF), which would start a new header; it is refused."));
        }
        else if (value.Length > 998)
        {
            problems.Add((field, "Is longer than 998 characters."));
        }
    }

    private static List<KeyValuePair<string, string>> Headers(IReadOnlyDictionary<string, string>? headers, List<(string, string)> problems)
    {
        var result = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            var field = $"headers[{name}]";
            if (!HeaderName().IsMatch(name))
            {
                problems.Add((field, "A header name is 1 to 76 printable ASCII characters without spaces or ':'."));
            }
            else if (ReservedHeaders.Contains(name))
            {
                problems.Add((field, $"'{name}' is set by Herald from the message's fields and cannot be given as a custom header."));
            }
            else
            {
                SingleLine(value, field, problems);
                result.Add(new(name, value));
            }
        }

        return result;
    }

    private static List<MessageAttachment> Attachments(IReadOnlyList<AttachmentRequest>? attachments, List<(string, string)> problems)
    {
        var result = new List<MessageAttachment>();
        for (var i = 0; i < (attachments?.Count ?? 0); i++)
        {
            var attachment = attachments![i];
            var field = $"attachments[{i}]";
            if (string.IsNullOrWhiteSpace(attachment.FileName))
            {
                problems.Add((field + ".fileName", "An attachment needs a file name."));
                continue;
            }

            SingleLine(attachment.FileName, field + ".fileName", problems);
            var contentType = attachment.ContentType ?? "application/octet-stream";
            if (!MimeKit.ContentType.TryParse(contentType, out _) || contentType.Any(char.IsControl))
            {
                problems.Add((field + ".contentType", $"'{contentType}' is not a MIME content type."));
                continue;
            }

            try
            {
                result.Add(new MessageAttachment(attachment.FileName, contentType, Convert.FromBase64String(attachment.Content ?? "")));
            }
            catch (FormatException)
            {
                problems.Add((field + ".content", "The content must be base64."));
            }
        }

        return result;
    }

    [GeneratedRegex("^[!-9;-~]{1,76}$")]
    private static partial Regex HeaderName();
}
