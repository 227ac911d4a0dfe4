using System.ComponentModel.DataAnnotations;

namespace Herald.Notifications.Templates;

/// <summary>What happens when a scope's own template fails while a notification is sent.</summary>
public enum TemplateFailurePolicy
{
    /// <summary>The event fails: the loop retries it and, after its tries, quarantines it with the
    /// template's failure as the reason; an administrator fixes the template and retries it.</summary>
    Retry,

    /// <summary>That mail is rendered with the built-in default for its type, and a warning names
    /// the template that failed.</summary>
    Fallback,
}

/// <summary>
/// The bounds of one render (section <c>Notifications:Templates</c>): whatever a template does,
/// its output, the values it builds, its steps, its nesting and its time stay within these, and a
/// template that reaches one fails with a <see cref="TemplateFailedException"/> that says which.
/// </summary>
public sealed class NotificationTemplateOptions
{
    public const string Section = "Notifications:Templates";

    /// <summary>A subject is one header line: what a template writes beyond this is cut off
    /// (RFC 5322 allows 998 characters per line).</summary>
    [Range(1, 998)]
    public int MaxSubjectLength { get; set; } = 998;

    /// <summary>Characters of the text body, and separately of the HTML body; a template that
    /// writes more fails. Also the longest string a template may build (assign, append, capture).
    /// The lower bound leaves room for the built-in templates.</summary>
    [Range(16 * 1024, 64 * 1024 * 1024)]
    public int MaxBodyLength { get; set; } = 1024 * 1024;

    /// <summary>Statements and loop iterations one render may run, all parts together.</summary>
    [Range(1_000, 10_000_000)]
    public int MaxSteps { get; set; } = 200_000;

    /// <summary>How deep blocks, brackets, filters and operators may nest. Checked when a template
    /// is compiled; the upper bound keeps parsing and rendering far from the end of a thread's
    /// stack, the lower one leaves room for the built-in templates.</summary>
    [Range(10, 100)]
    public int MaxNesting { get; set; } = 50;

    /// <summary>How long one render (subject, text and HTML together) may take before it gives up.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan RenderTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Compiled templates kept by a node, in estimated bytes (sources and syntax trees).
    /// Only templates that are sent are kept; checks and previews compile without keeping.</summary>
    [Range(0, 1024L * 1024 * 1024)]
    public long CompileCacheBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>Recent real events of the scope a template is checked against when it is saved,
    /// besides the sample event.</summary>
    [Range(0, 20)]
    public int SaveCheckEvents { get; set; } = 5;

    /// <summary>What a failing scope template does at send time; the built-in default's own
    /// failure always fails the event.</summary>
    public TemplateFailurePolicy OnFailure { get; set; } = TemplateFailurePolicy.Retry;

    /// <summary>All the values one render may build together, in characters: enough for any
    /// template that writes what it builds, not for one that builds and throws away in a loop.</summary>
    public long MaxBuiltCharacters => 16L * MaxBodyLength;
}
