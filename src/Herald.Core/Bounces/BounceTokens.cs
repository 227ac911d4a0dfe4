using System.Buffers.Binary;
using System.Security.Cryptography;
using Herald.Notifications.Unsubscribe;

namespace Herald.Bounces;

/// <summary>The message and recipient a bounce address names.</summary>
public sealed record BounceTarget(string MessageId, int Ordinal);

/// <summary>
/// Envelope senders that identify one recipient of one message (VERP):
/// <c>bounces+TOKEN@domain</c>, where TOKEN is lower-case base32 of (version, the message id's 16
/// bytes, the recipient's ordinal) followed by 80 bits of its HMAC-SHA256 under a random key kept
/// in the database (purpose <see cref="Purpose"/>), so that any node reads a token any node made
/// and nobody without the key can aim a bounce at a recipient. Base32 because mail systems may
/// lower-case a local part; 47 characters, so the whole local part stays within RFC 5321's 64.
/// </summary>
public sealed class BounceTokens(ISigningKeyStore keys, TimeProvider time)
{
    public const string Purpose = "bounce";

    /// <summary>The local part's fixed start; what follows the plus is the token.</summary>
    public const string Prefix = "bounces+";

    private const byte Version = 1;
    private const int PayloadLength = 1 + 16 + 2;
    private const int MacLength = 10;
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>Characters of a token: 29 bytes in base32.</summary>
    public const int TokenLength = ((PayloadLength + MacLength) * 8 + 4) / 5;

    private readonly LinkSigningKey _key = new(keys, Purpose, time);

    /// <summary>The envelope sender for recipient <paramref name="ordinal"/> of message
    /// <paramref name="messageId"/> (a 32-digit hex id, as every message id is); null when either
    /// cannot be put in a token (an id of another form, an ordinal beyond 65,535).</summary>
    public async ValueTask<string?> SenderAsync(string messageId, int ordinal, string domain, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messageId);
        if (ordinal is < 0 or > ushort.MaxValue || !Guid.TryParseExact(messageId, "N", out var id))
        {
            return null;
        }

        var payload = new byte[PayloadLength];
        payload[0] = Version;
        id.TryWriteBytes(payload.AsSpan(1), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(17), (ushort)ordinal);
        var mac = await _key.MacAsync(payload, cancellationToken).ConfigureAwait(false);
        var token = new byte[PayloadLength + MacLength];
        payload.CopyTo(token, 0);
        mac.AsSpan(0, MacLength).CopyTo(token.AsSpan(PayloadLength));
        return $"{Prefix}{Encode(token)}@{domain}";
    }

    /// <summary>The recipient a bounce address names, when its token is genuine; null for any
    /// other address, a mangled token, or one signed with another key (forged).</summary>
    public async ValueTask<BounceTarget?> ReadAsync(string? address, CancellationToken cancellationToken)
    {
        if (TokenOf(address) is not { } token || Decode(token) is not { Length: PayloadLength + MacLength } bytes || bytes[0] != Version)
        {
            return null;
        }

        var payload = bytes[..PayloadLength];
        var mac = await _key.MacAsync(payload, cancellationToken).ConfigureAwait(false);
        if (!CryptographicOperations.FixedTimeEquals(mac.AsSpan(0, MacLength), bytes.AsSpan(PayloadLength)))
        {
            return null;
        }

        var id = new Guid(payload.AsSpan(1, 16), bigEndian: true);
        return new BounceTarget(id.ToString("N"), BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(17)));
    }

    /// <summary>The token of a bounce address (<c>bounces+TOKEN@domain</c>, any case, in angle
    /// brackets or not); null for an address of another shape.</summary>
    public static string? TokenOf(string? address)
    {
        if (address is null || address.Length > 320)
        {
            return null;
        }

        var text = address.Trim().Trim('<', '>');
        var at = text.LastIndexOf('@');
        if (at <= Prefix.Length || !text.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = text[Prefix.Length..at];
        return token.Length == TokenLength ? token.ToLowerInvariant() : null;
    }

    private static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[TokenLength];
        int buffer = 0, bits = 0, at = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[at++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            chars[at++] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, at);
    }

    private static byte[]? Decode(string token)
    {
        var bytes = new byte[token.Length * 5 / 8];
        int buffer = 0, bits = 0, at = 0;
        foreach (var c in token)
        {
            var value = Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (value < 0)
            {
                return null;
            }

            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                bytes[at++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }
        }

        return bytes;
    }
}
