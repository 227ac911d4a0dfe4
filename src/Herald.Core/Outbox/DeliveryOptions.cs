using System.ComponentModel.DataAnnotations;

namespace Herald.Outbox;

/// <summary>How delivery workers behave; configuration section <c>Delivery</c>
/// (e.g. <c>HERALD_Delivery__RetryDelays__0=00:00:30</c>).</summary>
public sealed class DeliveryOptions
{
    public const string Section = "Delivery";

    /// <summary>The retry schedule when none is configured.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetryDelays =
    [
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(4),
    ];

    /// <summary>Wait before attempt 2, 3, …; the last value repeats. Jitter is added to each.
    /// Empty means <see cref="DefaultRetryDelays"/>: the defaults are not assigned here because the
    /// configuration binder appends to an array that already has items, so a configured schedule
    /// would run after the default one instead of replacing it.</summary>
    public TimeSpan[] RetryDelays { get; set; } = [];

    /// <summary>Fraction of each delay added or removed at random, so that retries spread out.</summary>
    [Range(0.0, 1.0)]
    public double Jitter { get; set; } = 0.2;

    /// <summary>Undelivered after this long: expired (RFC 5321 §4.5.4.1 suggests 4–5 days).</summary>
    public TimeSpan MaximumAge { get; set; } = TimeSpan.FromDays(5);

    /// <summary>How long a claimed message stays invisible to other nodes after its node last
    /// renewed the lease. A live node renews its leases every third of this for as long as it
    /// holds the messages, so only the leases of a node that died run out.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    [Range(1, 1000)]
    public int ClaimBatch { get; set; } = 128;

    /// <summary>Messages in flight at once on this node (each connection's own limit applies too).</summary>
    [Range(1, 1000)]
    public int Concurrency { get; set; } = 64;

    /// <summary>How often an idle worker looks for due work (new submissions wake it at once).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>An idle pooled SMTP connection is closed after this long.</summary>
    public TimeSpan IdleConnectionTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Failures to connect, start TLS or authenticate in a row after which a connection is
    /// down: its messages wait in the outbox, untried, while probes test it.</summary>
    [Range(1, 1000)]
    public int FailuresBeforeDown { get; set; } = 3;

    /// <summary>The probe schedule when none is configured: a short outage ends within seconds,
    /// and a long one costs two connections a minute.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultProbeIntervals =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(30),
    ];

    /// <summary>Wait before the first probe of a connection that is down, then after each failed
    /// probe; the last repeats. Empty means <see cref="DefaultProbeIntervals"/> (see
    /// <see cref="RetryDelays"/> for why the default is not assigned here).</summary>
    public TimeSpan[] ProbeIntervals { get; set; } = [];
}

/// <summary>How submissions are accepted; configuration section <c>Outbox</c>.</summary>
public sealed class OutboxOptions
{
    public const string Section = "Outbox";

    /// <summary>Below this much free space in the data directory, submissions are refused
    /// (HTTP 507) before anything is acknowledged.</summary>
    [Range(0, long.MaxValue)]
    public long MinimumFreeDiskBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Most messages grouped into one commit.</summary>
    [Range(1, 10_000)]
    public int MaxCommitBatch { get; set; } = 512;

    /// <summary>Largest MIME message accepted, in bytes.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxMessageBytes { get; set; } = 25 * 1024 * 1024;
}
