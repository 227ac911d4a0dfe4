using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Herald.Relay;

/// <summary>
/// How the relay's settings write addresses: listen endpoints (<c>127.0.0.1:2525</c>,
/// <c>[::1]:2525</c>), access entries (an IP address, a CIDR subnet, a domain) and mail domains.
/// Only literal IP addresses are accepted where an address is meant: <c>10.1</c> is not read as
/// 10.0.0.1, and a host name is never resolved behind the administrator's back.
/// </summary>
public static class RelayAddresses
{
    /// <summary>An IPv4-mapped IPv6 address (<c>::ffff:10.0.0.1</c>) is its IPv4 address, so one
    /// client has one address whatever socket accepted it; a scope id is dropped.</summary>
    public static IPAddress Normalize(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? new IPAddress(address.GetAddressBytes())
            : address;
    }

    /// <summary>Parses <c>a.b.c.d:port</c> or <c>[ipv6]:port</c>; the canonical text is the
    /// listener's identity in the store.</summary>
    public static bool TryParseEndpoint(string? text, [NotNullWhen(true)] out IPEndPoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "A listen endpoint is required, such as 127.0.0.1:2525 or [::1]:2525.";
            return false;
        }

        string host, port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf("]:", StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{text}' is not an endpoint: write an IPv6 address in brackets with a port, such as [::1]:2525.";
                return false;
            }

            (host, port) = (text[1..close], text[(close + 2)..]);
            if (!TryParseAddress(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"'{host}' in '{text}' is not an IPv6 address.";
                return false;
            }

            return TryPort(text, v6, port, out endpoint, out error);
        }

        var colon = text.LastIndexOf(':');
        if (colon < 0 || text.IndexOf(':', StringComparison.Ordinal) != colon)
        {
            error = $"'{text}' is not an endpoint: write address:port, such as 127.0.0.1:2525 (an IPv6 address goes in brackets: [::1]:2525).";
            return false;
        }

        (host, port) = (text[..colon], text[(colon + 1)..]);
        if (!TryParseAddress(host, out var v4) || v4.AddressFamily != AddressFamily.InterNetwork)
        {
            error = $"'{host}' in '{text}' is not an IPv4 address (host names are not accepted: the listener binds an address).";
            return false;
        }

        return TryPort(text, v4, port, out endpoint, out error);
    }

    /// <summary>The canonical text of an endpoint: <c>127.0.0.1:2525</c>, <c>[::1]:2525</c>.</summary>
    public static string Format(IPEndPoint endpoint) => endpoint.ToString();

    /// <summary>A literal IPv4 address in four dotted decimal parts, or an IPv6 address.</summary>
    public static bool TryParseAddress(string? text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (string.IsNullOrEmpty(text) || text.Contains('%', StringComparison.Ordinal))
        {
            return false;
        }

        if (text.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        var parts = text.Split('.');
        if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)))
        {
            return false;
        }

        return IPAddress.TryParse(text, out address);
    }

    /// <summary>A domain name (<c>example.org</c>, <c>mail.example.org</c>, <c>localhost</c>),
    /// lower-cased, without a trailing dot; not something that looks like an address.</summary>
    public static bool TryNormalizeDomain(string? text, [NotNullWhen(true)] out string? domain)
    {
        domain = null;
        var candidate = text?.Trim().TrimEnd('.').ToLowerInvariant();
        if (string.IsNullOrEmpty(candidate) || candidate.Length > 253)
        {
            return false;
        }

        var labels = candidate.Split('.');
        foreach (var label in labels)
        {
            if (label.Length is 0 or > 63 || label.StartsWith('-') || label.EndsWith('-') || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }

        // The last label of a real name is not all digits; "10.0.0" is a mistyped address.
        if (labels[^1].All(char.IsAsciiDigit))
        {
            return false;
        }

        domain = candidate;
        return true;
    }

    /// <summary>The domain of a mailbox (after its last '@'), lower-cased; null for the null sender.</summary>
    public static string? DomainOf(string mailbox)
    {
        var at = mailbox.LastIndexOf('@');
        return at < 0 || at == mailbox.Length - 1 ? null : mailbox[(at + 1)..].TrimEnd('.').ToLowerInvariant();
    }

    private static bool TryPort(string text, IPAddress address, string port, [NotNullWhen(true)] out IPEndPoint? endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = null;
        if (!port.All(char.IsAsciiDigit) || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            error = $"The port of '{text}' must be a number from 1 to 65535.";
            return false;
        }

        endpoint = new IPEndPoint(address, number);
        error = null;
        return true;
    }
}
