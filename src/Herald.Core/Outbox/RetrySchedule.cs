namespace Herald.Outbox;

/// <summary>When to try a deferred recipient again: the configured delay for the attempt number,
/// with jitter, but never after the message expires (its last attempt is at expiry).</summary>
public static class RetrySchedule
{
    public static DateTimeOffset NextAttempt(DeliveryOptions options, int attemptsSoFar, DateTimeOffset now, DateTimeOffset expiresAt, Random random)
    {
        var delay = Herald.Work.Backoff.After(options.RetryDelays, DeliveryOptions.DefaultRetryDelays, attemptsSoFar);
        var factor = 1 + ((random.NextDouble() * 2) - 1) * options.Jitter;
        var next = now + TimeSpan.FromTicks((long)(delay.Ticks * factor));
        return next < expiresAt ? next : expiresAt;
    }
}
