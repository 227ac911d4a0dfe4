using System.ComponentModel.DataAnnotations;
using Herald.Work;

namespace Herald.Webhooks;

/// <summary>How webhooks are delivered; configuration section <c>Webhooks</c>
/// (e.g. <c>HERALD_Webhooks__DisableAfter=2.00:00:00</c>).</summary>
public sealed class WebhookOptions : IValidatableObject
{
    public const string Section = "Webhooks";

    /// <summary>The backoff when none is configured.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetryDelays =
        [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(30), TimeSpan.FromHours(1)];

    /// <summary>Wait after a receiver's failure 1, 2, …; the last value repeats until the endpoint
    /// is disabled. Empty means <see cref="DefaultRetryDelays"/>.</summary>
    public TimeSpan[] RetryDelays { get; set; } = [];

    /// <summary>An endpoint whose deliveries have failed, with no success, for this long is
    /// disabled (and the console says so) until an administrator enables it again.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "90.00:00:00")]
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(3);

    /// <summary>How long one attempt may take, connection and reply included.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most bytes of a reply read (and kept, in part, in the delivery log).</summary>
    [Range(0, 1024 * 1024)]
    public int MaxReplyBytes { get; set; } = 4096;

    /// <summary>Attempts kept in each endpoint's log.</summary>
    [Range(10, 10_000)]
    public int LogSize { get; set; } = 100;

    /// <summary>Deliveries in flight on this node at once.</summary>
    [Range(1, 1024)]
    public int Concurrency { get; set; } = 64;

    /// <summary>Most deliveries one claim takes.</summary>
    [Range(1, 1000)]
    public int ClaimBatch { get; set; } = 200;

    /// <summary>How often an idle node looks for due deliveries.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a claim holds a delivery; renewed while it is being tried. A node that dies
    /// holding one lets it go after this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Delivered deliveries are kept this long (for their log), then removed.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The wait after the delivery's <paramref name="failures"/>-th failed attempt.</summary>
    public TimeSpan DelayAfter(int failures) => Backoff.After(RetryDelays, DefaultRetryDelays, failures);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Backoff.Check(RetryDelays, "Webhooks:RetryDelays", nameof(RetryDelays)) is { } error)
        {
            yield return error;
        }
    }
}
