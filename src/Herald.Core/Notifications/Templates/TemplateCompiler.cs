using System.Diagnostics.CodeAnalysis;
using System.Text.Encodings.Web;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using Fluid;
using Microsoft.Extensions.Options;
using TimeZoneConverter;

namespace Herald.Notifications.Templates;

/// <summary>
/// Parses Liquid sources into templates that render within their bounds (see
/// <see cref="TemplateGuard"/>, <see cref="BoundedFilters"/>), and keeps the ones that are sent: a
/// fan-out renders the same few templates 100,000 times in a row. Parse errors, unknown filters and
/// nesting beyond the limit are found here, when an administrator saves a template.
/// </summary>
public sealed partial class TemplateCompiler
{
    /// <summary>Blocks the parser descends into, one level each.</summary>
    private static readonly HashSet<string> Blocks = new(["if", "unless", "case", "for", "tablerow", "capture"], StringComparer.Ordinal);

    private readonly FluidParser _parser = new();
    private readonly NotificationTemplateOptions _limits;
    private readonly Lock _cacheLock = new();
    private readonly Dictionary<string, LinkedListNode<Cached>> _cache = new(StringComparer.Ordinal);
    private readonly LinkedList<Cached> _recent = new();
    private long _cachedBytes;

    public TemplateCompiler(IOptions<NotificationTemplateOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _limits = options.Value;
        // Herald has no template files: these tags could only fail.
        _parser.RegisteredTags.Remove("include");
        _parser.RegisteredTags.Remove("render");
        Options = new TemplateOptions { StrictFilters = true };
        BoundedFilters.Guard(Options.Filters);
        // The time_zone filter finds zones through TimeZoneConverter, whose first use reads every
        // zone of the system: seconds on a busy machine, which no render should wait for.
        _ = Task.Run(() => TZConvert.TryGetTimeZoneInfo("UTC", out _));
    }

    /// <summary>Rendering options: unknown filters are errors, and every filter is guarded. Steps
    /// are counted by the guarded templates themselves (<see cref="RenderContext"/>).</summary>
    internal TemplateOptions Options { get; }

    /// <summary>HTML bodies encode every value (but keep non-ASCII letters readable).</summary>
    public static TextEncoder Html { get; } = HtmlEncoder.Create(UnicodeRanges.All);

    /// <summary>Text bodies and subjects are not encoded.</summary>
    public static TextEncoder Text { get; } = NullEncoder.Default;

    /// <summary>Estimated bytes of the compiled templates kept.</summary>
    public long CachedBytes
    {
        get
        {
            lock (_cacheLock)
            {
                return _cachedBytes;
            }
        }
    }

    /// <summary>The compiled template, or why the source is not a valid template: a parse error
    /// with its line and column, a filter Herald does not have, or nesting beyond the limit.
    /// Nothing is kept: this is for checks and previews, which must not fill the cache.</summary>
    public bool TryCompile(string source, [NotNullWhen(true)] out IFluidTemplate? template, [NotNullWhen(false)] out string? error) =>
        TryCompile(source, out template, out error, out _);

    /// <summary>The compiled template of a source that is sent, from the cache or compiled and
    /// kept (the least recently used ones go when the cache is over its size).</summary>
    public bool TryGetOrCompile(string source, [NotNullWhen(true)] out IFluidTemplate? template, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (_cacheLock)
        {
            if (_cache.TryGetValue(source, out var hit))
            {
                _recent.Remove(hit);
                _recent.AddFirst(hit);
                template = hit.Value.Template;
                error = null;
                return true;
            }
        }

        if (!TryCompile(source, out template, out error, out var bytes))
        {
            return false;
        }

        Keep(source, template, bytes);
        return true;
    }

    private bool TryCompile(string source, [NotNullWhen(true)] out IFluidTemplate? template, [NotNullWhen(false)] out string? error, out long bytes)
    {
        ArgumentNullException.ThrowIfNull(source);
        template = null;
        bytes = 0;
        // Checked before parsing: the parser recurses once per level and would run out of stack
        // on a source nested thousands deep, taking the process with it.
        error = NestingError(source, _limits.MaxNesting);
        if (error is not null)
        {
            return false;
        }

        if (!_parser.TryParse(source, out var parsed, out var parseError))
        {
            error = Describe(parseError);
            return false;
        }

        var guard = new TemplateGuard(Options.Filters, _limits.MaxNesting);
        try
        {
            parsed = guard.VisitTemplate(parsed);
        }
        catch (TemplateLimitException ex)
        {
            error = Capitalized(ex.Message);
            return false;
        }

        if (guard.UnknownFilters.Count > 0)
        {
            error = $"Unknown filter{(guard.UnknownFilters.Count > 1 ? "s" : "")} {string.Join(", ", guard.UnknownFilters.Select(n => $"'{n}'"))}.";
            return false;
        }

        template = parsed;
        // An estimate: the source (text spans point into it) and a small object per node.
        bytes = (2L * source.Length) + (64L * guard.Nodes);
        return true;
    }

    private void Keep(string source, IFluidTemplate template, long bytes)
    {
        lock (_cacheLock)
        {
            if (bytes > _limits.CompileCacheBytes || _cache.ContainsKey(source))
            {
                return;
            }

            while (_cachedBytes + bytes > _limits.CompileCacheBytes && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _cache.Remove(oldest.Value.Source);
                _cachedBytes -= oldest.Value.Bytes;
            }

            _cache[source] = _recent.AddFirst(new Cached(source, template, bytes));
            _cachedBytes += bytes;
        }
    }

    /// <summary>Where the source nests blocks and brackets deeper than <paramref name="max"/>,
    /// found by scanning tags without parsing them; null when it does not.</summary>
    private static string? NestingError(string source, int max)
    {
        var blocks = 0;
        var at = 0;
        while ((at = source.IndexOf('{', at)) >= 0 && at + 1 < source.Length)
        {
            var kind = source[at + 1];
            if (kind is not ('{' or '%'))
            {
                at++;
                continue;
            }

            var start = at;
            at += 2;
            var name = TagName(source, ref at);
            if (kind == '%' && Blocks.Contains(name))
            {
                blocks++;
            }
            else if (kind == '%' && name.StartsWith("end", StringComparison.Ordinal))
            {
                blocks = Math.Max(0, blocks - 1);
            }

            var brackets = 0;
            var deepest = 0;
            for (char? quote = null; at < source.Length; at++)
            {
                var c = source[at];
                if (quote is not null)
                {
                    quote = c == quote ? null : quote;
                }
                else if (c is '"' or '\'')
                {
                    quote = c;
                }
                else if (c is '[' or '(')
                {
                    deepest = Math.Max(deepest, ++brackets);
                }
                else if (c is ']' or ')')
                {
                    brackets--;
                }
                else if (c == (kind == '%' ? '%' : '}') && at + 1 < source.Length && source[at + 1] == '}')
                {
                    break;
                }
            }

            if (blocks + deepest > max)
            {
                var line = source.AsSpan(0, start).Count('\n') + 1;
                var column = start - source.LastIndexOf('\n', Math.Max(0, start - 1));
                return $"line {line}, column {column}: blocks and brackets nest more than {max} deep here.";
            }

            // The body of raw and comment is text, not tags.
            if (kind == '%' && name is "raw" or "comment")
            {
                var end = source.IndexOf("end" + name, at, StringComparison.Ordinal);
                at = end < 0 ? source.Length : end;
            }
        }

        return null;
    }

    /// <summary>The word a tag starts with (after its '-' and white space), moving past it.</summary>
    private static string TagName(string source, ref int at)
    {
        while (at < source.Length && (source[at] == '-' || char.IsWhiteSpace(source[at])))
        {
            at++;
        }

        var start = at;
        while (at < source.Length && (char.IsAsciiLetterOrDigit(source[at]) || source[at] == '_'))
        {
            at++;
        }

        return source[start..at];
    }

    private static string Capitalized(string clause) => clause.Length == 0 ? clause : char.ToUpperInvariant(clause[0]) + clause[1..];

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

    private sealed record Cached(string Source, IFluidTemplate Template, long Bytes);
}
