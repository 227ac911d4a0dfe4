using Herald.Credentials;
using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Logging;

namespace Herald.Outbox;

/// <summary>
/// The SMTP connections as this node's delivery uses them: which a scope's messages leave
/// through, with their secrets opened once (kept while the connection's settings stay the same),
/// and which connections this node may use at all (node tags).
/// </summary>
public sealed partial class DeliveryConnections(
    OutgoingSettingsCache settings, CredentialVault vault, NodeIdentity node, ConnectionHealth health, ILogger<DeliveryConnections> log) : IDisposable
{
    private readonly SemaphoreSlim _opening = new(1, 1);
    private readonly Dictionary<string, OpenedConnection> _opened = new(StringComparer.Ordinal);
    private IReadOnlyList<SmtpConnection>? _listed;
    private string _leftToOthers = "";

    /// <summary>The scope's connection with its secrets open; or why the scope cannot send now
    /// (which defers, never drops).</summary>
    public async Task<(OpenedConnection? Connection, string? Problem)> ForScopeAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var check = await settings.CheckRouteAsync(scope, cancellationToken).ConfigureAwait(false);
        if (check.TurnedOff is { } off)
        {
            // The reason the queue's views show while the message waits.
            return (null, $"{off} The message waits until email is turned back on.");
        }

        if (check.Route is not { } route)
        {
            return (null, $"{check.Problem} The message waits.");
        }

        var smtp = route.Connection;
        if (!node.MayUse(smtp))
        {
            return (null, $"SMTP connection {smtp.Qualified} is reserved for nodes tagged {string.Join(", ", smtp.NodeTags)}; node {node.Name} is not.");
        }

        return await OpenAsync(smtp, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The connection with its secrets open, kept while its settings stay the same.</summary>
    private async Task<(OpenedConnection? Connection, string? Problem)> OpenAsync(SmtpConnection smtp, CancellationToken cancellationToken)
    {
        var name = smtp.Id;
        await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_opened.TryGetValue(name, out var opened) && opened.Fingerprint == OpenedConnection.FingerprintOf(smtp))
            {
                return (opened, null);
            }

            var (fresh, problem) = await OpenedConnection.OpenAsync(smtp, vault, cancellationToken).ConfigureAwait(false);
            if (fresh is null)
            {
                // A configuration problem (no password, an unreadable secret): shown on the console like a refused login.
                health.ReportFailure(name, problem!, configuration: true);
                return (null, problem);
            }

            _opened[name] = fresh;
            return (fresh, null);
        }
        finally
        {
            _opening.Release();
        }
    }

    /// <summary>Null when this node may send through every connection now; otherwise the ones it
    /// may: not those reserved for other nodes, and not those that are down (their messages wait
    /// in the outbox, untried, until a probe finds the connection back).</summary>
    public async Task<IReadOnlyCollection<string>?> AllowedAsync(CancellationToken cancellationToken)
    {
        var all = await settings.ListConnectionsAsync(cancellationToken).ConfigureAwait(false);
        // The cache hands out the same list until it reads the store again.
        if (!ReferenceEquals(all, _listed))
        {
            _listed = all;
            ReportLeftToOthers(all.Where(c => !node.MayUse(c)));
        }

        var down = health.Down;
        return down.Count == 0 && all.All(node.MayUse)
            ? null
            : all.Where(c => node.MayUse(c) && !down.Contains(c.Id)).Select(c => c.Id).ToArray();
    }

    /// <summary>The connection stored as <paramref name="id"/> with its secrets open, for a probe;
    /// or why it cannot be used by this node (removed, reserved for other nodes, a secret missing).</summary>
    public async Task<(OpenedConnection? Connection, string? Problem)> ByIdAsync(string id, CancellationToken cancellationToken)
    {
        var all = await settings.ListConnectionsAsync(cancellationToken).ConfigureAwait(false);
        if (all.FirstOrDefault(c => c.Id == id) is not { } smtp || !node.MayUse(smtp))
        {
            return (null, $"SMTP connection {id} is no longer one this node sends through.");
        }

        return await OpenAsync(smtp, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Says which connections this node leaves to other nodes, once and again whenever
    /// that changes: their messages are never claimed here, so they stay queued, with no attempt
    /// in their history, until a node with a matching tag runs; this line is where an operator
    /// finds out why.</summary>
    private void ReportLeftToOthers(IEnumerable<SmtpConnection> reserved)
    {
        var described = string.Join("; ", reserved.Select(c => $"{c.Qualified} (reserved for nodes tagged {string.Join(", ", c.NodeTags)})"));
        if (described == _leftToOthers)
        {
            return;
        }

        _leftToOthers = described;
        if (described.Length > 0)
        {
            LogLeftToOthers(log, node.Name, node.Tags.Count == 0 ? "none" : string.Join(", ", node.Tags), described);
        }
    }

    public void Dispose() => _opening.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Node {Node} (tags: {Tags}) does not deliver through SMTP connection(s) {Connections}: their messages stay queued until a node carrying one of those tags runs")]
    private static partial void LogLeftToOthers(ILogger logger, string node, string tags, string connections);
}
