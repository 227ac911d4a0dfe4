using System.Globalization;
using Fluid;

namespace Herald.Notifications.Templates;

/// <summary>
/// One render's context and its budget, shared by the subject, text and HTML: the steps it has
/// run (statements and loop iterations), the time since it started, and the characters of the
/// values it has built. Every guard of <see cref="TemplateCompiler"/> (statements, loops, ranges,
/// captures, filters) charges it, and it stops the render with a <see cref="TemplateLimitException"/>
/// at the first bound reached.
/// </summary>
internal sealed class RenderContext : TemplateContext
{
    private readonly NotificationTemplateOptions _limits;
    private readonly TimeProvider _time;
    private readonly long _started;
    private int _stepsRun;
    private long _built;

    public RenderContext(TemplateOptions options, NotificationTemplateOptions limits, TimeProvider time)
        : base(options)
    {
        _limits = limits;
        _time = time;
        _started = time.GetTimestamp();
    }

    /// <summary>The longest string a template may build, and the longest body it may write.</summary>
    public int MaxValueLength => _limits.MaxBodyLength;

    /// <summary>The context a guard is given; only this renderer renders guarded templates.</summary>
    public static RenderContext Of(TemplateContext context) =>
        context as RenderContext ?? throw new InvalidOperationException("Herald's templates render only through TemplateRenderer, which bounds them.");

    /// <summary>One statement run or one loop iteration begun.</summary>
    public void Step()
    {
        if (++_stepsRun > _limits.MaxSteps)
        {
            throw new TemplateLimitException($"it runs more than {_limits.MaxSteps:N0} steps (statements and loop iterations).");
        }

        CheckTime();
    }

    public void CheckTime()
    {
        if (_time.GetElapsedTime(_started) > _limits.RenderTimeout)
        {
            throw new TemplateLimitException($"it takes longer than {_limits.RenderTimeout.TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture)} ms to render.");
        }
    }

    /// <summary>Before a value of (at most) this many characters is built.</summary>
    public void CheckValue(long characters)
    {
        if (characters > _limits.MaxBodyLength)
        {
            throw new TemplateLimitException($"it builds a value of more than {_limits.MaxBodyLength:N0} characters (with filters such as append, replace or join, or with capture).");
        }
    }

    /// <summary>Before a list of this many items is built: no loop could go through more.</summary>
    public void CheckItems(long items)
    {
        if (items > _limits.MaxSteps)
        {
            throw new TemplateLimitException($"it builds a list of more than {_limits.MaxSteps:N0} items.");
        }
    }

    /// <summary>Characters a filter or a capture has built, counted for the whole render.</summary>
    public void Built(long characters)
    {
        _built += characters;
        if (_built > _limits.MaxBuiltCharacters)
        {
            throw new TemplateLimitException($"it builds more than {_limits.MaxBuiltCharacters:N0} characters of values in all (values built and thrown away in a loop count too).");
        }
    }
}

/// <summary>A render stopped at one of its bounds; the message is the reason an administrator
/// reads, as a clause about the template that follows a colon ("it runs more than 200,000 steps.").</summary>
internal sealed class TemplateLimitException : Exception
{
    public TemplateLimitException()
    {
    }

    public TemplateLimitException(string message)
        : base(message)
    {
    }

    public TemplateLimitException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
