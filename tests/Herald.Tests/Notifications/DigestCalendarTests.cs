using Herald.Notifications;
using Herald.Notifications.Digests;

namespace Herald.Tests.Notifications;

/// <summary>Digest windows across daylight-saving changes. Europe/Berlin 2026: clocks jump from
/// 02:00 to 03:00 on 29 March and fall back from 03:00 to 02:00 on 25 October. America/New_York
/// 2026: 02:00 to 03:00 on 8 March, 02:00 back to 01:00 on 1 November.</summary>
public sealed class DigestCalendarTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
    private static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");

    private static NotificationSchedule Daily(int hour, int minute) => new(NotificationFrequency.Daily, new TimeOnly(hour, minute), DayOfWeek.Monday);

    private static NotificationSchedule Weekly(DayOfWeek day, int hour, int minute) => new(NotificationFrequency.Weekly, new TimeOnly(hour, minute), day);

    private static DateTimeOffset Utc(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_daily_window_keeps_its_local_time_across_spring_forward_so_that_day_is_23_hours()
    {
        var end = DigestCalendar.LatestWindowEnd(Daily(8, 0), Berlin, Utc("2026-03-29T12:00:00Z"));
        var start = DigestCalendar.PreviousWindowEnd(Daily(8, 0), Berlin, end);

        Assert.Equal(Utc("2026-03-29T06:00:00Z"), end);
        Assert.Equal(Utc("2026-03-28T07:00:00Z"), start);
        Assert.Equal(TimeSpan.FromHours(23), end - start);
    }

    [Fact]
    public void A_daily_time_inside_the_spring_gap_runs_at_the_first_instant_after_it()
    {
        // 02:30 does not exist in Berlin on 29 March: the digest runs at 03:00 CEST (01:00 UTC).
        Assert.Equal(Utc("2026-03-29T01:00:00Z"), DigestCalendar.LatestWindowEnd(Daily(2, 30), Berlin, Utc("2026-03-29T01:00:00Z")));
        Assert.Equal(Utc("2026-03-28T01:30:00Z"), DigestCalendar.LatestWindowEnd(Daily(2, 30), Berlin, Utc("2026-03-29T00:59:59Z")));
        Assert.Equal(Utc("2026-03-30T00:30:00Z"), DigestCalendar.LatestWindowEnd(Daily(2, 30), Berlin, Utc("2026-03-30T00:30:00Z")));
    }

    [Fact]
    public void A_daily_time_that_happens_twice_in_autumn_runs_at_its_first_occurrence_only()
    {
        // 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET) on 25 October.
        Assert.Equal(Utc("2026-10-25T00:30:00Z"), DigestCalendar.LatestWindowEnd(Daily(2, 30), Berlin, Utc("2026-10-25T00:30:00Z")));
        Assert.Equal(Utc("2026-10-25T00:30:00Z"), DigestCalendar.LatestWindowEnd(Daily(2, 30), Berlin, Utc("2026-10-25T01:45:00Z")));
        var next = DigestCalendar.LatestWindowEnd(Daily(2, 30), Berlin, Utc("2026-10-26T12:00:00Z"));
        Assert.Equal(Utc("2026-10-26T01:30:00Z"), next);
        Assert.Equal(TimeSpan.FromHours(25), next - DigestCalendar.PreviousWindowEnd(Daily(2, 30), Berlin, next));
    }

    [Fact]
    public void A_daily_window_in_new_york_is_25_hours_on_the_autumn_change()
    {
        var end = DigestCalendar.LatestWindowEnd(Daily(9, 0), NewYork, Utc("2026-11-01T15:00:00Z"));

        Assert.Equal(Utc("2026-11-01T14:00:00Z"), end);
        Assert.Equal(Utc("2026-10-31T13:00:00Z"), DigestCalendar.PreviousWindowEnd(Daily(9, 0), NewYork, end));
    }

    [Fact]
    public void A_weekly_window_in_new_york_inside_the_spring_gap_runs_at_three()
    {
        var end = DigestCalendar.LatestWindowEnd(Weekly(DayOfWeek.Sunday, 2, 15), NewYork, Utc("2026-03-10T12:00:00Z"));

        Assert.Equal(Utc("2026-03-08T07:00:00Z"), end);
        Assert.Equal(Utc("2026-03-01T07:15:00Z"), DigestCalendar.PreviousWindowEnd(Weekly(DayOfWeek.Sunday, 2, 15), NewYork, end));
    }

    [Fact]
    public void A_weekly_window_in_new_york_on_the_repeated_hour_runs_once_at_the_first()
    {
        var schedule = Weekly(DayOfWeek.Sunday, 1, 30);

        Assert.Equal(Utc("2026-11-01T05:30:00Z"), DigestCalendar.LatestWindowEnd(schedule, NewYork, Utc("2026-11-01T06:45:00Z")));
        Assert.Equal(Utc("2026-10-25T05:30:00Z"), DigestCalendar.LatestWindowEnd(schedule, NewYork, Utc("2026-11-01T05:29:00Z")));
        Assert.Equal(Utc("2026-11-08T06:30:00Z"), DigestCalendar.LatestWindowEnd(schedule, NewYork, Utc("2026-11-08T06:30:00Z")));
    }

    [Fact]
    public void A_weekly_window_in_berlin_ends_on_its_day_and_the_week_spans_the_spring_change()
    {
        var schedule = Weekly(DayOfWeek.Monday, 8, 0);

        Assert.Equal(Utc("2026-03-23T07:00:00Z"), DigestCalendar.LatestWindowEnd(schedule, Berlin, Utc("2026-03-30T05:59:00Z")));
        var end = DigestCalendar.LatestWindowEnd(schedule, Berlin, Utc("2026-03-30T06:00:00Z"));
        Assert.Equal(Utc("2026-03-30T06:00:00Z"), end);
        Assert.Equal(TimeSpan.FromHours(7 * 24 - 1), end - DigestCalendar.PreviousWindowEnd(schedule, Berlin, end));
        // Autumn: the week that contains 25 October is an hour longer.
        var autumn = DigestCalendar.LatestWindowEnd(schedule, Berlin, Utc("2026-10-26T12:00:00Z"));
        Assert.Equal(Utc("2026-10-26T07:00:00Z"), autumn);
        Assert.Equal(TimeSpan.FromHours(7 * 24 + 1), autumn - DigestCalendar.PreviousWindowEnd(schedule, Berlin, autumn));
    }
}
