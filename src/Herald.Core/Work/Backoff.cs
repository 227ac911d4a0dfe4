using System.ComponentModel.DataAnnotations;

namespace Herald.Work;

/// <summary>
/// A retry schedule as every loop configures one (mail delivery, background items, webhooks):
/// the wait after failure 1, 2, …, the last repeating; an empty configured list means the loop's
/// defaults (the configuration binder appends to an array that has items, so defaults are never
/// assigned to the option itself).
/// </summary>
public static class Backoff
{
    /// <summary>The wait after the <paramref name="failures"/>-th failure.</summary>
    public static TimeSpan After(IReadOnlyList<TimeSpan> configured, IReadOnlyList<TimeSpan> defaults, int failures)
    {
        ArgumentNullException.ThrowIfNull(configured);
        ArgumentNullException.ThrowIfNull(defaults);
        var delays = configured.Count > 0 ? configured : defaults;
        return delays[Math.Clamp(failures - 1, 0, delays.Count - 1)];
    }

    /// <summary>The error for a configured schedule with a wait of zero or less, or over a day;
    /// <paramref name="setting"/> names it (<c>Work:RetryDelays</c>).</summary>
    public static ValidationResult? Check(IReadOnlyList<TimeSpan> configured, string setting, string member)
    {
        ArgumentNullException.ThrowIfNull(configured);
        return configured.Any(d => d <= TimeSpan.Zero || d > TimeSpan.FromDays(1))
            ? new ValidationResult($"{setting} must each be more than 0 and at most one day.", [member])
            : null;
    }
}
