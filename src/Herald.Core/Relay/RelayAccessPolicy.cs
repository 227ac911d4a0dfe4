using System.Net;

namespace Herald.Relay;

/// <summary>A listener's decision about a client address, and why (for the log).</summary>
public sealed record RelayAccessDecision(bool Admitted, string Reason);

/// <summary>
/// Evaluates a listener's access list for a client address: "only the list below" admits an
/// address some entry matches; "all except the list below" refuses it. Address and subnet entries
/// are decided first; domain entries cost DNS questions and are asked only when still needed.
/// A domain entry matches when a PTR name of the address is the domain or ends in
/// <c>.domain</c> AND that name resolves back to the address (forward-confirmed reverse DNS):
/// anyone can publish any PTR name for their own addresses, not the forward records of our domain.
/// </summary>
public static class RelayAccessPolicy
{
    public static async Task<RelayAccessDecision> EvaluateAsync(
        RelayAccessMode mode, IReadOnlyList<string> entries, IPAddress client, IReverseDnsResolver resolver, CancellationToken cancellationToken)
    {
        var address = RelayAddresses.Normalize(client);
        var parsed = entries.Select(e => RelayAccessEntry.TryParse(e, out var entry, out _) ? entry : null).OfType<RelayAccessEntry>().ToArray();
        var match = parsed.FirstOrDefault(e => e.ContainsAddress(address))?.Text;
        var domains = parsed.Where(e => e.Domain is not null).Select(e => e.Domain!).ToArray();
        if (match is null && domains.Length > 0)
        {
            match = await MatchDomainAsync(domains, address, resolver, cancellationToken).ConfigureAwait(false);
        }

        return (mode, match) switch
        {
            (RelayAccessMode.OnlyList, null) => new(false, "not in the listener's access list (only-list)"),
            (RelayAccessMode.OnlyList, _) => new(true, $"matches {match}"),
            (RelayAccessMode.AllExcept, null) => new(true, "not in the listener's deny list (all-except)"),
            _ => new(false, $"matches {match} in the listener's deny list (all-except)"),
        };
    }

    private static async Task<string?> MatchDomainAsync(string[] domains, IPAddress address, IReverseDnsResolver resolver, CancellationToken cancellationToken)
    {
        foreach (var name in await resolver.ReverseAsync(address, cancellationToken).ConfigureAwait(false))
        {
            var host = name.TrimEnd('.').ToLowerInvariant();
            var domain = domains.FirstOrDefault(d => host == d || host.EndsWith("." + d, StringComparison.Ordinal));
            if (domain is null)
            {
                continue;
            }

            var forward = await resolver.ForwardAsync(host, cancellationToken).ConfigureAwait(false);
            if (forward.Any(a => RelayAddresses.Normalize(a).Equals(address)))
            {
                return $"{domain} (reverse DNS {host}, forward-confirmed)";
            }
        }

        return null;
    }
}
