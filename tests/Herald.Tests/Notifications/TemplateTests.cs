using System.Text.Json;
using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.Templates;
using Herald.Scopes;

namespace Herald.Tests.Notifications;

public sealed class TemplateTests
{
    private static readonly DateTimeOffset Now = TemplateHarness.Now;
    private static readonly Uri Unsubscribe = TemplateHarness.Unsubscribe;
    private static readonly ScopePath Hr = TemplateHarness.Hr;
    private static readonly ScopePath Payroll = TemplateHarness.Payroll;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static NotificationRecipient Alice => TemplateHarness.Alice;

    private static NotificationEvent Event(string type, ScopePath? scope = null, string title = "Travel policy.docx", string? data = null) =>
        TemplateHarness.Event(type, scope, title, data);

    private static (NotificationTemplates Templates, TemplateService Service, InMemoryTemplateStore Store, ListLogger Log) Create()
    {
        var harness = new TemplateHarness();
        return (harness.Templates, harness.Service, harness.Store, harness.Log);
    }

    private static Task<IReadOnlyList<FieldError>> CheckAsync(string type, TemplateSources sources) =>
        new TemplateHarness().Checks.CheckAsync(null, type, sources, Ct);

    [Theory]
    [MemberData(nameof(BuiltInTypes))]
    public async Task Every_built_in_type_has_a_default_that_says_what_who_when_and_how_to_unsubscribe(string type)
    {
        var (templates, _, _, _) = Create();

        var rendered = await templates.RenderEventAsync(Event(type), Alice, "the alert \"Policies\"", Unsubscribe, Ct);

        Assert.Contains("Travel policy.docx", rendered.Subject, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', rendered.Subject);
        Assert.Contains("bob@example.org", rendered.Text, StringComparison.Ordinal);
        // 10:00 UTC is 12:00 in Berlin in July: times are in the recipient's zone.
        Assert.Contains("Wednesday, 1 July 2026, 12:00 (Europe/Berlin)", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("https://intranet.example.org/docs/travel?x=1&y=2", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("You receive this because of the alert \"Policies\".", rendered.Text, StringComparison.Ordinal);
        Assert.Contains(Unsubscribe.AbsoluteUri, rendered.Text, StringComparison.Ordinal);
        Assert.Contains($"href=\"{Unsubscribe.AbsoluteUri}\"", rendered.Html, StringComparison.Ordinal);
        Assert.Contains("https://intranet.example.org/docs/travel?x=1&amp;y=2", rendered.Html, StringComparison.Ordinal);
    }

    public static TheoryData<string> BuiltInTypes => [.. EventTypes.BuiltIn];

    [Theory]
    [MemberData(nameof(BuiltInTypes))]
    public async Task Every_built_in_type_reads_well_where_the_scope_is_root_and_its_html_has_lang_and_title(string type)
    {
        var (templates, _, _, _) = Create();

        var rendered = await templates.RenderEventAsync(Event(type, ScopePath.Root), Alice, "the alert \"Policies\"", Unsubscribe, Ct);

        Assert.Contains("Where:   /Shared Documents/Travel policy.docx\n", rendered.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("//", rendered.Text.Replace("://", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("Change:  was", rendered.Text, StringComparison.Ordinal);
        Assert.StartsWith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", rendered.Html, StringComparison.Ordinal);
        Assert.Contains("<td>/Shared Documents/Travel policy.docx</td>", rendered.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_change_says_what_changed_once_and_below_root_the_scope_comes_before_the_path()
    {
        var (templates, _, _, _) = Create();

        var rendered = await templates.RenderEventAsync(Event(EventTypes.ItemChanged, Hr), Alice, "the alert \"Policies\"", Unsubscribe, Ct);

        Assert.Contains("Change:  changed\n", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("Where:   /hr/Shared Documents/Travel policy.docx\n", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("<title>Travel policy.docx was changed</title>", rendered.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Built_in_templates_render_within_the_tightest_bounds_the_options_allow()
    {
        var harness = new TemplateHarness(new NotificationTemplateOptions { MaxNesting = 10, MaxSteps = 1_000, MaxBodyLength = 16 * 1024 });
        var subscription = new Subscription("s1", Hr, Principal.User("alice"), "Shared Documents", EventFilter.Everything,
            new NotificationSchedule(NotificationFrequency.Daily, new TimeOnly(8, 0), DayOfWeek.Monday), false, true, Now, Now);
        var window = new DigestWindow(Now.AddDays(-1), Now, NotificationFrequency.Daily);

        foreach (var type in EventTypes.BuiltIn.Append("ticket.escalated"))
        {
            var rendered = await harness.RenderAsync(Event(type, title: new string('t', 1000)));
            Assert.Contains(Unsubscribe.AbsoluteUri, rendered.Html, StringComparison.Ordinal);
        }

        var digest = await harness.Templates.RenderDigestAsync(subscription, [.. Enumerable.Range(0, 10).Select(i => Event(EventTypes.ItemAdded, title: $"Report {i}.docx"))], window, Alice, Unsubscribe, Ct);
        Assert.Contains("Report 9.docx", digest.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Built_in_subjects_differ_by_type_and_a_custom_type_gets_the_generic_default()
    {
        var (templates, _, _, _) = Create();

        var changed = await templates.RenderEventAsync(Event(EventTypes.ItemChanged), Alice, "x", Unsubscribe, Ct);
        var failed = await templates.RenderEventAsync(Event(EventTypes.PipelineFailed, title: "build #12"), Alice, "x", Unsubscribe, Ct);
        var custom = await templates.RenderEventAsync(Event("ticket.escalated", title: "Printer on fire"), Alice, "x", Unsubscribe, Ct);

        Assert.Equal("Changed: Travel policy.docx", changed.Subject);
        Assert.Equal("Pipeline failed: build #12", failed.Subject);
        Assert.Equal("Printer on fire (ticket.escalated)", custom.Subject);
        Assert.Contains("ticket.escalated", custom.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Html_is_encoded_text_is_not_and_the_subject_is_one_line_of_at_most_998_characters()
    {
        var (templates, _, _, _) = Create();
        var title = "<script>alert('x')</script> & Ünïcode\r\nBcc: evil@example.org " + new string('x', 2000);

        var rendered = await templates.RenderEventAsync(Event(EventTypes.ItemAdded, title: title), Alice, "x", Unsubscribe, Ct);

        Assert.Contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Ünïcode", rendered.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", rendered.Html, StringComparison.Ordinal);
        Assert.Contains("<script>alert('x')</script> & Ünïcode", rendered.Text, StringComparison.Ordinal);
        Assert.StartsWith("Added: <script>alert('x')</script> & Ünïcode Bcc: evil@example.org xxx", rendered.Subject, StringComparison.Ordinal);
        Assert.Equal(998, rendered.Subject.Length);
        Assert.DoesNotContain('\r', rendered.Subject);
    }

    [Fact]
    public async Task A_scope_template_applies_below_it_until_a_nearer_scope_has_its_own()
    {
        var (templates, service, store, _) = Create();
        await store.SaveAsync(new NotificationTemplate(Hr, EventTypes.ItemChanged, new("HR: {{ event.title }}", "hr text", null), Now), Ct);
        await store.SaveAsync(new NotificationTemplate(ScopePath.Root, EventTypes.ItemChanged, new("Root: {{ event.title }}", "root text", null), Now), Ct);

        var inherited = await templates.RenderEventAsync(Event(EventTypes.ItemChanged, Payroll), Alice, "x", Unsubscribe, Ct);
        Assert.Equal(("HR: Travel policy.docx", "hr text", null), (inherited.Subject, inherited.Text, inherited.Html));
        var elsewhere = await templates.RenderEventAsync(Event(EventTypes.ItemChanged, ScopePath.Parse("/finance")), Alice, "x", Unsubscribe, Ct);
        Assert.Equal("Root: Travel policy.docx", elsewhere.Subject);
        var otherType = await templates.RenderEventAsync(Event(EventTypes.ItemAdded, Payroll), Alice, "x", Unsubscribe, Ct);
        Assert.Equal("Added: Travel policy.docx", otherType.Subject);

        await store.SaveAsync(new NotificationTemplate(Payroll, EventTypes.ItemChanged, new("Payroll: {{ event.data.version }}", "t", null), Now), Ct);
        templates.Invalidate();
        var own = await templates.RenderEventAsync(Event(EventTypes.ItemChanged, Payroll, data: """{"version":"3.1"}"""), Alice, "x", Unsubscribe, Ct);
        Assert.Equal("Payroll: 3.1", own.Subject);

        var listed = (await service.ShowAsync(Caller.Operator, Payroll.Value, EventTypes.ItemChanged, Ct)).Value!;
        Assert.Equal((TemplateOrigin.Own, Payroll), (listed.Origin, listed.DefinedAt));
        var fromHr = (await service.ShowAsync(Caller.Operator, "/hr/benefits", EventTypes.ItemChanged, Ct)).Value!;
        Assert.Equal((TemplateOrigin.Inherited, Hr), (fromHr.Origin, fromHr.DefinedAt));
        var fallback = (await service.ShowAsync(Caller.Operator, Payroll.Value, EventTypes.QuotaExceeded, Ct)).Value!;
        Assert.Equal(TemplateOrigin.Default, fallback.Origin);
    }

    [Fact]
    public async Task Event_data_is_a_nested_object_in_templates()
    {
        var (templates, _, store, _) = Create();
        await store.SaveAsync(new NotificationTemplate(ScopePath.Root, EventTypes.PipelineFailed, new(
            "{{ event.data.pipeline.branch }} #{{ event.data.run | plus: 1 }}",
            "{% for s in event.data.stages %}[{{ s.name }}={{ s.ok }}]{% endfor %} {{ event.change_kind }} {{ recipient.name }}",
            null), Now), Ct);

        var rendered = await templates.RenderEventAsync(
            Event(EventTypes.PipelineFailed, data: """{"pipeline":{"branch":"main"},"run":41,"stages":[{"name":"build","ok":true},{"name":"test","ok":false}]}"""),
            Alice, "x", Unsubscribe, Ct);

        Assert.Equal("main #42", rendered.Subject);
        Assert.Equal("[build=true][test=false] failed Alice Martin", rendered.Text);
    }

    [Fact]
    public async Task A_syntax_error_is_reported_with_its_field_line_and_column()
    {
        var errors = await CheckAsync(EventTypes.ItemChanged, new("Changed: {{ event.title }}", "Hello\n{{ event.title }\nbye", "<p>{% if event.link %}open</p>"));

        Assert.Equal(["text", "html"], errors.Select(e => e.Field));
        Assert.StartsWith("line 2, column ", errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("'}}' was expected", errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("{% endif %}", errors[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_filter_is_reported_even_in_a_branch_the_sample_does_not_take()
    {
        var errors = await CheckAsync(EventTypes.ItemChanged, new("{{ event.title | upcase }}", "{% if false %}{{ event.title | shout }}{% endif %}", null));

        var error = Assert.Single(errors);
        Assert.Equal(("text", "Unknown filter 'shout'."), (error.Field, error.Message));
    }

    [Fact]
    public async Task A_template_that_fails_on_a_sample_event_is_reported_and_a_good_one_passes()
    {
        var errors = await CheckAsync(EventTypes.ItemChanged, new("{{ event.title }}", "{% for i in (1..100000) %}{% for j in (1..100000) %}x{% endfor %}{% endfor %}", null));
        var good = await CheckAsync(DefaultTemplates.Digest, new("{{ digest.count }} changes", "{% for e in digest.events %}{{ e.title }}{% endfor %}", "<b>{{ digest.subscription_name }}</b>"));
        var missing = await CheckAsync(EventTypes.ItemChanged, new(" ", "", null));

        Assert.Equal("text", Assert.Single(errors).Field);
        Assert.Contains("Rendering a sample event failed", errors[0].Message, StringComparison.Ordinal);
        Assert.Empty(good);
        Assert.Equal(["subject", "text"], missing.Select(e => e.Field));
    }

    [Fact]
    public async Task The_digest_default_lists_every_event_in_the_recipients_local_window()
    {
        var (templates, _, _, _) = Create();
        var subscription = new Subscription("s1", Hr, Principal.User("alice"), "Shared Documents", EventFilter.Everything,
            new NotificationSchedule(NotificationFrequency.Daily, new TimeOnly(8, 0), DayOfWeek.Monday), false, true, Now, Now);
        var events = new[] { Event(EventTypes.ItemAdded, title: "A.docx"), Event(EventTypes.ItemChanged, title: "B <draft>.docx") };
        var window = new DigestWindow(new DateTimeOffset(2026, 6, 30, 6, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 7, 1, 6, 0, 0, TimeSpan.Zero), NotificationFrequency.Daily);

        var rendered = await templates.RenderDigestAsync(subscription, events, window, Alice, Unsubscribe, Ct);

        Assert.Equal("Daily summary of Shared Documents: 2 changes", rendered.Subject);
        Assert.Contains("Tuesday, 30 June 2026, 08:00 to Wednesday, 1 July 2026, 08:00 (Europe/Berlin)", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("- A.docx: added by bob@example.org", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("- B <draft>.docx: changed", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("B &lt;draft&gt;.docx", rendered.Html, StringComparison.Ordinal);
        Assert.Contains(Unsubscribe.AbsoluteUri, rendered.Text, StringComparison.Ordinal);
        Assert.Contains("  /hr/payroll/Shared Documents/Travel policy.docx\n", rendered.Text, StringComparison.Ordinal);
        Assert.Contains("<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Daily summary of Shared Documents</title>", rendered.Html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_preview_renders_unsaved_sources_over_a_sample_event_with_the_given_values()
    {
        var (_, service, _, _) = Create();

        var preview = await service.PreviewAsync(Caller.Operator, Hr.Value, "item.changed", new("{{ event.title }} by {{ event.actor }}", "{{ event.data.version }}", null),
            new PreviewEvent(null, "Budget.xlsx", null, null, null, null, null), Ct);
        var bad = await service.PreviewAsync(Caller.Operator, Hr.Value, "Item Changed!", null, null, Ct);

        Assert.Null(preview.Refusal);
        Assert.Equal("Budget.xlsx by jordan.smith@example.org", preview.Value!.Subject);
        Assert.Equal("3.0", preview.Value.Text);
        Assert.Equal("type", Assert.Single(bad.Refusal!.Errors).Field);
    }
}
