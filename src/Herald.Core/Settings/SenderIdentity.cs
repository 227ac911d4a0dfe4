namespace Herald.Settings;

/// <summary>Whom a producer names as a message's author: the From (and its display name) and
/// Reply-To it asks for. The API takes them from the request, the relay from the client's
/// headers, an access request from its requester. Each may be null: not asked for.</summary>
public sealed record RequestedIdentity(EmailAddress? From, string? FromName, EmailAddress? ReplyTo)
{
    public static readonly RequestedIdentity None = new(null, null, null);

    public bool IsEmpty => From is null && FromName is null && ReplyTo is null;
}

/// <summary>Who a message says it is from, as it leaves: the From header, a Sender header when
/// From is someone else, the Reply-To header, and the envelope sender (always the scope's own
/// address, so that bounces and SPF concern the configured domain).</summary>
public sealed record SenderIdentity(
    EmailAddress From,
    string? FromName,
    EmailAddress? Sender,
    string? SenderName,
    EmailAddress? ReplyTo,
    EmailAddress EnvelopeSender)
{
    /// <summary>
    /// The one rule of impersonation, for every way in (API submissions, notifications and
    /// administrative messages, the relay). With <c>never</c> (SharePoint's default) every message
    /// leaves with the scope's From, display name and Reply-To, whatever was asked: the API refuses
    /// the request first (<see cref="Refuse"/>), the relay replaces the client's headers, an
    /// access request names its requester in the body instead. With <c>allowed</c> the author's
    /// address may be in From, and the scope's address is then the Sender.
    /// </summary>
    public static SenderIdentity Decide(EffectiveOutgoingSettings settings, RequestedIdentity requested)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(requested);
        var configured = settings.FromAddress.Value
            ?? throw new InvalidOperationException($"Scope {settings.Scope} has no From address; callers check that it can send first.");
        if (settings.Impersonation.Value != ImpersonationPolicy.AllowUserFrom)
        {
            return new SenderIdentity(configured, settings.FromName.Value, null, null, settings.ReplyTo.Value, configured);
        }

        var from = requested.From ?? configured;
        // A display name asked for without an address names the configured address; the scope's
        // own name never goes with someone else's address.
        var fromName = requested.FromName ?? (requested.From is null ? settings.FromName.Value : null);
        var impersonated = from != configured;
        return new SenderIdentity(
            from,
            fromName,
            impersonated ? configured : null,
            impersonated ? settings.FromName.Value : null,
            requested.ReplyTo ?? settings.ReplyTo.Value,
            configured);
    }

    /// <summary>Why a request that names its own From, display name or Reply-To is refused under
    /// <c>never</c>, one problem per field (<c>from</c>, <c>fromName</c>, <c>replyTo</c>); empty
    /// when the scope's policy allows them or nothing was asked.</summary>
    public static IReadOnlyList<FieldError> Refuse(EffectiveOutgoingSettings settings, bool from, bool fromName, bool replyTo)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Impersonation.Value == ImpersonationPolicy.AllowUserFrom)
        {
            return [];
        }

        var policy = $"scope {settings.Scope} sends every message as {settings.FromAddress.Value} with its own Reply-To (impersonation policy 'never'"
            + (settings.Impersonation.DefinedAt is { } at ? $", set at {at})" : ", the default)");
        var errors = new List<FieldError>();
        foreach (var (asked, field, what) in new[] { (from, "from", "a From address"), (fromName, "fromName", "a From display name"), (replyTo, "replyTo", "a Reply-To address") })
        {
            if (asked)
            {
                errors.Add(new FieldError(field, $"A message may not set {what}: {policy}. Leave '{field}' out, or ask an administrator of the scope to allow impersonation."));
            }
        }

        return errors;
    }
}
