using Fluid;
using Fluid.Values;

namespace Herald.Notifications.Templates;

/// <summary>
/// Every filter, guarded: before it runs, the render's clock is checked and, for the filters whose
/// output can be far larger than their input (<c>replace</c>, <c>join</c>, <c>split</c>, the
/// formats, <c>json</c>), its worst case is estimated and refused above the bounds; after it runs,
/// what it built is counted. Other filters grow their input by a small factor at most, so checking
/// afterwards keeps one step's allocation within a few times the value limit.
/// </summary>
internal static class BoundedFilters
{
    /// <summary>Characters a number, a date or a boolean may take as text, for estimates.</summary>
    private const int ScalarLength = 64;

    private delegate void Estimate(FluidValue input, FilterArguments arguments, RenderContext context);

    private static readonly Dictionary<string, Estimate> Estimates = new(StringComparer.Ordinal)
    {
        ["replace"] = (input, arguments, context) =>
        {
            var text = input.ToStringValue();
            var search = arguments.At(0).ToStringValue();
            var replacement = arguments.At(1).ToStringValue();
            if (search.Length > 0 && replacement.Length > search.Length)
            {
                context.CheckValue(text.Length + (Occurrences(text, search) * (long)(replacement.Length - search.Length)));
            }
        },
        ["join"] = (input, arguments, context) =>
        {
            var items = input is ArrayValue array ? array.Values.Count : 1;
            context.CheckValue(TextLength(input, context.MaxValueLength) + ((items - 1L) * arguments.At(0).ToStringValue().Length));
        },
        ["split"] = (input, arguments, context) =>
        {
            var text = input.ToStringValue();
            var separator = arguments.At(0).ToStringValue();
            context.CheckItems(separator.Length == 0 ? text.Length : Occurrences(text, separator) + 1L);
        },
        // strftime directives take a width ("%1000d"): each directive up to its width or a name.
        ["date"] = (_, arguments, context) => Format(arguments.At(0).ToStringValue(), '%', ScalarLength, context),
        // .NET date formats have no widths; a pattern letter becomes a name at most.
        ["format_date"] = (_, arguments, context) => context.CheckValue((arguments.At(0).ToStringValue().Length * 16L) + ScalarLength),
        // .NET number formats take a precision ("N999999999").
        ["format_number"] = (_, arguments, context) => Format(arguments.At(0).ToStringValue(), '\0', ScalarLength, context),
        // Composite formats repeat arguments ("{0}{0}{0}") and take alignments ("{0,1000000}").
        ["format_string"] = (input, arguments, context) =>
            Format(input.ToStringValue(), '{', arguments.Values.Select(v => v.ToStringValue().Length).Append(ScalarLength).Max(), context),
        ["json"] = (input, _, context) => context.CheckValue(JsonLength(input, context, context.MaxValueLength)),
    };

    /// <summary>Replaces each filter of the collection with its guarded self.</summary>
    public static void Guard(FilterCollection filters)
    {
        foreach (var (name, filter) in filters.ToArray())
        {
            filters.AddFilter(name, Guarded(filter, Estimates.GetValueOrDefault(name)));
        }
    }

    private static FilterDelegate Guarded(FilterDelegate filter, Estimate? estimate) => (input, arguments, context) =>
    {
        var render = RenderContext.Of(context);
        render.CheckTime();
        estimate?.Invoke(input, arguments, render);
        var result = filter(input, arguments, context);
        if (!result.IsCompletedSuccessfully)
        {
            return Awaited(result, input, render);
        }

        Count(input, result.Result, render);
        return result;
    };

    private static async ValueTask<FluidValue> Awaited(ValueTask<FluidValue> pending, FluidValue input, RenderContext render)
    {
        var result = await pending.ConfigureAwait(false);
        Count(input, result, render);
        return result;
    }

    /// <summary>What a filter built: a new string, or a new list (its items, and the text it would
    /// become, which <c>join</c> or <c>append</c> would build next).</summary>
    private static void Count(FluidValue input, FluidValue result, RenderContext render)
    {
        switch (result)
        {
            case StringValue text when !(input is StringValue same && ReferenceEquals(same.ToStringValue(), text.ToStringValue())):
                var length = text.ToStringValue().Length;
                render.CheckValue(length);
                render.Built(length);
                break;
            case ArrayValue list when !ReferenceEquals(list, input):
                render.CheckItems(list.Values.Count);
                var textLength = TextLength(list, render.MaxValueLength);
                render.CheckValue(textLength);
                render.Built(list.Values.Count + textLength);
                break;
        }
    }

    /// <summary>The worst case of a format: its own length, a value (or a name) per directive,
    /// and every number in it taken as a width or a precision; refused above the value limit
    /// before .NET or Fluid allocates it.</summary>
    private static void Format(string format, char directive, int perDirective, RenderContext context)
    {
        long estimate = format.Length;
        long number = 0;
        foreach (var c in format)
        {
            if (char.IsAsciiDigit(c))
            {
                number = Math.Min((number * 10) + (c - '0'), int.MaxValue);
                continue;
            }

            estimate += number + (c == directive ? perDirective : 0);
            number = 0;
        }

        context.CheckValue(estimate + number + (directive == '\0' ? perDirective : 0));
    }

    private static int Occurrences(string text, string search)
    {
        var count = 0;
        for (var at = text.IndexOf(search, StringComparison.Ordinal); at >= 0; at = text.IndexOf(search, at + search.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>The length of the text a value becomes (a list: its items' texts; an object: none),
    /// counted up to <paramref name="cap"/> and no further, so that measuring costs no more than the limit.</summary>
    private static long TextLength(FluidValue value, long cap)
    {
        switch (value)
        {
            case StringValue text:
                return text.ToStringValue().Length;
            case ArrayValue list:
                long total = 0;
                foreach (var item in list.Values)
                {
                    total += TextLength(item, cap - total);
                    if (total > cap)
                    {
                        break;
                    }
                }

                return total;
            case DictionaryValue:
            case NilValue:
                return 0;
            default:
                return ScalarLength;
        }
    }

    /// <summary>The length of a value as JSON (objects with their keys), counted up to <paramref name="cap"/>.</summary>
    private static long JsonLength(FluidValue value, TemplateContext context, long cap)
    {
        switch (value)
        {
            case StringValue text:
                return text.ToStringValue().Length + 2;
            case ArrayValue or DictionaryValue or ObjectValue:
                long total = 2;
                foreach (var item in value.Enumerate(context))
                {
                    total += JsonLength(item, context, cap - total) + 1;
                    if (total > cap)
                    {
                        break;
                    }
                }

                return total;
            default:
                return ScalarLength;
        }
    }
}
