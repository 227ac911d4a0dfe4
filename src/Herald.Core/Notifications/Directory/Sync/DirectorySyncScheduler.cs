using System.ComponentModel.DataAnnotations;
using Herald.Outbox;
using Herald.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Sync;

/// <summary>When <c>herald serve</c> looks for directory sources due a sync; configuration section
/// <c>DirectorySync</c> (e.g. <c>HERALD_DirectorySync__CheckInterval=00:05:00</c>). How often each
/// source syncs is the source's own setting (<c>herald directory source set --interval-minutes</c>).</summary>
public sealed class DirectorySyncOptions
{
    public const string Section = "DirectorySync";

    /// <summary>How often a node looks for a source whose interval has passed.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a node holds a source's sync lease: longer than any sync takes. A node that
    /// dies mid-sync leaves the lease to run out, then another node syncs.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "1.00:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(30);
}

/// <summary>
/// The scheduled sync in <c>herald serve</c>: every <see cref="DirectorySyncOptions.CheckInterval"/>
/// each node looks for sources whose interval has passed and syncs one only once it holds the
/// source's lease (a row update only one node wins), so one node at a time syncs a source. It
/// reads deltas between full syncs, and a full sync once the source's full-sync interval has
/// passed (deletions are found only then). What it changes bumps the directory revision, so every
/// node's directory view reloads within seconds. A failure is recorded on the source and logged;
/// the loop goes on.
/// </summary>
public sealed partial class DirectorySyncScheduler(
    IDirectorySourceStore sources,
    DirectorySyncService sync,
    NodeIdentity node,
    IOptions<DirectorySyncOptions> options,
    TimeProvider time,
    ILogger<DirectorySyncScheduler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunDueAsync(stoppingToken).ConfigureAwait(false);
                await Task.Delay(options.Value.CheckInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (FailurePolicy.Classify(ex, stoppingToken) is FailureKind.Item or FailureKind.Infrastructure)
            {
                LogFailed(logger, FailurePolicy.Describe(ex));
                await Task.Delay(options.Value.CheckInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Syncs every source that is due and whose lease this node takes; returns the sources synced.</summary>
    public async Task<IReadOnlyList<string>> RunDueAsync(CancellationToken cancellationToken)
    {
        var synced = new List<string>();
        foreach (var listed in await sources.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            var now = time.GetUtcNow();
            if (!Due(listed, now) || !await sources.TryLeaseAsync(listed.Name, node.Name, now, now + options.Value.LeaseDuration, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            try
            {
                // Read again under the lease: another node may have synced it just before.
                if (await sources.FindAsync(listed.Name, cancellationToken).ConfigureAwait(false) is not { } source || !Due(source, now))
                {
                    continue;
                }

                var full = source.LastFullSyncAt is not { } lastFull || now - lastFull >= TimeSpan.FromHours(source.Settings.FullSyncHours);
                await sync.SyncSourceAsync(source, dryRun: false, delta: !full, cancellationToken).ConfigureAwait(false);
                synced.Add(source.Name);
            }
            finally
            {
                await sources.ReleaseAsync(listed.Name, node.Name, CancellationToken.None).ConfigureAwait(false);
            }
        }

        return synced;
    }

    private static bool Due(DirectorySource source, DateTimeOffset now) =>
        source.Settings.IntervalMinutes > 0 && (source.LastSyncAt is not { } last || now - last >= TimeSpan.FromMinutes(source.Settings.IntervalMinutes));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scheduled directory sync failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
