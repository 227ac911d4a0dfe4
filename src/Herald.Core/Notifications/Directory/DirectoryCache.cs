using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Notifications;

/// <summary>
/// The node's current <see cref="DirectoryView"/>. At most once per <see cref="CheckInterval"/>
/// it reads the stored revision (one small query) and rebuilds the view only when another node
/// or a CLI has changed the directory; a write made through this node's
/// <see cref="DirectoryService"/> calls <see cref="Invalidate"/>, so its effect is seen at once.
/// </summary>
public sealed partial class DirectoryCache(IDirectoryStore store, TimeProvider time, ILogger<DirectoryCache>? logger = null) : IDirectory, IDisposable
{
    private readonly ILogger _logger = logger ?? NullLogger<DirectoryCache>.Instance;

    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile Current? _current;
    private int _generation;

    public async ValueTask<IDirectoryView> CurrentAsync(CancellationToken cancellationToken) =>
        await GetViewAsync(cancellationToken).ConfigureAwait(false);

    public async ValueTask<DirectoryView> GetViewAsync(CancellationToken cancellationToken)
    {
        if (Fresh(_current) is { } fresh)
        {
            return fresh.View;
        }

        await _reload.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another caller may have reloaded while this one waited.
            if (Fresh(_current) is { } reloaded)
            {
                return reloaded.View;
            }

            var generation = Volatile.Read(ref _generation);
            var now = time.GetUtcNow();
            var current = _current;
            if (current is not null && await store.GetRevisionAsync(cancellationToken).ConfigureAwait(false) == current.View.Revision)
            {
                _current = current with { CheckedAt = now, Generation = generation };
                return current.View;
            }

            var started = Stopwatch.GetTimestamp();
            var snapshot = await store.LoadAsync(cancellationToken).ConfigureAwait(false);
            var view = new DirectoryView(snapshot);
            _current = new Current(view, now, generation);
            var milliseconds = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogLoaded(_logger, snapshot.Revision, snapshot.Users.Count, snapshot.Groups.Count, snapshot.Access.Count, milliseconds);
            return view;
        }
        finally
        {
            _reload.Release();
        }
    }

    /// <summary>The directory changed through this node: the next read checks the revision.</summary>
    public void Invalidate() => Interlocked.Increment(ref _generation);

    private Current? Fresh(Current? current) =>
        current is not null && current.Generation == Volatile.Read(ref _generation) && time.GetUtcNow() - current.CheckedAt < CheckInterval
            ? current
            : null;

    public void Dispose() => _reload.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Directory revision {Revision} loaded: {Users} users, {Groups} groups, {Entries} access entries in {Milliseconds} ms")]
    private static partial void LogLoaded(ILogger logger, long revision, int users, int groups, int entries, long milliseconds);

    private sealed record Current(DirectoryView View, DateTimeOffset CheckedAt, int Generation);
}
