using Herald.Outbox;
using Herald.Scopes;

namespace Herald.Suppression;

/// <summary>
/// Where every producer's mail meets the suppression lists: the outbox writer asks this for each
/// batch before it is stored (and before this node's delivery leases it), so that API
/// submissions, the relay, notifications and digests all skip a suppressed address the same way.
/// One query per batch, whatever its number of recipients.
/// </summary>
public sealed class SuppressionCheck(ISuppressionStore store, TimeProvider time)
{
    /// <summary>The messages with their suppressed recipients marked (<see cref="NewMessage.Suppressed"/>),
    /// each by the entry of the nearest scope that lists it.</summary>
    public async Task<NewMessage[]> MarkAsync(IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var scopes = new HashSet<ScopePath>();
        var keyed = new string?[messages.Count][];
        for (var i = 0; i < messages.Count; i++)
        {
            keyed[i] = messages[i].Recipients.Select(SuppressionAddress.KeyOf).ToArray();
            keys.UnionWith(keyed[i].OfType<string>());
            scopes.UnionWith(messages[i].Scope.SelfAndAncestors());
        }

        var marked = messages.ToArray();
        if (keys.Count == 0)
        {
            return marked;
        }

        var found = await store.MatchAsync(keys, scopes, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (found.Count == 0)
        {
            return marked;
        }

        var entries = found.ToLookup(f => f.Key, f => f.Entry, StringComparer.Ordinal);
        for (var i = 0; i < marked.Length; i++)
        {
            var message = marked[i];
            var suppressed = new List<SuppressedRecipient>();
            for (var ordinal = 0; ordinal < message.Recipients.Count; ordinal++)
            {
                if (keyed[i][ordinal] is { } key
                    && entries[key].Where(e => message.Scope.IsSameOrDescendantOf(e.Scope)).MaxBy(e => e.Scope.Value.Length) is { } entry)
                {
                    suppressed.Add(new SuppressedRecipient(ordinal, entry.Reply(message.Recipients[ordinal])));
                }
            }

            if (suppressed.Count > 0)
            {
                marked[i] = message with { Suppressed = suppressed };
            }
        }

        return marked;
    }
}
