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

    /// <summary>
    /// The one answer to "can this scope send?", for API submissions, the relay, notifications,
    /// digests, test emails and delivery: the scope exists and its email is turned on, and has a
    /// From address and an SMTP connection (its own or inherited) that exists and belongs to the
    /// scope or a scope above it. Otherwise the sentence that says why not.
    /// </summary>
    public async ValueTask<(SendingRoute? Route, string? Problem)> GetRouteAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var check = await CheckRouteAsync(scope, cancellationToken).ConfigureAwait(false);
        return check.TurnedOff is { } off ? (null, off) : (check.Route, check.Problem);
    }

    /// <summary>
    /// <see cref="GetRouteAsync"/> with "turned off" told apart from every other reason, for what
    /// treats it differently: notifications are dropped while a scope's email is turned off, and
    /// messages submitted meanwhile are queued (through the route they will take) and wait.
    /// </summary>
    public async ValueTask<ScopeRoute> CheckRouteAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (await GetEffectiveAsync(scope, cancellationToken).ConfigureAwait(false) is not { } effective)
        {
            return new ScopeRoute(null, $"Scope {scope} does not exist.", null);
        }

        var off = effective.Enabled.Value ? null : TurnedOff(scope, effective.Enabled.DefinedAt);
        if (effective.ConnectionId.Value is not { } id)
        {
            return new ScopeRoute(null, $"No SMTP connection is configured for scope {scope} or the scopes above it.", off);
        }

        if (await GetConnectionAsync(id, cancellationToken).ConfigureAwait(false) is not { } connection)
        {
            return new ScopeRoute(null, $"The SMTP connection that scope {scope} uses (set at {effective.ConnectionId.DefinedAt}) no longer exists.", off);
        }

        if (!scope.IsSameOrDescendantOf(connection.Owner))
        {
            return new ScopeRoute(null, $"SMTP connection {connection.Qualified} belongs to {connection.Owner}, which is not {scope} or a scope above it.", off);
        }

        return effective.FromAddress.Value is null
            ? new ScopeRoute(null, $"No From address is configured for scope {scope} or the scopes above it.", off)
            : new ScopeRoute(new SendingRoute(effective, connection), null, off);
    }

    /// <summary>The one wording of a scope whose email is turned off (here or above it).</summary>
    public static string TurnedOff(ScopePath scope, ScopePath? definedAt) =>
        definedAt is not { } at || at == scope ? $"Email is turned off for scope {scope}." : $"Email is turned off for scope {scope} (at {at}).";

    /// <summary>What turning a scope's email off does, as every door says it.</summary>
    public const string TurnedOffMeans = "notifications are dropped; queued messages wait until email is turned back on";

    /// <summary>The connection with that <see cref="SmtpConnection.Id"/>, or null.</summary>
    public async ValueTask<SmtpConnection?> GetConnectionAsync(string id, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_connections.TryGetValue(id, out var cached) && cached.Until > now)
        {
            return cached.Connection;
        }

        var connection = await store.GetConnectionAsync(id, cancellationToken).ConfigureAwait(false);
        // Ids that do not exist are not remembered: nothing outside decides which are looked up,
        // but a missing one costs a query, not memory.
        if (connection is not null)
        {
            _connections[id] = (now + Lifetime, connection);
        }

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

/// <summary>Whether a scope can send: <paramref name="Route"/> when nothing but its email being
/// turned off stands in the way (the route it takes once turned back on), else
/// <paramref name="Problem"/>; <paramref name="TurnedOff"/> says so when its email is turned off.</summary>
public sealed record ScopeRoute(SendingRoute? Route, string? Problem, string? TurnedOff);

/// <summary>How a scope that can send sends: its effective settings and its connection.</summary>
public sealed record SendingRoute(EffectiveOutgoingSettings Settings, SmtpConnection Connection);
