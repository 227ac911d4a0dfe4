using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Herald.Access;
using Herald.Credentials;
using Herald.Delivery;
using Herald.Outbox;
using Herald.Relay;
using Herald.Settings;
using Microsoft.Extensions.Options;

namespace Herald.Operations;

/// <summary>
/// <c>herald doctor</c>: everything <see cref="NodeChecks"/> checks for readiness, and what a node
/// needs from its surroundings: each SMTP connection (without sending mail), the relay's endpoints,
/// free disk, and the clock against the database's. Every step has a time limit, so a host that
/// swallows packets makes a check fail, never the doctor hang.
/// </summary>
public sealed class NodeDoctor(
    NodeChecks checks,
    ISettingsStore settings,
    IRelayStore relay,
    CredentialVault vault,
    IConnectionDiagnosis connections,
    NodeIdentity node,
    IOptions<OutboxOptions> outbox)
{
    /// <summary>Checks the node whose data directory is <paramref name="dataDirectory"/>, each step
    /// within <paramref name="timeout"/>. It opens every connection's secrets to authenticate with
    /// them, so only the farm's administrators (the local operator) may run it.</summary>
    public async Task<Result<NodeReport>> DiagnoseAsync(Caller caller, string dataDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!caller.AdministersRoot)
        {
            return Refusal.NotAllowed($"{caller.Description} may not examine the node: it opens every SMTP connection's secrets. Only administrators of / may.");
        }

        var report = new List<NodeCheck>();
        var usable = await checks.SchemaAsync(report, timeout, cancellationToken).ConfigureAwait(false);
        if (usable)
        {
            report.Add(await checks.CredentialKeyAsync(timeout, cancellationToken).ConfigureAwait(false));
            report.Add(await checks.ClockSkewAsync(timeout, cancellationToken).ConfigureAwait(false));
        }

        report.Add(FreeDisk(dataDirectory));
        if (usable)
        {
            report.AddRange(await Guarded("relay", RelayEndpointsAsync, timeout, cancellationToken).ConfigureAwait(false));
            report.AddRange(await Guarded("smtp", ConnectionsAsync, timeout, cancellationToken).ConfigureAwait(false));
        }

        return new NodeReport(report);
    }

    /// <summary>A group of checks whose settings could not even be read is one failed check, not a crash.</summary>
    private static async Task<IReadOnlyList<NodeCheck>> Guarded(
        string name, Func<TimeSpan, CancellationToken, Task<IReadOnlyList<NodeCheck>>> group, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await group(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (NodeChecks.IsOwnFailure(ex, cancellationToken))
        {
            return [NodeCheck.Fail(name, $"The settings could not be read from the database: {NodeChecks.Reason(ex, timeout)}")];
        }
    }

    private async Task<IReadOnlyList<NodeCheck>> ConnectionsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var all = await NodeChecks.WithinAsync(timeout, settings.ListConnectionsAsync, cancellationToken).ConfigureAwait(false);
        if (all.Count == 0)
        {
            return [NodeCheck.Warn("smtp", "No SMTP connection is configured: nothing can be sent. Add one with 'herald smtp set'.")];
        }

        var found = new List<NodeCheck>();
        foreach (var connection in all.OrderBy(c => c.Qualified, StringComparer.Ordinal))
        {
            if (!node.MayUse(connection))
            {
                // Reserved for other nodes (a DMZ, say): from here it may well be unreachable, and that is no fault.
                found.Add(NodeCheck.Ok($"smtp {connection.Qualified}", $"Not checked: used only by nodes tagged {string.Join(", ", connection.NodeTags)}, and this node has {(node.Tags.Count == 0 ? "no tags" : "tags " + string.Join(", ", node.Tags))} (HERALD_NODE_TAGS). Run herald doctor on one of those nodes."));
                continue;
            }

            var (opened, problem) = await OpenedConnection.OpenAsync(connection, vault, cancellationToken).ConfigureAwait(false);
            if (opened is null)
            {
                found.Add(NodeCheck.Fail($"smtp {connection.Qualified} secrets", problem!));
                continue;
            }

            using (opened)
            {
                found.AddRange(await connections.DiagnoseAsync(opened, timeout, cancellationToken).ConfigureAwait(false));
            }
        }

        return found;
    }

    /// <summary>Each relay endpoint in force: free to bind, or already answered by Herald's relay.</summary>
    private async Task<IReadOnlyList<NodeCheck>> RelayEndpointsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var stored = await NodeChecks.WithinAsync(timeout, relay.ListListenersAsync, cancellationToken).ConfigureAwait(false);
        var defaultRemoved = await NodeChecks.WithinAsync(timeout, relay.IsDefaultListenerRemovedAsync, cancellationToken).ConfigureAwait(false);
        var found = new List<NodeCheck>();
        foreach (var listener in RelaySettingsService.InForce(stored, defaultRemoved).Select(v => v.Listener))
        {
            found.Add(await RelayEndpointAsync(listener.Listen, timeout, cancellationToken).ConfigureAwait(false));
        }

        return found;
    }

    private static async Task<NodeCheck> RelayEndpointAsync(string listen, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var name = $"relay {listen}";
        if (!RelayAddresses.TryParseEndpoint(listen, out var endpoint, out var error))
        {
            return NodeCheck.Fail(name, $"The endpoint is not valid: {error} Change it with 'herald relay set --listen …'.");
        }

        try
        {
            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(endpoint);
            return NodeCheck.Ok(name, "Free: herald serve can listen there.");
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            var greeting = await GreetingAsync(endpoint, timeout, cancellationToken).ConfigureAwait(false);
            return greeting is not null && greeting.StartsWith("220 ", StringComparison.Ordinal) && greeting.EndsWith(" ESMTP Herald", StringComparison.Ordinal)
                ? NodeCheck.Ok(name, $"Already served by Herald's relay on this machine (it answers \"{LogText.Untrusted(greeting)}\"): herald serve is running.")
                : NodeCheck.Fail(name, $"The port is in use by another program (it answers {(greeting is null ? "nothing" : $"\"{LogText.Untrusted(greeting)}\"")}): stop that program, or move the listener with 'herald relay set --listen …'.");
        }
        catch (SocketException ex)
        {
            return NodeCheck.Fail(name, ex.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable => "The address does not belong to this host: listen on one of its addresses.",
                SocketError.AccessDenied => "Permission denied: ports below 1024 need privileges (the package's unit grants CAP_NET_BIND_SERVICE when configured).",
                _ => $"It cannot be bound: {ex.Message}.",
            });
        }
    }

    /// <summary>The first line a server on <paramref name="endpoint"/> sends; null when none comes in time.</summary>
    private static async Task<string?> GreetingAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await NodeChecks.WithinAsync(timeout, async token =>
            {
                var target = endpoint.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, endpoint.Port)
                    : endpoint.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, endpoint.Port)
                    : endpoint;
                using var client = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(target, token).ConfigureAwait(false);
                // One line of a greeting is short; more than this is not a greeting.
                var buffer = new byte[512];
                var read = 0;
                while (read < buffer.Length && Array.IndexOf(buffer, (byte)'\n', 0, read) < 0)
                {
                    var got = await client.ReceiveAsync(buffer.AsMemory(read), token).ConfigureAwait(false);
                    if (got == 0)
                    {
                        break;
                    }

                    read += got;
                }

                return (string?)Encoding.ASCII.GetString(buffer, 0, read).Split('\n')[0].TrimEnd('\r');
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException || NodeChecks.IsOwnFailure(ex, cancellationToken))
        {
            return null;
        }
    }

    /// <summary>Free space where the data directory is: the outbox refuses submissions below
    /// <see cref="OutboxOptions.MinimumFreeDiskBytes"/>.</summary>
    private NodeCheck FreeDisk(string dataDirectory)
    {
        var minimum = outbox.Value.MinimumFreeDiskBytes;
        DriveInfo drive;
        try
        {
            drive = new DriveInfo(Path.GetFullPath(dataDirectory));
            _ = drive.AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return NodeCheck.Fail(NodeChecks.Names.Disk, $"The free space of {dataDirectory} cannot be read: {ex.Message}");
        }

        var free = drive.AvailableFreeSpace;
        var said = $"{Size(free)} free of {Size(drive.TotalSize)} where {dataDirectory} is; submissions are refused below {Size(minimum)} (Outbox:MinimumFreeDiskBytes).";
        return free < minimum ? NodeCheck.Fail(NodeChecks.Names.Disk, $"{said} Free some space now: the outbox refuses mail.")
            : free < minimum * 4 ? NodeCheck.Warn(NodeChecks.Names.Disk, $"{said} Little is left: free some space.")
            : NodeCheck.Ok(NodeChecks.Names.Disk, said);
    }

    private static string Size(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MiB");
}
