using Herald.Outbox;
using Microsoft.Extensions.Configuration;

namespace Herald.Tests.Outbox;

public sealed class RetryScheduleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Never = Now.AddDays(5);

    /// <summary>Options bound the way <c>herald serve</c> binds them, from settings such as
    /// <c>HERALD_Delivery__RetryDelays__0=00:00:30</c>.</summary>
    private static DeliveryOptions Bind(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)))
            .Build();
        var options = new DeliveryOptions();
        configuration.GetSection(DeliveryOptions.Section).Bind(options);
        return options;
    }

    [Fact]
    public void A_configured_schedule_replaces_the_default_one()
    {
        var options = Bind(("Delivery:RetryDelays:0", "00:00:30"), ("Delivery:RetryDelays:1", "00:02:00"), ("Delivery:Jitter", "0"));

        Assert.Equal([TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2)], options.RetryDelays);
        Assert.Equal(Now.AddSeconds(30), RetrySchedule.NextAttempt(options, 1, Now, Never, Random.Shared));
        Assert.Equal(Now.AddMinutes(2), RetrySchedule.NextAttempt(options, 2, Now, Never, Random.Shared));
        Assert.Equal(Now.AddMinutes(2), RetrySchedule.NextAttempt(options, 9, Now, Never, Random.Shared));
    }

    [Fact]
    public void Without_a_configured_schedule_the_default_one_applies()
    {
        var options = Bind(("Delivery:Jitter", "0"));

        Assert.Equal(Now.AddMinutes(1), RetrySchedule.NextAttempt(options, 1, Now, Never, Random.Shared));
        Assert.Equal(Now.AddMinutes(5), RetrySchedule.NextAttempt(options, 2, Now, Never, Random.Shared));
        Assert.Equal(Now.AddHours(4), RetrySchedule.NextAttempt(options, 50, Now, Never, Random.Shared));
    }

    [Fact]
    public void The_next_attempt_is_never_after_the_message_expires()
    {
        var options = Bind(("Delivery:RetryDelays:0", "01:00:00"));

        Assert.Equal(Now.AddMinutes(10), RetrySchedule.NextAttempt(options, 1, Now, Now.AddMinutes(10), Random.Shared));
    }
}
