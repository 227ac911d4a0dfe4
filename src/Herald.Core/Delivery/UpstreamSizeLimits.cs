using System.Collections.Concurrent;

namespace Herald.Delivery;

/// <summary>The largest message each SMTP connection's server said it accepts (its EHLO SIZE),
/// as last seen by this node's delivery, so that the relay can refuse at MAIL time a message
/// that would only bounce later.</summary>
public sealed class UpstreamSizeLimits
{
    private readonly ConcurrentDictionary<string, long> _limits = new(StringComparer.Ordinal);

    /// <param name="maxSize">The advertised SIZE; null or 0 when the server announced no limit.</param>
    public void Report(string connection, long? maxSize)
    {
        if (maxSize is > 0 and var limit)
        {
            _limits[connection] = limit;
        }
        else
        {
            _limits.TryRemove(connection, out _);
        }
    }

    public long? Get(string connection) => _limits.TryGetValue(connection, out var limit) ? limit : null;
}
