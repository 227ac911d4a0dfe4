using Herald.Scopes;

namespace Herald.Notifications.Matching;

/// <summary>
/// Subscriptions (or rules) in memory, keyed by scope → event type (or "any type") → resource
/// path prefix, one trie node per path segment. Matching an event looks only at the buckets of
/// the event's scope and its ancestors (a subscription in /hr sees /hr/payroll's events), for
/// the event's type and "any type", along the nodes of the event's own path: the work depends on
/// the event, not on how many subscriptions there are. Change kinds and conditions are checked on
/// those candidates only. Safe to use from several threads.
/// </summary>
public sealed class SubscriptionIndex<T>(Func<T, string> idOf, Func<T, ScopePath> scopeOf, Func<T, EventFilter> filterOf)
    where T : class
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ScopeNode> _scopes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Placement> _placements = new(StringComparer.Ordinal);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _placements.Count;
            }
        }
    }

    /// <summary>Adds or replaces (same id) an item.</summary>
    public void Upsert(T item)
    {
        lock (_gate)
        {
            RemoveLocked(idOf(item));
            var filter = filterOf(item);
            var scope = Node(_scopes, scopeOf(item).Value);
            var typeRoots = filter.EventTypes.Count == 0
                ? [scope.AnyType]
                : filter.EventTypes.Distinct(StringComparer.Ordinal).Select(t => Node(scope.ByType, t)).ToArray();
            var prefixes = filter.PathPrefixes.Count == 0 ? ["/"] : filter.PathPrefixes.Distinct(StringComparer.Ordinal).ToArray();
            var entry = new Entry(item, filter, Multiple: prefixes.Length > 1);
            var nodes = new List<PathNode>(typeRoots.Length * prefixes.Length);
            foreach (var root in typeRoots)
            {
                foreach (var prefix in prefixes)
                {
                    var node = root;
                    foreach (var segment in prefix.Split('/', StringSplitOptions.RemoveEmptyEntries))
                    {
                        node = Node(node.Children ??= new Dictionary<string, PathNode>(StringComparer.Ordinal), segment);
                    }

                    (node.Here ??= []).Add(entry);
                    nodes.Add(node);
                }
            }

            _placements[idOf(item)] = new Placement(entry, nodes);
        }
    }

    public bool Remove(string id)
    {
        lock (_gate)
        {
            return RemoveLocked(id);
        }
    }

    /// <summary>Replaces everything (a full load).</summary>
    public void Reset(IEnumerable<T> items)
    {
        lock (_gate)
        {
            _scopes.Clear();
            _placements.Clear();
        }

        foreach (var item in items)
        {
            Upsert(item);
        }
    }

    /// <summary>The items whose every filter holds for the event, each once.</summary>
    public IReadOnlyList<T> Match(NotificationEvent notificationEvent)
    {
        var found = new List<T>();
        HashSet<Entry>? seen = null;
        lock (_gate)
        {
            foreach (var scope in notificationEvent.Scope.SelfAndAncestors())
            {
                if (!_scopes.TryGetValue(scope.Value, out var scopeNode))
                {
                    continue;
                }

                Collect(scopeNode.AnyType);
                if (scopeNode.ByType.TryGetValue(notificationEvent.Type, out var typeRoot))
                {
                    Collect(typeRoot);
                }
            }
        }

        return found;

        // Walks the event's path from the root: every node passed is a prefix by whole segments.
        void Collect(PathNode root)
        {
            var node = root;
            Take(node);
            var path = notificationEvent.ResourcePath.AsSpan();
            foreach (var range in path.Split('/'))
            {
                var segment = path[range];
                if (segment.IsEmpty)
                {
                    continue;
                }

                if (node.Children is null || !node.Children.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(segment, out node))
                {
                    return;
                }

                Take(node);
            }
        }

        void Take(PathNode node)
        {
            if (node.Here is null)
            {
                return;
            }

            foreach (var entry in node.Here)
            {
                if (entry.Multiple && !(seen ??= []).Add(entry))
                {
                    continue;
                }

                if (EventFilterMatch.RemainingFiltersMatch(entry.Filter, notificationEvent))
                {
                    found.Add(entry.Item);
                }
            }
        }
    }

    private bool RemoveLocked(string id)
    {
        if (!_placements.Remove(id, out var placement))
        {
            return false;
        }

        foreach (var node in placement.Nodes)
        {
            node.Here!.Remove(placement.Entry);
        }

        return true;
    }

    private static TNode Node<TNode>(Dictionary<string, TNode> nodes, string key)
        where TNode : new()
    {
        if (!nodes.TryGetValue(key, out var node))
        {
            node = new TNode();
            nodes[key] = node;
        }

        return node;
    }

    private sealed class ScopeNode
    {
        public Dictionary<string, PathNode> ByType { get; } = new(StringComparer.Ordinal);

        public PathNode AnyType { get; } = new();
    }

    private sealed class PathNode
    {
        public List<Entry>? Here { get; set; }

        public Dictionary<string, PathNode>? Children { get; set; }
    }

    /// <summary><see cref="Multiple"/>: placed at more than one node of one type's trie, so an
    /// event can meet it twice on its path.</summary>
    private sealed record Entry(T Item, EventFilter Filter, bool Multiple)
    {
        // Identity, not value equality: two entries are the same only if they are one placement.
        public bool Equals(Entry? other) => ReferenceEquals(this, other);

        public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);
    }

    private sealed record Placement(Entry Entry, List<PathNode> Nodes);
}
