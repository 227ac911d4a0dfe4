using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Settings;
using Herald.Web.Console.Notifications;

namespace Herald.Tests.Console;

/// <summary>How the console's subscription and rule forms turn what was typed into the API's
/// requests, and back into the form and a one-line summary.</summary>
public sealed class FilterFormTests
{
    [Fact]
    public void Conditions_are_read_one_per_line_and_in_splits_its_values_on_commas()
    {
        var errors = new List<FieldError>();
        var form = new FilterForm { Conditions = "status in failed, cancelled\r\nbranch equals release 2.1\n\n" };

        var conditions = form.ConditionRequests(errors);

        Assert.Empty(errors);
        Assert.Equal(2, conditions.Count);
        Assert.Equal(("status", "in"), (conditions[0].Field, conditions[0].Operator));
        Assert.Equal(["failed", "cancelled"], conditions[0].Values!);
        Assert.Equal(["release 2.1"], conditions[1].Values!);
    }

    [Fact]
    public void A_condition_line_without_a_value_is_an_error_on_conditions_naming_the_line()
    {
        var errors = new List<FieldError>();

        var conditions = new FilterForm { Conditions = "status in failed\nbranch" }.ConditionRequests(errors);

        Assert.Single(conditions);
        var error = Assert.Single(errors);
        Assert.Equal("conditions", error.Field);
        Assert.Contains("Line 2, 'branch'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_weekly_subscription_round_trips_through_the_form_and_the_request_checks()
    {
        var form = new FilterForm
        {
            EventTypes = ["item.changed"],
            CustomTypes = "invoice.approved, item.changed",
            PathPrefixes = "/Shared Documents/\n/Policies",
            ChangeKinds = "changed added",
            Frequency = "weekly",
            At = "07:30",
            Day = "friday",
            ExcludeActor = true,
        };
        var errors = new List<FieldError>();

        var request = form.ToSubscription("s1", "/hr", "user:tom", "Policies", errors);
        var now = DateTimeOffset.Parse("2026-11-23T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var subscription = SubscriptionRequests.Check(request, "s1", now, now, errors);

        Assert.Empty(errors);
        Assert.NotNull(subscription);
        Assert.Equal(["item.changed", "invoice.approved"], subscription.Filter.EventTypes);
        Assert.Equal(["/Shared Documents", "/Policies"], subscription.Filter.PathPrefixes);
        Assert.Equal(new NotificationSchedule(NotificationFrequency.Weekly, new TimeOnly(7, 30), DayOfWeek.Friday), subscription.Schedule);
        Assert.Equal("weekly on Friday at 07:30", FilterForm.Describe(subscription.Schedule));
        Assert.Equal("item.changed, invoice.approved; under /Shared Documents, /Policies; changes: changed, added", FilterForm.Summary(subscription.Filter));

        var back = FilterForm.From(subscription.Filter, subscription.Schedule, subscription.ExcludeActor, subscription.Enabled);
        Assert.Equal(["item.changed"], back.EventTypes);
        Assert.Equal("invoice.approved", back.CustomTypes);
        Assert.Equal(("weekly", "07:30", "friday", true), (back.Frequency, back.At, back.Day, back.ExcludeActor));
    }

    [Fact]
    public void An_immediate_subscription_sends_no_time_so_a_stale_time_field_cannot_refuse_it()
    {
        var errors = new List<FieldError>();

        var request = new FilterForm { Frequency = "immediate", At = "not a time", Day = "someday" }.ToSubscription(null, "/", "user:a", null, errors);

        Assert.Null(request.At);
        Assert.Null(request.Day);
        Assert.Equal("every event", FilterForm.Summary(EventFilter.Everything));
    }
}
