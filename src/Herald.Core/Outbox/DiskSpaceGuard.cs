using Microsoft.Extensions.Options;

namespace Herald.Outbox;

/// <summary>Refuses submissions before they are acknowledged when the data directory's disk is
/// nearly full: better a 507 now than a 202 for a message that cannot be stored.</summary>
public sealed class DiskSpaceGuard(string? dataDirectory, IOptions<OutboxOptions> options, TimeProvider time)
{
    private long _checkedAtTicks = long.MinValue;
    private long _available = long.MaxValue;

    /// <summary>Free bytes, measured at most once a second; null when the outbox is not on a local disk.</summary>
    public long? AvailableBytes()
    {
        if (dataDirectory is null)
        {
            return null;
        }

        var now = time.GetUtcNow().UtcTicks;
        if (now - Interlocked.Read(ref _checkedAtTicks) > TimeSpan.TicksPerSecond)
        {
            Interlocked.Exchange(ref _available, new DriveInfo(Path.GetFullPath(dataDirectory)).AvailableFreeSpace);
            Interlocked.Exchange(ref _checkedAtTicks, now);
        }

        return Interlocked.Read(ref _available);
    }

    public bool HasRoomFor(long bytes) =>
        AvailableBytes() is not { } available || available - bytes >= options.Value.MinimumFreeDiskBytes;
}
