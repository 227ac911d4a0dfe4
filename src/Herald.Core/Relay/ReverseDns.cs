using System.Net;
using System.Net.Sockets;

namespace Herald.Relay;

/// <summary>The two DNS questions a domain entry needs: the PTR names of an address, and the
/// addresses of a name. An answer that cannot be had (timeout, NXDOMAIN) is an empty list.</summary>
public interface IReverseDnsResolver
{
    Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken);

    Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken);
}

/// <summary>The system resolver (<see cref="Dns"/>), each question bounded by a timeout so that a
/// slow DNS server cannot hold a client before its greeting for long.</summary>
public sealed class SystemReverseDnsResolver : IReverseDnsResolver
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public async Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken)
    {
        try
        {
            var entry = await Dns.GetHostEntryAsync(address).WaitAsync(Timeout, cancellationToken).ConfigureAwait(false);
            return [entry.HostName, .. entry.Aliases];
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or ArgumentException)
        {
            return [];
        }
    }

    public async Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await Dns.GetHostAddressesAsync(name, cancellationToken).WaitAsync(Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or ArgumentException)
        {
            return [];
        }
    }
}
