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
public sealed partial class DeliveryConnections(OutgoingSettingsCache settings, CredentialVault vault, NodeIdentity node, ILogger<DeliveryConnections> log) : IDisposable
{
    private readonly SemaphoreSlim _opening = new(1, 1);
    private readonly Dictionary<string, OpenedConnection> _opened = new(StringComparer.Ordinal);
    private IReadOnlyList<SmtpConnection>? _listed;
    private string _leftToOthers = "";

    /// <summary>The scope's connection with its secrets open; or why the scope cannot send now
    /// (which defers, never drops).</summary>
    public async Task<(OpenedConnection? Connection, string? Problem)> ForScopeAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (await settings.GetEffectiveAsync(scope, cancellationToken).ConfigureAwait(false) is not { } effective)
        {
            return (null, $"Scope {scope} no longer exists; the message waits.");
        }

        if (!effective.Enabled.Value)
        {
            return (null, $"Outgoing email is disabled for scope {scope}; the message waits.");
        }

        if (effective.ConnectionName.Value is not { } name)
        {
            return (null, $"No SMTP server is configured for scope {scope}; the message waits.");
        }

        if (await settings.GetConnectionAsync(name, cancellationToken).ConfigureAwait(false) is not { } smtp)
        {
            return (null, $"SMTP connection '{name}' does not exist; the message waits.");
        }

        if (!node.MayUse(smtp))
        {
            return (null, $"SMTP connection '{name}' is reserved for nodes tagged {string.Join(", ", smtp.NodeTags)}; node {node.Name} is not.");
        }

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

    /// <summary>Null when this node may use every connection; otherwise the ones it may use.</summary>
    public async Task<IReadOnlyCollection<string>?> AllowedAsync(CancellationToken cancellationToken)
    {
        var all = await settings.ListConnectionsAsync(cancellationToken).ConfigureAwait(false);
        // The cache hands out the same list until it reads the store again.
        if (!ReferenceEquals(all, _listed))
        {
            _listed = all;
            ReportLeftToOthers(all.Where(c => !node.MayUse(c)));
        }

        return all.All(node.MayUse) ? null : all.Where(node.MayUse).Select(c => c.Name).ToArray();
    }

    /// <summary>Says which connections this node leaves to other nodes, once and again whenever
    /// that changes: their messages are never claimed here, so they stay queued, with no attempt
    /// in their history, until a node with a matching tag runs; this line is where an operator
    /// finds out why.</summary>
    private void ReportLeftToOthers(IEnumerable<SmtpConnection> reserved)
    {
        var described = string.Join("; ", reserved.Select(c => $"'{c.Name}' (reserved for nodes tagged {string.Join(", ", c.NodeTags)})"));
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
