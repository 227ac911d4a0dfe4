using System.ComponentModel.DataAnnotations;

namespace Herald.Work;

/// <summary>How every background loop treats an item that fails for a reason of its own;
/// configuration section <c>Work</c> (e.g. <c>HERALD_Work__MaxAttempts=3</c>).</summary>
public sealed class WorkOptions : IValidatableObject
{
    public const string Section = "Work";

    /// <summary>The backoff when none is configured.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetryDelays =
        [TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(30)];

    /// <summary>Wait after failure 1, 2, …; the last value repeats. Empty means
    /// <see cref="DefaultRetryDelays"/> (the configuration binder appends to an array that has
    /// items, so the defaults are not assigned here; see <c>DeliveryOptions.RetryDelays</c>).</summary>
    public TimeSpan[] RetryDelays { get; set; } = [];

    /// <summary>Tries before an item is quarantined: state <c>failed</c>, with its reason, until
    /// an administrator retries it.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>How long a loop waits after the database (or the disk) failed before it tries again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan InfrastructurePause { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The wait after the item's <paramref name="failures"/>-th failure.</summary>
    public TimeSpan DelayAfter(int failures) => Backoff.After(RetryDelays, DefaultRetryDelays, failures);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Backoff.Check(RetryDelays, "Work:RetryDelays", nameof(RetryDelays)) is { } error)
        {
            yield return error;
        }
    }
}

/// <summary>
/// What one more failure of an item means: tried again at <see cref="RetryAt"/>, or, once it has
/// failed <see cref="WorkOptions.MaxAttempts"/> times, quarantined (<see cref="RetryAt"/> null):
/// state <c>failed</c> with <see cref="Reason"/> until an administrator retries it.
/// </summary>
public sealed record ItemFailure(string Reason, int Failures, DateTimeOffset? RetryAt)
{
    public bool Quarantined => RetryAt is null;

    public static ItemFailure After(string reason, int failuresBefore, WorkOptions options, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = failuresBefore + 1;
        return new ItemFailure(reason, failures, failures >= options.MaxAttempts ? null : now + options.DelayAfter(failures));
    }
}
