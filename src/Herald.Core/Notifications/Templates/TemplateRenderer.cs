using System.Text.Encodings.Web;
using System.Text.Json;
using Fluid;
using Herald.Scopes;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Templates;

/// <summary>A template's parts, compiled, and which template they are: a scope's own (or the
/// built-in default when <see cref="Scope"/> is null) for an event type.</summary>
public sealed record CompiledTemplate(ScopePath? Scope, string EventType, IFluidTemplate Subject, IFluidTemplate Text, IFluidTemplate? Html);

/// <summary>
/// Renders templates within the bounds of <see cref="NotificationTemplateOptions"/>: the subject
/// is cut at its length, a body that would be longer fails, and steps, time and the values built
/// are counted for the whole render. Whatever the template does wrong surfaces as one
/// <see cref="TemplateFailedException"/> naming the template and the part; an exception that is
/// not the template's doing (cancellation, a bug in Herald) passes through unchanged.
/// </summary>
public sealed class TemplateRenderer(TemplateCompiler compiler, IOptions<NotificationTemplateOptions> options, TimeProvider time)
{
    /// <summary>The sources compiled: kept in the compiler's cache when <paramref name="keep"/>
    /// (templates being sent), not otherwise (checks and previews). A part that does not compile
    /// fails as the template's failure.</summary>
    public CompiledTemplate Compile(TemplateSources sources, ScopePath? scope, string eventType, bool keep)
    {
        ArgumentNullException.ThrowIfNull(sources);
        return new CompiledTemplate(
            scope,
            eventType,
            Part(TemplatePart.Subject, sources.Subject),
            Part(TemplatePart.Text, sources.Text),
            string.IsNullOrWhiteSpace(sources.Html) ? null : Part(TemplatePart.Html, sources.Html));

        IFluidTemplate Part(TemplatePart part, string source) =>
            (keep ? compiler.TryGetOrCompile(source, out var template, out var error) : compiler.TryCompile(source, out template, out error))
                ? template
                : throw new TemplateFailedException(scope, eventType, part, $"it does not compile: {error}");
    }

    /// <summary>Renders every part with the values <paramref name="model"/> sets.</summary>
    public async ValueTask<RenderedNotification> RenderAsync(CompiledTemplate template, Action<TemplateContext> model)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(model);
        var limits = options.Value;
        var context = new RenderContext(compiler.Options, limits, time);
        model(context);
        var overflow = $"it writes more than {limits.MaxBodyLength:N0} characters.";
        var subject = new SubjectWriter(limits.MaxSubjectLength);
        await RenderPartAsync(template, TemplatePart.Subject, template.Subject, subject, TemplateCompiler.Text, context).ConfigureAwait(false);
        var text = new BoundedWriter(limits.MaxBodyLength, overflow);
        await RenderPartAsync(template, TemplatePart.Text, template.Text, text, TemplateCompiler.Text, context).ConfigureAwait(false);
        var rendered = new RenderedNotification(subject.Collect(), text.Collect(), null);
        if (template.Html is null)
        {
            return rendered;
        }

        var html = new BoundedWriter(limits.MaxBodyLength, overflow);
        await RenderPartAsync(template, TemplatePart.Html, template.Html, html, TemplateCompiler.Html, context).ConfigureAwait(false);
        return rendered with { Html = html.Collect() };
    }

    private static async ValueTask RenderPartAsync(
        CompiledTemplate template, TemplatePart part, IFluidTemplate fluid, TextWriter writer, TextEncoder encoder, RenderContext context)
    {
        try
        {
            await fluid.RenderAsync(writer, encoder, context).ConfigureAwait(false);
        }
        catch (SubjectComplete)
        {
            // The subject's line is full; what the template would write next is cut anyway.
        }
        catch (Exception ex) when (Reason(ex) is { } reason)
        {
            throw new TemplateFailedException(template.Scope, template.EventType, part, reason, ex);
        }
    }

    /// <summary>What the template did wrong, as a clause; null for what is no template's doing.
    /// The kinds are those that a template's expressions, filters and values raise in Fluid and
    /// .NET: arithmetic, conversions and formats, arguments out of range, invalid operations.</summary>
    private static string? Reason(Exception ex) => ex switch
    {
        TemplateLimitException => ex.Message,
        DivideByZeroException => "it divides by zero.",
        OverflowException => "a number it computes or converts is out of range.",
        ArithmeticException or FluidException or InvalidOperationException or FormatException or ArgumentException
            or InvalidCastException or KeyNotFoundException or IndexOutOfRangeException or NotSupportedException or JsonException => $"it fails: {ex.Message}",
        _ => null,
    };
}
