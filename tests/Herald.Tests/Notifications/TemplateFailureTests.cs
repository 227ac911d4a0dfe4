using Herald.Notifications;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Microsoft.Extensions.Logging;

namespace Herald.Tests.Notifications;

/// <summary>A template that fails at send time: one named failure, what the options make of it,
/// and the save-time check that catches it first when the scope's real events would.</summary>
public sealed class TemplateFailureTests
{
    private const string DividesByN = "{% if event.data.n %}{{ 12 | divided_by: event.data.n }}{% endif %}";

    private static readonly ScopePath Hr = TemplateHarness.Hr;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dividing_by_zero_at_send_time_is_the_templates_named_failure()
    {
        var harness = new TemplateHarness();
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("Changed: {{ event.title }}", DividesByN, null));

        var failure = await Assert.ThrowsAsync<TemplateFailedException>(() => harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, data: """{"n":0}""")).AsTask());

        Assert.Equal((Hr, EventTypes.ItemChanged, TemplatePart.Text), (failure.Scope!.Value, failure.EventType, failure.Part));
        Assert.Equal("The item.changed template of scope /hr failed in its text: it divides by zero. Fix or remove the template, then retry.", failure.Message);
        Assert.IsType<DivideByZeroException>(failure.InnerException);
        var fine = await harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, data: """{"n":4}"""));
        Assert.Equal("3", fine.Text);
    }

    [Theory]
    [InlineData("{{ event.data.n | times: event.data.n }}")]
    [InlineData("{{ event.data.n | plus: event.data.n }}")]
    [InlineData("{% for i in (1..event.data.n) %}{% endfor %}")]
    public async Task Overflowing_a_number_is_the_templates_named_failure(string subject)
    {
        var harness = new TemplateHarness();
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new(subject, "text", null));

        var failure = await Assert.ThrowsAsync<TemplateFailedException>(
            () => harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, data: """{"n":79228162514264337593543950335}""")).AsTask());

        Assert.Equal(TemplatePart.Subject, failure.Part);
        Assert.Equal("a number it computes or converts is out of range.", failure.Reason);
        Assert.StartsWith("The item.changed template of scope /hr failed in its subject: a number", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_template_at_its_output_limit_is_the_templates_named_failure()
    {
        var harness = new TemplateHarness(new NotificationTemplateOptions { MaxBodyLength = 10_000 });
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("s", "t", "{% for i in (1..100000) %}<p>{{ event.title }}</p>{% endfor %}"));

        var failure = await Assert.ThrowsAsync<TemplateFailedException>(() => harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged)).AsTask());

        Assert.Equal(TemplatePart.Html, failure.Part);
        Assert.Equal("The item.changed template of scope /hr failed in its html: it writes more than 10,000 characters. Fix or remove the template, then retry.", failure.Message);
    }

    [Fact]
    public async Task A_stored_template_that_no_longer_compiles_fails_by_name()
    {
        var harness = new TemplateHarness();
        // Stored by hand: saving would have refused it (as after a filter went away in an upgrade).
        await harness.StoreAsync(ScopePath.Root, EventTypes.ItemChanged, new("{{ event.title | shout }}", "x", null));

        var failure = await Assert.ThrowsAsync<TemplateFailedException>(() => harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged)).AsTask());

        Assert.Equal("The item.changed template of scope / failed in its subject: it does not compile: Unknown filter 'shout'. Fix or remove the template, then retry.", failure.Message);
        Assert.Empty(harness.Log.Entries);
    }

    [Fact]
    public async Task With_the_fallback_option_a_failing_template_gives_way_to_the_default_for_that_mail_with_a_warning_naming_it()
    {
        var harness = new TemplateHarness(new NotificationTemplateOptions { OnFailure = TemplateFailurePolicy.Fallback });
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("HR: {{ event.title }}", DividesByN, null));

        var fellBack = await harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, data: """{"n":0}"""));
        var own = await harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, data: """{"n":2}"""));

        Assert.Equal("Changed: Travel policy.docx", fellBack.Subject);
        Assert.Contains("You receive this because of the alert \"Policies\".", fellBack.Text, StringComparison.Ordinal);
        Assert.Equal(("HR: Travel policy.docx", "6"), (own.Subject, own.Text));
        var warning = Assert.Single(harness.Log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal("The item.changed template of scope /hr failed in its text (it divides by zero.); the built-in default was used for this mail", warning.Message);
    }

    [Theory]
    [InlineData(TemplateFailurePolicy.Retry)]
    [InlineData(TemplateFailurePolicy.Fallback)]
    public async Task The_built_in_default_renders_in_its_own_guard_and_its_failure_names_it(TemplateFailurePolicy policy)
    {
        var harness = new TemplateHarness(new NotificationTemplateOptions { MaxBodyLength = 2_000, OnFailure = policy });
        await harness.StoreAsync(Hr, DefaultTemplates.Digest, new("{{ 1 | divided_by: 0 }}", "t", null));
        var subscription = new Subscription("s1", TemplateHarness.Payroll, Principal.User("alice"), "Shared Documents", EventFilter.Everything,
            new NotificationSchedule(NotificationFrequency.Daily, new TimeOnly(8, 0), DayOfWeek.Monday), false, true, TemplateHarness.Now, TemplateHarness.Now);
        var events = Enumerable.Range(0, 50).Select(i => TemplateHarness.Event(EventTypes.ItemAdded, title: $"Report {i}.docx")).ToArray();
        var window = new DigestWindow(TemplateHarness.Now.AddDays(-1), TemplateHarness.Now, NotificationFrequency.Daily);

        var failure = await Assert.ThrowsAsync<TemplateFailedException>(
            () => harness.Templates.RenderDigestAsync(subscription, events, window, TemplateHarness.Alice, TemplateHarness.Unsubscribe, Ct).AsTask());

        // With retry, the scope's template fails first; with fallback, the default it fell back to.
        Assert.Equal(policy == TemplateFailurePolicy.Retry ? Hr : null, failure.Scope);
        Assert.Equal(
            policy == TemplateFailurePolicy.Retry
                ? "The digest template of scope /hr failed in its subject: it divides by zero. Fix or remove the template, then retry."
                : "The built-in digest template failed in its text: it writes more than 2,000 characters.",
            failure.Message);
    }

    [Fact]
    public async Task Saving_checks_the_scopes_recent_real_events_and_names_the_one_that_fails()
    {
        var harness = new TemplateHarness();
        var sources = new TemplateSources("Changed: {{ event.title }}", DividesByN, null);
        harness.Recent.Events.Add(TemplateHarness.Event(EventTypes.ItemChanged, ScopePath.Parse("/hr2"), data: """{"n":0}""", id: "elsewhere"));
        harness.Recent.Events.Add(TemplateHarness.Event(EventTypes.ItemAdded, TemplateHarness.Payroll, data: """{"n":0}""", id: "other-type"));
        harness.Recent.Events.Add(TemplateHarness.Event(EventTypes.ItemChanged, TemplateHarness.Payroll, data: """{"n":5}""", id: "fine"));

        Assert.Empty(await harness.Checks.CheckAsync(Hr, EventTypes.ItemChanged, sources, Ct));

        harness.Recent.Events.Add(TemplateHarness.Event(EventTypes.ItemChanged, TemplateHarness.Payroll, data: """{"n":0}""", id: "evt-0042") with { ReceivedAt = TemplateHarness.Now.AddMinutes(1) });
        var errors = await harness.Checks.CheckAsync(Hr, EventTypes.ItemChanged, sources, Ct);

        var error = Assert.Single(errors);
        Assert.Equal("text", error.Field);
        Assert.Equal("Rendering event 'evt-0042' (item.changed in /hr/payroll, received 2026-07-01 10:01 UTC) failed: it divides by zero.", error.Message);
    }
}
