using System.ComponentModel.DataAnnotations;

namespace Herald.Notifications;

/// <summary>How notifications behave; configuration section <c>Notifications</c>
/// (e.g. <c>HERALD_Notifications__PublicBaseUrl=https://herald.example.org</c>).</summary>
public sealed class NotificationOptions : IValidatableObject
{
    public const string Section = "Notifications";

    public const string DefaultPublicBaseUrl = "http://127.0.0.1:8025";

    /// <summary>Where recipients reach this Herald from their mail client: unsubscribe links start
    /// with it. <c>herald serve</c> defaults it to its first <c>--urls</c> entry.</summary>
    public string PublicBaseUrl { get; set; } = DefaultPublicBaseUrl;

    /// <summary>How long an unsubscribe link in a mail works.</summary>
    public TimeSpan UnsubscribeLinkLifetime { get; set; } = TimeSpan.FromDays(60);

    /// <summary>How often the digest scheduler looks for digest windows that have ended.</summary>
    public TimeSpan DigestCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an idle engine waits before looking for pending events again (an event
    /// posted to this node wakes it at once).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the match index reads other nodes' subscription and rule changes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan IndexRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a node holds an event it is fanning out; if it dies, another node takes
    /// the event after this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an event waits after its scope could not send (no settings, disabled).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Events claimed at a time.</summary>
    [Range(1, 1000)]
    public int ClaimBatch { get; set; } = 16;

    /// <summary>Whether each event's fan-out records which sources matched and what happened to
    /// every candidate recipient (what "explain" shows). Off saves the rows on huge fan-outs.</summary>
    public bool RecordExplanations { get; set; } = true;

    /// <summary>How long an event's explanation is kept.</summary>
    [Range(typeof(TimeSpan), "01:00:00", "366.00:00:00")]
    public TimeSpan ExplainRetention { get; set; } = TimeSpan.FromDays(7);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Settings.PublicUrlService.CanStartLinks(PublicBaseUrl))
        {
            yield return new ValidationResult(
                $"Notifications:PublicBaseUrl must be an absolute http or https URL without query, fragment or user name, such as https://herald.example.org, not '{PublicBaseUrl}'.", [nameof(PublicBaseUrl)]);
        }

        if (UnsubscribeLinkLifetime < TimeSpan.FromHours(1) || UnsubscribeLinkLifetime > TimeSpan.FromDays(3650))
        {
            yield return new ValidationResult("Notifications:UnsubscribeLinkLifetime must be between 1 hour and 3650 days.", [nameof(UnsubscribeLinkLifetime)]);
        }

        if (DigestCheckInterval < TimeSpan.FromSeconds(1) || DigestCheckInterval > TimeSpan.FromHours(1))
        {
            yield return new ValidationResult("Notifications:DigestCheckInterval must be between 1 second and 1 hour.", [nameof(DigestCheckInterval)]);
        }
    }

    /// <summary>The base URL without a trailing '/', so that paths can be appended.</summary>
    public string BaseUrl => PublicBaseUrl.TrimEnd('/');
}
