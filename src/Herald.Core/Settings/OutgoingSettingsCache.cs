using System.Collections.Concurrent;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>
/// Outgoing settings as the hot paths read them (every submission, every delivery): each scope's
/// effective settings and each SMTP connection come from the store at most once per
/// <see cref="Lifetime"/>. A change made on this node shows at once (the settings service
/// forgets what it changed); a change made on another node within <see cref="Lifetime"/>.
/// </summary>
public sealed class OutgoingSettingsCache(ISettingsStore store, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<ScopePath, (DateTimeOffset Until, EffectiveOutgoingSettings Settings)> _scopes = new();
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, SmtpConnection? Connection)> _connections = new(StringComparer.Ordinal);
    private volatile ConnectionList? _all;

    /// <summary>The scope's effective settings; null when the scope does not exist (which is
    /// never remembered, so a scope added meanwhile is found at once).</summary>
    public async ValueTask<EffectiveOutgoingSettings?> GetEffectiveAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_scopes.TryGetValue(scope, out var cached) && cached.Until > now)
        {
            return cached.Settings;
        }

        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var effective = EffectiveOutgoingSettings.Resolve(scope, await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false));
        _scopes[scope] = (now + Lifetime, effective);
        return effective;
    }

    /// <summary>The scope's effective settings when it can send (it exists, is enabled, and has a
    /// connection and a From address, its own or inherited); otherwise the sentence that says why not.</summary>
    public async ValueTask<(EffectiveOutgoingSettings? Settings, string? Problem)> GetSendingAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (await GetEffectiveAsync(scope, cancellationToken).ConfigureAwait(false) is not { } effective)
        {
            return (null, $"Scope '{scope}' does not exist.");
        }

        if (!effective.Enabled.Value)
        {
            return (null, $"Outgoing email is disabled for scope {scope}.");
        }

        if (effective.ConnectionName.Value is null)
        {
            return (null, $"No SMTP server is configured for scope {scope} or its parents.");
        }

        return effective.FromAddress.Value is null
            ? (null, $"No From address is configured for scope {scope} or its parents.")
            : (effective, null);
    }

    public async ValueTask<SmtpConnection?> GetConnectionAsync(string name, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_connections.TryGetValue(name, out var cached) && cached.Until > now)
        {
            return cached.Connection;
        }

        var connection = await store.GetConnectionAsync(name, cancellationToken).ConfigureAwait(false);
        _connections[name] = (now + Lifetime, connection);
        return connection;
    }

    public async ValueTask<IReadOnlyList<SmtpConnection>> ListConnectionsAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_all is { } all && all.Until > now)
        {
            return all.Connections;
        }

        var connections = await store.ListConnectionsAsync(cancellationToken).ConfigureAwait(false);
        _all = new ConnectionList(now + Lifetime, connections);
        return connections;
    }

    /// <summary>Forgets everything: the next read of any scope or connection goes to the store.</summary>
    public void Invalidate()
    {
        _scopes.Clear();
        _connections.Clear();
        _all = null;
    }

    private sealed record ConnectionList(DateTimeOffset Until, IReadOnlyList<SmtpConnection> Connections);
}
