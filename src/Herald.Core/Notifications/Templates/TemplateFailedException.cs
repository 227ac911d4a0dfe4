using Herald.Scopes;

namespace Herald.Notifications.Templates;

/// <summary>The three parts of a notification's template.</summary>
public enum TemplatePart
{
    Subject,
    Text,
    Html,
}

public static class TemplatePartNames
{
    /// <summary>As the API, the console and the CLI name the fields.</summary>
    public static string NameOf(TemplatePart part) => part switch
    {
        TemplatePart.Subject => "subject",
        TemplatePart.Text => "text",
        _ => "html",
    };
}

/// <summary>
/// A template failed to render: it does not compile, it divides by zero or overflows a number, or
/// it reached one of its bounds (output, values built, steps, time). This is the one failure the
/// render methods of <see cref="INotificationTemplates"/> throw for what a template does; the
/// notification loop counts it as the event's fault (retried, then quarantined with
/// <see cref="Exception.Message"/> as the reason an administrator reads). Any other exception out
/// of rendering is a bug in Herald, not in a template, and is not turned into this one.
/// </summary>
/// <remarks>An exception rather than a result value: the fan-out renders inside an async stream
/// that feeds the mailer, and the one thing it must do with a failure is stop and hand it to the
/// loop's failure policy, which is exactly what a thrown exception does.</remarks>
public sealed class TemplateFailedException : Exception
{
    public TemplateFailedException()
        : this("A template failed to render.")
    {
    }

    public TemplateFailedException(string message)
        : base(message)
    {
        EventType = "";
        Reason = message;
    }

    public TemplateFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
        EventType = "";
        Reason = message;
    }

    /// <param name="scope">The scope whose own template failed; null for the built-in default.</param>
    /// <param name="eventType">The event type (or <c>digest</c>) the template is for.</param>
    /// <param name="part">The part that was rendering.</param>
    /// <param name="reason">What went wrong, as a clause: "it divides by zero".</param>
    public TemplateFailedException(ScopePath? scope, string eventType, TemplatePart part, string reason, Exception? innerException = null)
        : base(Describe(scope, eventType, part, reason), innerException)
    {
        Scope = scope;
        EventType = eventType;
        Part = part;
        Reason = reason;
    }

    /// <summary>The scope whose own template failed; null when it was the built-in default.</summary>
    public ScopePath? Scope { get; }

    public string EventType { get; }

    public TemplatePart Part { get; }

    /// <summary>What went wrong, without naming the template: "it divides by zero".</summary>
    public string Reason { get; }

    /// <summary>"The item.changed template of scope /hr" or "The built-in digest template".</summary>
    public static string NameOf(ScopePath? scope, string eventType) =>
        scope is null ? $"The built-in {eventType} template" : $"The {eventType} template of scope {scope}";

    private static string Describe(ScopePath? scope, string eventType, TemplatePart part, string reason) =>
        $"{NameOf(scope, eventType)} failed in its {TemplatePartNames.NameOf(part)}: {reason}"
        + (scope is null ? "" : " Fix or remove the template, then retry.");
}
