namespace Herald.Notifications.Templates;

/// <summary>Subject, text body and HTML body of one kind of notification, as Liquid sources.</summary>
public sealed record TemplateSources(string Subject, string Text, string? Html);

/// <summary>
/// The built-in templates: one per built-in event type, a generic one for custom types and one for
/// digests. Each reads like an alert mail from SharePoint or Azure DevOps: what happened to what,
/// who did it, when (in the recipient's time zone), a link, and a footer that says why the mail came
/// and how to stop it.
/// </summary>
public static class DefaultTemplates
{
    /// <summary>The template type of daily and weekly summaries, next to the event types.</summary>
    public const string Digest = "digest";

    private const string When = """{{ event.time | date: "%A, %-d %B %Y, %H:%M" }} ({{ recipient.time_zone }})""";

    /// <summary>The scope and the item's path within it, without the doubled slash of <c>/</c>.</summary>
    private const string Where = """{% if event.scope == "/" %}{{ event.resource_path | default: "/" }}{% else %}{{ event.scope }}{{ event.resource_path }}{% endif %}""";

    /// <summary>The same for an event of a digest (<c>e</c>).</summary>
    private const string DigestWhere = """{% if e.scope == "/" %}{{ e.resource_path | default: "/" }}{% else %}{{ e.scope }}{{ e.resource_path }}{% endif %}""";

    /// <summary>The footer's "Manage your alerts" line, for a recipient who is a directory user.</summary>
    private const string ManageText = "{% if manage_url %}\nManage your alerts: {{ manage_url }}{% endif %}";

    private const string ManageHtml = """{% if manage_url %} &middot; <a href="{{ manage_url }}">Manage your alerts</a>{% endif %}""";

    private static readonly Dictionary<string, TemplateSources> ByType = new(StringComparer.Ordinal)
    {
        [EventTypes.ItemAdded] = Event("Added: {{ event.title }}", "{{ event.title }} was added", "added"),
        [EventTypes.ItemChanged] = Event("Changed: {{ event.title }}", "{{ event.title }} was changed", "changed"),
        [EventTypes.ItemDeleted] = Event("Deleted: {{ event.title }}", "{{ event.title }} was deleted", "deleted"),
        [EventTypes.PipelineFailed] = Event("Pipeline failed: {{ event.title }}", "Pipeline {{ event.title }} failed", "failed"),
        [EventTypes.PipelineSucceeded] = Event("Pipeline succeeded: {{ event.title }}", "Pipeline {{ event.title }} succeeded", "succeeded"),
        [EventTypes.StageFailed] = Event("Stage failed: {{ event.title }}", "Stage {{ event.title }} failed", "failed"),
        [EventTypes.StageSucceeded] = Event("Stage succeeded: {{ event.title }}", "Stage {{ event.title }} succeeded", "succeeded"),
        [EventTypes.AccessRequested] = Event(
            "Access request: {{ event.actor | default: \"someone\" }} asks for access to {{ event.title }}",
            "{{ event.actor | default: \"Someone\" }} asks for access to {{ event.title }}",
            "access requested"),
        [EventTypes.QuotaExceeded] = Event("Quota exceeded: {{ event.title }}", "The quota of {{ event.title }} is exceeded", "quota exceeded"),
    };

    /// <summary>For event types Herald does not know: the type is shown as it came.</summary>
    public static readonly TemplateSources Generic = Event("{{ event.title }} ({{ event.type }})", "{{ event.title }}", "{{ event.type }}");

    public static readonly TemplateSources DigestDefault = new(
        """{% if digest.frequency == "weekly" %}Weekly{% else %}Daily{% endif %} summary of {{ digest.subscription_name }}: {{ digest.count }} {% if digest.count == 1 %}change{% else %}changes{% endif %}""",
        $$$"""
        {% if digest.frequency == "weekly" %}Weekly{% else %}Daily{% endif %} summary of {{ digest.subscription_name }}
        {{ digest.window_start | date: "%A, %-d %B %Y, %H:%M" }} to {{ digest.window_end | date: "%A, %-d %B %Y, %H:%M" }} ({{ recipient.time_zone }})

        {% for e in digest.events %}- {{ e.title }}: {{ e.change_kind }}{% if e.actor %} by {{ e.actor }}{% endif %}, {{ e.time | date: "%a %-d %b %H:%M" }}
          {{{DigestWhere}}}{% if e.link %}
          {{ e.link }}{% endif %}
        {% endfor %}
        --
        You receive this summary because of the alert "{{ digest.subscription_name }}".{{{ManageText}}}
        Unsubscribe: {{ unsubscribe_url }}
        """,
        $$$"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>{% if digest.frequency == "weekly" %}Weekly{% else %}Daily{% endif %} summary of {{ digest.subscription_name }}</title></head>
        <body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222">
        <h2 style="font-size:18px;margin:0 0 4px">{% if digest.frequency == "weekly" %}Weekly{% else %}Daily{% endif %} summary of {{ digest.subscription_name }}</h2>
        <p style="color:#666;margin:0 0 16px">{{ digest.window_start | date: "%A, %-d %B %Y, %H:%M" }} to {{ digest.window_end | date: "%A, %-d %B %Y, %H:%M" }} ({{ recipient.time_zone }})</p>
        <table cellpadding="6" cellspacing="0" style="border-collapse:collapse;width:100%">
        <tr style="background:#f3f3f3;text-align:left"><th>Item</th><th>Change</th><th>By</th><th>When</th></tr>
        {% for e in digest.events %}<tr style="border-top:1px solid #ddd"><td>{% if e.link %}<a href="{{ e.link }}">{{ e.title }}</a>{% else %}{{ e.title }}{% endif %}<br><span style="color:#666">{{{DigestWhere}}}</span></td><td>{{ e.change_kind }}</td><td>{{ e.actor }}</td><td>{{ e.time | date: "%a %-d %b %H:%M" }}</td></tr>
        {% endfor %}</table>
        <hr style="border:0;border-top:1px solid #ddd;margin:24px 0 8px">
        <p style="color:#666;font-size:12px">You receive this summary because of the alert &ldquo;{{ digest.subscription_name }}&rdquo;. <a href="{{ unsubscribe_url }}">Unsubscribe</a>{{{ManageHtml}}}</p>
        </body></html>
        """);

    /// <summary>The built-in template of an event type (or <see cref="Digest"/>).</summary>
    public static TemplateSources For(string type) =>
        type == Digest ? DigestDefault : ByType.GetValueOrDefault(type) ?? Generic;

    private static TemplateSources Event(string subject, string headline, string change) => new(
        subject,
        $$$"""
        {{{headline}}}

        {{ event.title }}
        Change:  {{{change}}}
        Where:   {{{Where}}}{% if event.actor %}
        By:      {{ event.actor }}{% endif %}
        When:    {{{When}}}{% if event.link %}
        Open:    {{ event.link }}{% endif %}

        --
        You receive this because of {{ source_name }}.{{{ManageText}}}
        Unsubscribe: {{ unsubscribe_url }}
        """,
        $$$"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>{{{headline}}}</title></head>
        <body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222">
        <h2 style="font-size:18px;margin:0 0 16px">{% if event.link %}<a href="{{ event.link }}" style="color:#0366d6;text-decoration:none">{{{headline}}}</a>{% else %}{{{headline}}}{% endif %}</h2>
        <table cellpadding="4" cellspacing="0">
        <tr><td style="color:#666">Change</td><td>{{{change}}}</td></tr>
        <tr><td style="color:#666">Where</td><td>{{{Where}}}</td></tr>{% if event.actor %}
        <tr><td style="color:#666">By</td><td>{{ event.actor }}</td></tr>{% endif %}
        <tr><td style="color:#666">When</td><td>{{{When}}}</td></tr>
        </table>{% if event.link %}
        <p style="margin:16px 0"><a href="{{ event.link }}" style="background:#0366d6;color:#fff;padding:8px 14px;border-radius:4px;text-decoration:none">Open</a></p>{% endif %}
        <hr style="border:0;border-top:1px solid #ddd;margin:24px 0 8px">
        <p style="color:#666;font-size:12px">You receive this because of {{ source_name }}. <a href="{{ unsubscribe_url }}">Unsubscribe</a>{{{ManageHtml}}}</p>
        </body></html>
        """);
}
