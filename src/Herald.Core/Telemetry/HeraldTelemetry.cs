using System.Diagnostics;

namespace Herald.Telemetry;

/// <summary>
/// Herald's metrics and traces, named in one place: one meter and one activity source, both
/// <see cref="Name"/>. Instruments live beside the work they measure (<c>DeliveryMetrics</c>,
/// <c>NotificationMetrics</c>, <c>NodeGauges</c>); spans are started where the work happens
/// (the relay's acceptance, a delivery attempt, an event's fan-out). With no listener attached
/// (no exporter configured) <see cref="Source"/> starts nothing and every span costs a null check.
/// </summary>
public static class HeraldTelemetry
{
    /// <summary>The meter's and the activity source's name.</summary>
    public const string Name = "Herald";

    public static readonly ActivitySource Source = new(Name);

    /// <summary>The W3C traceparent of the span the caller runs in (an API request, a relay
    /// acceptance, a fan-out), stored with a message so that its delivery continues that trace;
    /// null when nothing is tracing.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C, Id: { Length: <= MaxTraceParentLength } id } ? id : null;

    /// <summary>The context a stored traceparent names, or none (a message accepted while nothing
    /// traced, or by a node of an earlier release): its delivery then starts a trace of its own.</summary>
    public static ActivityContext ParentOf(string? traceParent) =>
        ActivityContext.TryParse(traceParent, traceState: null, isRemote: true, out var context) ? context : default;

    /// <summary>A W3C traceparent of version 00 is 55 characters; a future version may append fields.</summary>
    public const int MaxTraceParentLength = 128;
}
