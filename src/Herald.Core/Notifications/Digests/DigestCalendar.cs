namespace Herald.Notifications.Digests;

/// <summary>
/// When digest windows end, in the recipient's time zone: a daily digest at HH:mm local every day,
/// a weekly one at HH:mm local on its day. Across daylight-saving changes the local time is kept:
/// a time skipped by a spring-forward gap runs at the first instant after the gap (02:30 on the
/// night clocks jump from 02:00 to 03:00 runs at 03:00), and a time that happens twice on a
/// fall-back night runs at its first occurrence. A pure function of its arguments.
/// </summary>
public static class DigestCalendar
{
    /// <summary>The most recent window end at or before <paramref name="now"/>.</summary>
    public static DateTimeOffset LatestWindowEnd(NotificationSchedule schedule, TimeZoneInfo zone, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(zone);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime);
        var (day, step) = schedule.Frequency switch
        {
            NotificationFrequency.Daily => (today, 1),
            NotificationFrequency.Weekly => (today.AddDays(-(((int)today.DayOfWeek - (int)schedule.Day + 7) % 7)), 7),
            _ => throw new ArgumentException("Only daily and weekly subscriptions have digest windows.", nameof(schedule)),
        };

        var end = Instant(day, schedule.At, zone);
        return end <= now ? end : Instant(day.AddDays(-step), schedule.At, zone);
    }

    /// <summary>The window end before <paramref name="windowEnd"/>: where its window starts.</summary>
    public static DateTimeOffset PreviousWindowEnd(NotificationSchedule schedule, TimeZoneInfo zone, DateTimeOffset windowEnd) =>
        LatestWindowEnd(schedule, zone, windowEnd.AddTicks(-1));

    /// <summary>The instant a local date and time names in the zone, by the rules above.</summary>
    public static DateTimeOffset Instant(DateOnly date, TimeOnly time, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        if (zone.IsInvalidTime(local))
        {
            // In the gap: the first valid local minute after it is the instant the clocks jumped to.
            var after = local;
            do
            {
                after = after.AddMinutes(1);
            }
            while (zone.IsInvalidTime(after));

            after = new DateTime(after.Year, after.Month, after.Day, after.Hour, after.Minute, 0, DateTimeKind.Unspecified);
            return new DateTimeOffset(after, zone.GetUtcOffset(after));
        }

        if (zone.IsAmbiguousTime(local))
        {
            // Twice that night: the first occurrence is the one with the larger (summer) offset.
            return new DateTimeOffset(local, zone.GetAmbiguousTimeOffsets(local).Max());
        }

        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }
}
