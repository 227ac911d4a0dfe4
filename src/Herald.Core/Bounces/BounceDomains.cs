using Herald.Scopes;

namespace Herald.Bounces;

/// <summary>
/// Which bounce domain a scope's mail uses: that of the nearest bounce mailbox at the scope or
/// above it, or none (the message keeps the scope's configured envelope sender). Delivery asks
/// for every message, so the mailboxes are held in memory: this node's changes invalidate it at
/// once (<see cref="Invalidate"/>), another node's are seen within <see cref="RefreshAfter"/>.
/// </summary>
public sealed class BounceDomains(IBounceStore store, TimeProvider time)
{
    public static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(30);

    private volatile Snapshot? _snapshot;

    public async ValueTask<string?> DomainForAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var snapshot = _snapshot;
        if (snapshot is null || now - snapshot.LoadedAt >= RefreshAfter)
        {
            var mailboxes = await store.ListAsync(cancellationToken).ConfigureAwait(false);
            snapshot = new Snapshot(mailboxes.ToDictionary(m => m.Scope, m => m.Settings.Domain), now);
            _snapshot = snapshot;
        }

        foreach (var candidate in scope.SelfAndAncestors())
        {
            if (snapshot.Domains.TryGetValue(candidate, out var domain))
            {
                return domain;
            }
        }

        return null;
    }

    public void Invalidate() => _snapshot = null;

    private sealed record Snapshot(IReadOnlyDictionary<ScopePath, string> Domains, DateTimeOffset LoadedAt);
}
