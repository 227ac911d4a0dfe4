using System.Globalization;
using System.Text;
using System.Text.Json;
using CsCheck;
using Herald.Notifications;
using Herald.Notifications.Templates;

namespace Herald.Tests.Notifications;

/// <summary>
/// Generated Liquid (nested blocks, every filter Herald has with random arguments, loops, ranges,
/// huge literals, broken syntax) against generated event data, checked and rendered as a scope's
/// template on the real clock: nothing but <see cref="TemplateFailedException"/> escapes, the
/// output never exceeds its limits, and a render that would run past its time gives up (the
/// renderer enforces that; this test asserts no timings). CsCheck prints the seed of a failing
/// sample ("set seed: ... or -e CsCheck_Seed=... to reproduce") with its shrunk template.
/// </summary>
public sealed class GeneratedTemplateTests
{
    private static readonly string[] Variables =
    [
        "event.title", "event.actor", "event.link", "event.time", "event.data", "event.data.n", "event.data.m", "event.data.items",
        "event.data.text", "event.data.nested", "event.data.nested.deep", "event.data.items[0]", "event.data.items[event.data.n]",
        "recipient.name", "unsubscribe_url", "s", "t", "i", "forloop.index", "nothing",
    ];

    private static readonly string[] Filters = new TemplateHarness().Compiler.Options.Filters.Select(f => f.Key).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Generated_templates_over_generated_events_render_within_their_limits_or_fail_by_name()
    {
        var sample = Gen.Select(Template, Template, Template, EventData);
        var rendered = 0;

        sample.Sample(
            (subject, text, html, data) =>
            {
                if (RenderedWithinLimits(subject, text, html, data))
                {
                    Interlocked.Increment(ref rendered);
                }
            },
            iter: 400,
            threads: 1,
            writeLine: line => TestContext.Current.TestOutputHelper?.WriteLine(line),
            print: t => $"subject: {Shorten(t.Item1)}\ntext: {Shorten(t.Item2)}\nhtml: {Shorten(t.Item3)}\ndata: {Shorten(t.Item4)}");

        // Not a vacuous pass: a good share of the generated templates compile and render whole.
        Assert.InRange(rendered, 40, 400);
    }

    /// <summary>True when the template rendered (within its limits), false when it failed by name.</summary>
    private static bool RenderedWithinLimits(string subject, string text, string html, string data)
    {
        var harness = new TemplateHarness(time: TimeProvider.System);
        var sources = new TemplateSources(subject, text, html);
        var e = TemplateHarness.Event(EventTypes.ItemChanged, data: data);
        harness.Recent.Events.Add(e);

        // Checking returns problems, whatever the template: it never throws.
        harness.Checks.CheckAsync(TemplateHarness.Hr, EventTypes.ItemChanged, sources, CancellationToken.None).GetAwaiter().GetResult();

        harness.StoreAsync(TemplateHarness.Hr, EventTypes.ItemChanged, sources).GetAwaiter().GetResult();
        try
        {
            var rendered = harness.RenderAsync(e).AsTask().GetAwaiter().GetResult();
            Assert.InRange(rendered.Subject.Length, 0, harness.Limits.MaxSubjectLength);
            Assert.InRange(rendered.Text.Length, 0, harness.Limits.MaxBodyLength);
            Assert.InRange(rendered.Html?.Length ?? 0, 0, harness.Limits.MaxBodyLength);
            return true;
        }
        catch (TemplateFailedException failure)
        {
            Assert.Equal(TemplateHarness.Hr, failure.Scope);
            Assert.StartsWith("The item.changed template of scope /hr failed in its ", failure.Message, StringComparison.Ordinal);
            return false;
        }
    }

    private static string Shorten(string value) => value.Length <= 2_000 ? value : $"{value[..2_000]}… ({value.Length:N0} characters)";

    /// <summary>Strings that are long, odd or both.</summary>
    private static Gen<string> Text { get; } = Gen.Frequency(
        (6, Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789 ,.-"].Array[0, 20].Select(chars => new string(chars))),
        (1, Gen.String[0, 20]),
        (1, Gen.Int[1_000, 300_000].Select(n => new string('x', n))),
        (1, Gen.Const("%1000000d{0,999999}{0}{0}N999999999")));

    private static Gen<string> Number { get; } = Gen.OneOf(
        Gen.Int[-3, 10].Select(n => n.ToString(CultureInfo.InvariantCulture)),
        Gen.Int.Select(n => n.ToString(CultureInfo.InvariantCulture)),
        Gen.Const("79228162514264337593543950335"),
        Gen.Const("-79228162514264337593543950335"),
        Gen.Const("0.0000000001"),
        Gen.Const("2147483648"));

    private static Gen<string> Variable { get; } = Gen.OneOf(Variables);

    /// <summary>A range's end: Liquid takes an integer or a variable there.</summary>
    private static Gen<string> RangeEnd { get; } = Gen.OneOf(
        Gen.Int[-3, 10].Select(n => n.ToString(CultureInfo.InvariantCulture)),
        Gen.Const("2000000000"),
        Gen.Const("event.data.n"),
        Gen.Const("event.data.m"));

    private static Gen<string> Range { get; } = Gen.Select(RangeEnd, RangeEnd, (a, b) => $"({a}..{b})");

    /// <summary>A value: a literal or a variable.</summary>
    private static Gen<string> Value { get; } = Gen.Frequency(
        (4, Variable),
        (2, Number),
        (2, Text.Select(t => "\"" + t.Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal) + "\"")),
        (1, Gen.OneOf(Gen.Const("true"), Gen.Const("false"), Gen.Const("nil"), Gen.Const("empty"))));

    /// <summary>A value through zero to four filters, each with zero to three arguments.</summary>
    private static Gen<string> Expression { get; } = Gen.Select(
        Value,
        Gen.Select(Gen.OneOf(Filters), Value.Array[0, 3]).Array[0, 4],
        (value, filters) => value + string.Concat(filters.Select(f => $" | {f.Item1}" + (f.Item2.Length == 0 ? "" : ": " + string.Join(", ", f.Item2)))));

    private static Gen<string> Condition { get; } = Gen.Frequency(
        (3, Value),
        (2, Gen.Select(Value, Gen.OneOf(["==", "!=", "<", ">=", "contains", "startswith"]), Value, (a, op, b) => $"{a} {op} {b}")),
        (1, Gen.Select(Value, Value, (a, b) => $"{a} and {b} or {a}")));

    /// <summary>What a loop goes through: a variable or a range.</summary>
    private static Gen<string> Source { get; } = Gen.Frequency((3, Variable), (2, Range));

    /// <summary>Statements nested a few levels.</summary>
    private static Gen<string> Statements { get; } = Gen.Recursive<string>((depth, inner) =>
    {
        var body = depth >= 5 ? Gen.Const("x") : inner.Array[0, 4].Select(string.Concat);
        return Gen.Frequency(
            (4, Text),
            (4, Expression.Select(x => $"{{{{ {x} }}}}")),
            (2, Gen.Select(Gen.OneOf(["s", "t", "i"]), Gen.Frequency((5, Expression), (1, Range)), (v, x) => $"{{% assign {v} = {x} %}}")),
            (1, Gen.Select(Gen.OneOf(["s", "t"]), body, (v, b) => $"{{% capture {v} %}}{b}{{% endcapture %}}")),
            (2, Gen.Select(Condition, body, body, (c, a, b) => $"{{% if {c} %}}{a}{{% elsif {c} %}}{b}{{% else %}}{a}{{% endif %}}")),
            (1, Gen.Select(Condition, body, (c, a) => $"{{% unless {c} %}}{a}{{% endunless %}}")),
            (2, Gen.Select(Source, Gen.OneOf(["", " limit: 3", " offset: 2", " reversed", " limit: event.data.n"]), body, (x, o, b) => $"{{% for i in {x}{o} %}}{b}{{% endfor %}}")),
            (1, Gen.Select(Source, body, (x, b) => $"{{% tablerow i in {x} cols: 2 %}}{b}{{% endtablerow %}}")),
            (1, Gen.Select(Value, Value, body, (x, w, b) => $"{{% case {x} %}}{{% when {w} %}}{b}{{% else %}}x{{% endcase %}}")),
            (1, Gen.OneOf(["{% cycle 'a', 'b' %}", "{% increment n %}", "{% break %}", "{% raw %}{{ x }}{% endraw %}", "{% comment %}c{% endcomment %}"])));
    });

    /// <summary>A template: mostly valid Liquid, now and then with broken syntax somewhere.</summary>
    private static Gen<string> Template { get; } = Gen.Frequency(
        (9, Statements),
        (1, Gen.Select(Statements, Gen.OneOf(["{{", "{% if x %}", "{% endfor %}", "{{ x | }}", "{% for %}", "{{ x[ }}", "{% include 'y' %}"]), Statements, (a, broken, b) => a + broken + b)));

    /// <summary>Event data: numbers at and beyond the edges, lists, long text, nesting.</summary>
    private static Gen<string> EventData { get; } = Gen.Select(
        Number,
        Gen.Double,
        Text.Array[0, 50],
        Gen.Int[0, 300_000],
        Gen.Int[0, 60],
        (n, m, items, textLength, depth) =>
        {
            var nested = new StringBuilder();
            for (var level = 0; level < depth; level++)
            {
                nested.Append("{\"deep\":");
            }

            nested.Append("\"bottom\"").Append('}', depth);
            return $$"""{"n":{{n}},"m":{{JsonSerializer.Serialize(double.IsFinite(m) ? m : 0)}},"items":{{JsonSerializer.Serialize(items)}},"text":"{{new string('y', textLength)}}","nested":{{nested}}}""";
        });
}
