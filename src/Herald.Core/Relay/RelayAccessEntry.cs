using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Herald.Relay;

/// <summary>One entry of a listener's access list: an IP address, a CIDR subnet (IPv4 or IPv6;
/// IPv4 also as address and subnet mask, the form IIS and Exchange use), or a domain matched by
/// forward-confirmed reverse DNS. A single address is a /32 or /128.</summary>
public sealed record RelayAccessEntry
{
    private RelayAccessEntry(string text, IPNetwork? network, string? domain)
    {
        Text = text;
        Network = network;
        Domain = domain;
    }

    /// <summary>The canonical text, as stored: <c>10.0.0.0/8</c>, <c>192.0.2.7</c>, <c>::1</c>, <c>example.org</c>.</summary>
    public string Text { get; }

    public IPNetwork? Network { get; }

    public string? Domain { get; }

    public static bool TryParse(string? text, [NotNullWhen(true)] out RelayAccessEntry? entry, [NotNullWhen(false)] out string? error)
    {
        entry = null;
        var trimmed = text?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            error = "An access entry is empty: give an IP address, a CIDR subnet or a domain.";
            return false;
        }

        var slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? trimmed : trimmed[..slash];
        if (RelayAddresses.TryParseAddress(addressText, out var address))
        {
            address = RelayAddresses.Normalize(address);
            var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            var prefix = bits;
            if (slash >= 0)
            {
                var prefixText = trimmed[(slash + 1)..];
                if (bits == 32 && prefixText.Contains('.', StringComparison.Ordinal))
                {
                    // IIS's and Exchange's form, address and subnet mask: stored as CIDR.
                    if (!TryPrefixOfMask(prefixText, out prefix))
                    {
                        error = $"'{trimmed}': the subnet mask '{prefixText}' is not a mask of leading ones such as 255.255.255.0; give it as 10.0.0.0/255.0.0.0 or 10.0.0.0/8.";
                        return false;
                    }
                }
                else if (!prefixText.All(char.IsAsciiDigit) || !int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits)
                {
                    error = $"'{trimmed}': the prefix length of an IPv{(bits == 32 ? 4 : 6)} subnet is a number from 0 to {bits}.";
                    return false;
                }
            }

            var network = new IPNetwork(Mask(address, prefix), prefix);
            entry = new RelayAccessEntry(prefix == bits ? network.BaseAddress.ToString() : network.ToString(), network, null);
            error = null;
            return true;
        }

        if (slash < 0 && RelayAddresses.TryNormalizeDomain(trimmed, out var domain))
        {
            entry = new RelayAccessEntry(domain, null, domain);
            error = null;
            return true;
        }

        error = $"'{trimmed}' is not an IP address (192.0.2.7, 2001:db8::7), a subnet (10.0.0.0/8, 10.0.0.0/255.0.0.0, 2001:db8::/32) or a domain name (example.org).";
        return false;
    }

    /// <summary>Whether the entry names the address itself (domains are matched by <see cref="RelayAccessPolicy"/>).</summary>
    public bool ContainsAddress(IPAddress normalized) => Network is { } network && network.Contains(normalized);

    public override string ToString() => Text;

    /// <summary>The prefix length of a dotted IPv4 subnet mask (255.255.240.0 is 20); false for
    /// anything that is not four octets of leading ones then zeros.</summary>
    private static bool TryPrefixOfMask(string text, out int prefix)
    {
        prefix = 0;
        if (text.Count(c => c == '.') != 3 || !text.All(c => c == '.' || char.IsAsciiDigit(c)) || !IPAddress.TryParse(text, out var mask))
        {
            return false;
        }

        var bits = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(mask.GetAddressBytes());
        prefix = System.Numerics.BitOperations.PopCount(bits);
        // Leading ones only: the mask's complement plus one is a power of two (or zero for /0).
        var rest = ~bits;
        return (rest & (rest + 1)) == 0;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
