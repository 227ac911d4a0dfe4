using System.Text.Json;
using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.Templates;
using Herald.Scopes;

namespace Herald.Tests.Notifications;

/// <summary>Each bound of a render, reached on purpose: the render stops there with a named
/// failure, and it has not allocated far beyond the bound on the way.</summary>
public sealed class TemplateBoundTests
{
    /// <summary>What a render that stops at a 1 MiB bound may allocate on the way (the bounded
    /// value, its copies, the model); the unbounded renders allocated gigabytes.</summary>
    private const long Allocation = 64L * 1024 * 1024;

    private static readonly ScopePath Hr = TemplateHarness.Hr;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("text")]
    [InlineData("html")]
    public async Task A_body_that_would_write_100_MB_stops_at_its_limit_of_1_MiB(string part)
    {
        var harness = new TemplateHarness();
        var hundredMegabytes = "{% for i in (1..100000) %}{{ event.data.kilobyte }}{% endfor %}";
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, part == "text" ? new("s", hundredMegabytes, null) : new("s", "t", hundredMegabytes));
        var e = TemplateHarness.Event(EventTypes.ItemChanged, data: JsonSerializer.Serialize(new { kilobyte = new string('k', 1000) }));

        var (failure, allocated) = await FailureAsync(() => harness.RenderAsync(e));

        Assert.Equal(part, TemplatePartNames.NameOf(failure.Part));
        Assert.Equal("it writes more than 1,048,576 characters.", failure.Reason);
        Assert.InRange(allocated, 0, Allocation);
    }

    [Fact]
    public async Task A_subject_is_cut_at_998_characters_however_much_the_template_writes()
    {
        var harness = new TemplateHarness();
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("{% for i in (1..100000) %}{{ event.title }}\r\n {% endfor %}", "t", null));

        var rendered = await harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, title: "Budget ü"));

        Assert.Equal(998, rendered.Subject.Length);
        Assert.StartsWith("Budget ü Budget ü Budget ü", rendered.Subject, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doubling_a_string_with_append_40_times_stops_at_the_value_limit()
    {
        var harness = new TemplateHarness();
        var doubling = "{% assign s = \"ab\" %}" + string.Concat(Enumerable.Repeat("{% assign s = s | append: s %}", 40)) + "{{ s.size }}";

        var (errors, allocated) = await CheckAllocatingAsync(harness, doubling);

        Assert.Equal("Rendering a sample event failed: it builds a value of more than 1,048,576 characters (with filters such as append, replace or join, or with capture).", Assert.Single(errors).Message);
        Assert.InRange(allocated, 0, Allocation);
    }

    [Fact]
    public async Task Doubling_a_capture_40_times_stops_at_the_value_limit()
    {
        var harness = new TemplateHarness();
        var doubling = "{% capture s %}ab{% endcapture %}" + string.Concat(Enumerate(40, "{% capture s %}{{ s }}{{ s }}{% endcapture %}")) + "{{ s.size }}";

        var (errors, allocated) = await CheckAllocatingAsync(harness, doubling);

        Assert.Equal("Rendering a sample event failed: it captures more than 1,048,576 characters.", Assert.Single(errors).Message);
        Assert.InRange(allocated, 0, Allocation);
    }

    [Theory]
    [InlineData("{% for a in event.data.items %}{% for b in event.data.items %}{% assign x = a | append: b %}{% endfor %}{% endfor %}", "it builds more than 16,777,216 characters of values in all")]
    [InlineData("{% for a in event.data.items %}{% for b in event.data.items %}{% if a == b %}{% endif %}{% endfor %}{% endfor %}", "it runs more than 200,000 steps")]
    [InlineData("{{ event.data.items | join: event.data.items[0] }}", "it builds a value of more than 1,048,576 characters")]
    [InlineData("{{ event.data.items[0] | replace: \"x\", event.data.items[1] }}", "it builds a value of more than 1,048,576 characters")]
    [InlineData("{% assign parts = event.data.text | split: \"\" %}", "it builds a list of more than 200,000 items")]
    [InlineData("{{ event.data | json }}", "it builds a value of more than 1,048,576 characters")]
    public async Task A_loop_or_filter_over_a_megabyte_of_event_data_stops_at_a_bound(string text, string reason)
    {
        var harness = new TemplateHarness();
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("s", text, null));
        var megabyte = JsonSerializer.Serialize(new { items = Enumerable.Range(0, 1000).Select(i => new string('x', 1050)).ToArray(), text = new string('y', 300_000) });

        var (failure, allocated) = await FailureAsync(() => harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, data: megabyte)));

        Assert.StartsWith(reason, failure.Reason, StringComparison.Ordinal);
        Assert.InRange(allocated, 0, 2 * Allocation);
    }

    [Theory]
    [InlineData("{{ event.time | date: \"%999999999d\" }}")]
    [InlineData("{{ 1 | format_number: \"N999999999\" }}")]
    [InlineData("{{ \"{0,900000}{0,900000}\" | format_string: 1 }}")]
    [InlineData("{{ \"{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}\" | format_string: event.data.kilobytes }}")]
    public async Task A_format_whose_output_would_exceed_the_value_limit_is_refused_before_it_is_built(string text)
    {
        var harness = new TemplateHarness();
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("s", text, null));
        var e = TemplateHarness.Event(EventTypes.ItemChanged, data: JsonSerializer.Serialize(new { kilobytes = new string('k', 60_000) }));

        var (failure, allocated) = await FailureAsync(() => harness.RenderAsync(e));

        Assert.StartsWith("it builds a value of more than 1,048,576 characters", failure.Reason, StringComparison.Ordinal);
        Assert.InRange(allocated, 0, Allocation);
    }

    [Fact]
    public async Task Loops_stop_after_the_step_limit_and_ranges_longer_than_a_list_may_be_are_not_built()
    {
        var harness = new TemplateHarness(new NotificationTemplateOptions { MaxSteps = 1_000 });

        var steps = await CheckAsync(harness, "{% for i in (1..1000) %}{% for j in (1..1000) %}{% endfor %}{% endfor %}");
        var range = await CheckAllocatingAsync(harness, "{% for i in (1..2000000000) %}x{% endfor %}");

        Assert.Equal("Rendering a sample event failed: it runs more than 1,000 steps (statements and loop iterations).", Assert.Single(steps).Message);
        Assert.Equal("Rendering a sample event failed: it builds a list of more than 1,000 items.", Assert.Single(range.Errors).Message);
        Assert.InRange(range.Allocated, 0, Allocation);
    }

    [Theory]
    [MemberData(nameof(DeepSources))]
    public void Nesting_deeper_than_the_limit_is_refused_when_compiled_instead_of_overflowing_the_stack(string what, string source)
    {
        var harness = new TemplateHarness();

        // Each of these took the whole process down with a stack overflow, when saved or when sent.
        Assert.False(harness.Compiler.TryCompile(source, out _, out var error), what);

        Assert.Matches("(blocks and brackets nest|It nests blocks, brackets, filters and operators) more than 50 deep", error);
    }

    public static TheoryData<string, string> DeepSources => new()
    {
        { "5,000 nested ifs", string.Concat(Enumerate(5_000, "{% if event.title %}")) + string.Concat(Enumerate(5_000, "{% endif %}")) },
        { "2,000 nested indexers", "{{ event.data" + string.Concat(Enumerate(2_000, "[event.data")) + new string(']', 2_000) + " }}" },
        { "1,000 nested parentheses", "{{ " + new string('(', 1_000) + "1" + new string(')', 1_000) + " }}" },
        { "10,000 filters in a row", "{{ event.title" + string.Concat(Enumerate(10_000, " | append: \"x\"")) + " }}" },
        { "30,000 operators in a row", "{% if event.title" + string.Concat(Enumerate(30_000, " and event.actor")) + " %}x{% endif %}" },
    };

    [Fact]
    public async Task A_render_that_takes_longer_than_its_timeout_gives_up()
    {
        // Each reading of this clock is 10 ms later than the one before.
        var harness = new TemplateHarness(time: new SteppingClock(TimeSpan.FromMilliseconds(10)));
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("s", "{% for i in (1..1000) %}{{ i }}{% endfor %}", null));

        var failure = await Assert.ThrowsAsync<TemplateFailedException>(() => harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged)).AsTask());

        Assert.Equal("it takes longer than 500 ms to render.", failure.Reason);
    }

    [Fact]
    public async Task Preview_data_is_at_most_64_KiB_as_an_events_is()
    {
        var harness = new TemplateHarness();
        var big = JsonDocument.Parse(JsonSerializer.Serialize(new { text = new string('x', 64 * 1024) })).RootElement.Clone();
        var small = JsonDocument.Parse("""{"version":"9.9"}""").RootElement.Clone();

        var refused = await harness.Service.PreviewAsync(Caller.Operator, Hr.Value, EventTypes.ItemChanged, new("{{ event.title }}", "{{ event.data.version }}", null),
            new PreviewEvent(null, new string('t', 1001), null, null, null, big, null), Ct);
        var rendered = await harness.Service.PreviewAsync(Caller.Operator, Hr.Value, EventTypes.ItemChanged, new("{{ event.title }}", "{{ event.data.version }}", null),
            new PreviewEvent(null, null, null, null, null, small, null), Ct);

        Assert.Null(refused.Value);
        Assert.Equal(["event.title", "event.data"], refused.Refusal!.Errors.Select(e => e.Field));
        Assert.Equal("event.data is larger than 64 KiB.", refused.Refusal.Errors[1].Message);
        Assert.Null(rendered.Refusal);
        Assert.Equal("9.9", rendered.Value!.Text);
    }

    [Fact]
    public async Task The_compile_cache_stays_within_its_bytes_and_keeps_the_templates_used_last()
    {
        var harness = new TemplateHarness(new NotificationTemplateOptions { CompileCacheBytes = 40_000 });
        for (var i = 0; i < 30; i++)
        {
            var scope = ScopePath.Parse($"/team{i}");
            // About 4 KB of source each: the cache holds a few of them at a time.
            await harness.StoreAsync(scope, EventTypes.ItemChanged, new($"Team {i}: {{{{ event.title }}}}", $"{i} {new string('-', 2000)}", null));
            var rendered = await harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged, scope));

            Assert.Equal($"Team {i}: Travel policy.docx", rendered.Subject);
            Assert.InRange(harness.Compiler.CachedBytes, 1, 40_000);
        }

        // A template larger than the whole cache is compiled each time it is sent, and not kept.
        await harness.StoreAsync(Hr, EventTypes.ItemChanged, new("s", new string('x', 30_000), null));
        await harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged));
        Assert.InRange(harness.Compiler.CachedBytes, 1, 40_000);
    }

    [Fact]
    public async Task Checks_and_previews_compile_without_filling_the_cache()
    {
        var harness = new TemplateHarness();
        for (var i = 0; i < 100; i++)
        {
            var sources = new TemplateSources($"Preview {i}", new string('x', 10_000), "<p>html</p>");
            await harness.Service.PreviewAsync(Caller.Operator, Hr.Value, EventTypes.ItemChanged, sources, null, Ct);
            await harness.Checks.CheckAsync(Hr, EventTypes.ItemChanged, sources, Ct);
        }

        Assert.Equal(0, harness.Compiler.CachedBytes);
        await harness.RenderAsync(TemplateHarness.Event(EventTypes.ItemChanged));
        Assert.InRange(harness.Compiler.CachedBytes, 1, 100_000);
    }

    private static IEnumerable<string> Enumerate(int count, string text) => Enumerable.Repeat(text, count);

    private static Task<IReadOnlyList<FieldError>> CheckAsync(TemplateHarness harness, string text) =>
        harness.Checks.CheckAsync(null, EventTypes.ItemChanged, new("s", text, null), Ct);

    private static async Task<(IReadOnlyList<FieldError> Errors, long Allocated)> CheckAllocatingAsync(TemplateHarness harness, string text)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var errors = await CheckAsync(harness, text);
        return (errors, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>The failure of a render, and the bytes this thread allocated until it (a render
    /// runs synchronously on the calling thread: Herald's templates never wait).</summary>
    private static async Task<(TemplateFailedException Failure, long Allocated)> FailureAsync(Func<ValueTask<RenderedNotification>> render)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var failure = await Assert.ThrowsAsync<TemplateFailedException>(() => render().AsTask());
        return (failure, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class SteppingClock(TimeSpan step) : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Add(ref _ticks, step.Ticks);

        public override DateTimeOffset GetUtcNow() => TemplateHarness.Now;
    }
}
