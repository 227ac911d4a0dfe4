using System.ComponentModel.DataAnnotations;

namespace Herald.Notifications.Matching;

/// <summary>The notification engine's timing (section <c>Notifications</c>, e.g.
/// <c>HERALD_Notifications__Lease=00:05:00</c>).</summary>
public sealed class NotificationOptions
{
    public const string Section = "Notifications";

    /// <summary>How long an idle engine waits before looking for pending events again (an event
    /// posted to this node wakes it at once).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the match index reads other nodes' subscription and rule changes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan IndexRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a node holds an event it is fanning out; if it dies, another node takes
    /// the event after this.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an event waits after its scope could not send (no settings, disabled).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Events claimed at a time.</summary>
    [Range(1, 1000)]
    public int ClaimBatch { get; set; } = 16;
}
