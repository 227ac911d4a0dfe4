using System.Text.RegularExpressions;
using MimeKit;

namespace Herald.Bounces;

/// <summary>What a report says happened to the recipient it names.</summary>
public enum BounceKind
{
    /// <summary>Not a report Herald reads (a delivery notice, an auto-reply, spam to the bounce address).</summary>
    Unrecognised,

    /// <summary>Permanent failure: <c>Action: failed</c> with a <c>5.x.x</c> status.</summary>
    Failed,

    /// <summary>Temporary: <c>Action: delayed</c>, or a <c>4.x.x</c> status; the sender still tries.</summary>
    Delayed,

    /// <summary>An ARF feedback report (RFC 5965): the recipient marked the message as spam.</summary>
    Complaint,
}

/// <summary>One bounce or complaint as read from its MIME, before its token is checked.</summary>
/// <param name="Addresses">Where a bounce address may be, in the order to try them: the report's
/// own envelope headers, then the returned message's Return-Path, then ARF's Original-Mail-From.</param>
/// <param name="Status">RFC 3463 status (<c>5.1.1</c>); for a complaint, its feedback type.</param>
/// <param name="Diagnostic">The remote server's words (Diagnostic-Code), at most <see cref="BounceParser.MaxFieldLength"/> characters.</param>
/// <param name="Code">The SMTP reply code in the diagnostic, when there is one (<c>550</c>).</param>
/// <param name="ReportMessageId">The report's own Message-ID, for the suppression entry's source.</param>
public sealed record BounceReport(
    BounceKind Kind,
    IReadOnlyList<string> Addresses,
    string? Status,
    string? Diagnostic,
    int? Code,
    string? ReportMessageId)
{
    /// <summary>The reply a recipient is given: what the report says, as an administrator reads it.</summary>
    public string Reply => Kind switch
    {
        BounceKind.Complaint => $"Complaint (ARF feedback report, type {Status ?? "unknown"}){Source}",
        BounceKind.Delayed => $"DSN: delayed, {Status ?? "no status"}{(Diagnostic is null ? "" : $": {Diagnostic}")}{Source}",
        _ => $"DSN: failed, {Status ?? "no status"}{(Diagnostic is null ? "" : $": {Diagnostic}")}{Source}",
    };

    private string Source => ReportMessageId is null ? "" : $" (report {ReportMessageId})";
}

/// <summary>
/// Reads RFC 3464 delivery status notifications (MimeKit's <see cref="MessageDeliveryStatus"/>),
/// RFC 5965 feedback reports (<see cref="MessageFeedbackReport"/>) and the common non-standard
/// bounce (a plain "Undelivered Mail Returned to Sender" with a status in its text). Bounded: at
/// most <see cref="MaxParts"/> MIME parts are looked at, fields are cut to
/// <see cref="MaxFieldLength"/>, a non-standard body is searched in its first
/// <see cref="MaxTextScanned"/> characters. It never throws for what a report contains.
/// </summary>
public static partial class BounceParser
{
    public const int MaxParts = 64;
    public const int MaxFieldLength = 500;
    public const int MaxTextScanned = 64 * 1024;

    private static readonly string[] EnvelopeHeaders = ["To", "Delivered-To", "X-Original-To", "Envelope-To", "Return-Path"];

    private static readonly string[] BounceSubjects =
    [
        "Undelivered Mail Returned to Sender", "Delivery Status Notification (Failure)", "Mail delivery failed",
        "Undeliverable:", "failure notice", "Returned mail:", "Delivery failure",
    ];

    public static BounceReport Parse(MimeMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var addresses = new List<string>();
        AddEnvelope(message.Headers, addresses);
        var messageId = Cut(message.MessageId);
        var parts = message.BodyParts.Take(MaxParts + 1).ToArray();
        if (parts.Length > MaxParts)
        {
            return new BounceReport(BounceKind.Unrecognised, addresses, null, null, null, messageId);
        }

        foreach (var returned in parts.OfType<MessagePart>())
        {
            if (returned.Message is { } original)
            {
                Add(addresses, original.Headers["Return-Path"]);
            }
        }

        if (parts.OfType<MessageFeedbackReport>().FirstOrDefault() is { } feedback)
        {
            Add(addresses, feedback.Fields["Original-Mail-From"]);
            return new BounceReport(BounceKind.Complaint, addresses, Cut(feedback.Fields["Feedback-Type"]?.Trim()) ?? "abuse", null, null, messageId);
        }

        if (parts.OfType<MessageDeliveryStatus>().FirstOrDefault() is { } status)
        {
            return FromDeliveryStatus(status, addresses, messageId);
        }

        return message.Body is MultipartReport ? new BounceReport(BounceKind.Unrecognised, addresses, null, null, null, messageId) : FromText(message, addresses, messageId);
    }

    private static BounceReport FromDeliveryStatus(MessageDeliveryStatus status, List<string> addresses, string? messageId)
    {
        // The first group is about the message; each one after it about one recipient. A VERP
        // address names one recipient, so its report carries one; the first failure decides.
        HeaderList? chosen = null;
        var kind = BounceKind.Unrecognised;
        foreach (var group in status.StatusGroups.Skip(1).Take(MaxParts))
        {
            var action = group["Action"]?.Trim().ToLowerInvariant();
            var code = StatusOf(group["Status"]);
            var groupKind = action switch
            {
                "failed" when code?.StartsWith('5') == true => BounceKind.Failed,
                "failed" or "delayed" when code?.StartsWith('4') == true || action == "delayed" => BounceKind.Delayed,
                _ => BounceKind.Unrecognised,
            };
            if (groupKind == BounceKind.Failed || (groupKind == BounceKind.Delayed && kind == BounceKind.Unrecognised))
            {
                chosen = group;
                kind = groupKind;
            }

            if (kind == BounceKind.Failed)
            {
                break;
            }
        }

        if (chosen is null)
        {
            return new BounceReport(BounceKind.Unrecognised, addresses, null, null, null, messageId);
        }

        var diagnostic = Diagnostic(chosen["Diagnostic-Code"]);
        return new BounceReport(kind, addresses, StatusOf(chosen["Status"]), diagnostic, ReplyCode(diagnostic), messageId);
    }

    /// <summary>A bounce without a delivery-status part: only when its subject says it is one and its
    /// text carries an RFC 3463 status (<c>5.1.1</c>), the first such line being its diagnostic.</summary>
    private static BounceReport FromText(MimeMessage message, List<string> addresses, string? messageId)
    {
        var subject = message.Subject ?? "";
        if (!BounceSubjects.Any(s => subject.Contains(s, StringComparison.OrdinalIgnoreCase))
            || message.TextBody is not { } text)
        {
            return new BounceReport(BounceKind.Unrecognised, addresses, null, null, null, messageId);
        }

        var scanned = text.Length > MaxTextScanned ? text[..MaxTextScanned] : text;
        foreach (var line in scanned.Split('\n'))
        {
            if (EnhancedStatus().Match(line) is { Success: true } match && match.Value[0] != '2')
            {
                var diagnostic = Cut(line.Trim());
                var kind = match.Value[0] == '5' ? BounceKind.Failed : BounceKind.Delayed;
                return new BounceReport(kind, addresses, match.Value, diagnostic, ReplyCode(diagnostic), messageId);
            }
        }

        return new BounceReport(BounceKind.Unrecognised, addresses, null, null, null, messageId);
    }

    private static void AddEnvelope(HeaderList headers, List<string> addresses)
    {
        foreach (var name in EnvelopeHeaders)
        {
            foreach (var header in headers.Where(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)).Take(MaxParts))
            {
                Add(addresses, header.Value);
            }
        }
    }

    /// <summary>Every address in a header's value that has the shape of a bounce address.</summary>
    private static void Add(List<string> addresses, string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 4 * MaxFieldLength)
        {
            return;
        }

        foreach (Match match in BounceAddress().Matches(value))
        {
            if (!addresses.Contains(match.Value, StringComparer.OrdinalIgnoreCase))
            {
                addresses.Add(match.Value);
            }
        }
    }

    /// <summary>"smtp; 550 5.1.1 ..." without its type, on one line, cut.</summary>
    private static string? Diagnostic(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        // Unfolded, each run of white space one space (a folded line keeps its indentation).
        var text = string.Join(' ', value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        var semicolon = text.IndexOf(';', StringComparison.Ordinal);
        return Cut((semicolon >= 0 && semicolon < 20 ? text[(semicolon + 1)..] : text).Trim());
    }

    private static string? StatusOf(string? value) =>
        value is not null && EnhancedStatus().Match(value) is { Success: true } match ? match.Value : null;

    private static int? ReplyCode(string? diagnostic) =>
        diagnostic is not null && ReplyCodeAtStart().Match(diagnostic) is { Success: true } match ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;

    private static string? Cut(string? value) => value is { Length: > MaxFieldLength } ? value[..MaxFieldLength] : value;

    [GeneratedRegex(@"\b[245]\.\d{1,3}\.\d{1,3}\b", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex EnhancedStatus();

    [GeneratedRegex(@"^([245]\d\d)[ -]", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex ReplyCodeAtStart();

    [GeneratedRegex(@"bounces\+[a-z2-7]{47}@[^\s<>;,""]{1,253}", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, matchTimeoutMilliseconds: 1000)]
    private static partial Regex BounceAddress();
}
