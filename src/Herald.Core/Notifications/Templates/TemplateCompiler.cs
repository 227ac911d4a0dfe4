using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text.Encodings.Web;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using Fluid;
using Fluid.Ast;

namespace Herald.Notifications.Templates;

/// <summary>
/// Parses Liquid sources once and keeps the compiled templates: a fan-out renders the same few
/// templates 100,000 times in a row. Parse errors and unknown filters are found here, when an
/// administrator saves a template, not when a notification is sent.
/// </summary>
public sealed partial class TemplateCompiler
{
    /// <summary>Compiled templates kept at most; beyond that the cache starts again (templates
    /// are few: one per scope and type that has its own).</summary>
    private const int MaxCached = 2_000;

    private readonly FluidParser _parser = new();
    private readonly ConcurrentDictionary<string, IFluidTemplate> _compiled = new(StringComparer.Ordinal);

    /// <summary>Rendering options: unknown filters are errors, and a template that loops without end
    /// stops after a bounded number of steps.</summary>
    public TemplateOptions Options { get; } = new() { StrictFilters = true, MaxSteps = 200_000 };

    /// <summary>HTML bodies encode every value (but keep non-ASCII letters readable).</summary>
    public static TextEncoder Html { get; } = HtmlEncoder.Create(UnicodeRanges.All);

    /// <summary>Text bodies and subjects are not encoded.</summary>
    public static TextEncoder Text { get; } = NullEncoder.Default;

    /// <summary>The compiled template, or why the source is not a valid template: a parse error
    /// with its line and column, or a filter Herald does not have.</summary>
    public bool TryCompile(string source, [NotNullWhen(true)] out IFluidTemplate? template, [NotNullWhen(false)] out string? error)
    {
        if (_compiled.TryGetValue(source, out template))
        {
            error = null;
            return true;
        }

        if (!_parser.TryParse(source, out template, out var parseError))
        {
            error = Describe(parseError);
            return false;
        }

        var filters = new FilterNames();
        filters.VisitTemplate(template);
        var unknown = filters.Names.Where(name => !Options.Filters.TryGetValue(name, out _)).Order(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
        {
            error = $"Unknown filter{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown.Select(n => $"'{n}'"))}.";
            template = null;
            return false;
        }

        if (_compiled.Count >= MaxCached)
        {
            _compiled.Clear();
        }

        _compiled[source] = template;
        error = null;
        return true;
    }

    /// <summary>Fluid's message without its echo of the source: "line 2, column 14: End of tag '}}' was expected".</summary>
    private static string Describe(string? parseError)
    {
        var message = (parseError ?? "The template cannot be parsed.").Split('\n')[0].Trim();
        var position = PositionPattern().Match(message);
        return position.Success
            ? $"line {position.Groups[1].Value}, column {position.Groups[2].Value}: {message[..position.Index].TrimEnd()}."
            : message;
    }

    [GeneratedRegex(@"\s*at \((\d+):(\d+)\)\s*$")]
    private static partial Regex PositionPattern();

    /// <summary>Every filter a template uses, in every branch (a render only meets those on its path).</summary>
    private sealed class FilterNames : AstVisitor
    {
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

        protected override Expression VisitFilterExpression(FilterExpression filterExpression)
        {
            Names.Add(filterExpression.Name);
            return base.VisitFilterExpression(filterExpression);
        }
    }
}
