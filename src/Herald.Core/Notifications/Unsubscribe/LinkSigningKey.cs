using System.Buffers.Text;
using System.Security.Cryptography;

namespace Herald.Notifications.Unsubscribe;

/// <summary>
/// The key that signs one purpose of links in mail (unsubscribe, manage your alerts): random, 256
/// bits, kept in the database so that any node checks a link made by any other, made once by the
/// first node that needs it and then held in memory. A token is base64url of its payload followed
/// by the payload's HMAC-SHA256.
/// </summary>
public sealed class LinkSigningKey(ISigningKeyStore keys, string purpose, TimeProvider time)
{
    public const int MacLength = 32;

    private byte[]? _key;

    /// <summary>The payload and its MAC, as base64url.</summary>
    public async ValueTask<string> SealAsync(byte[] payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var key = await KeyAsync(cancellationToken).ConfigureAwait(false);
        var token = new byte[payload.Length + MacLength];
        payload.CopyTo(token, 0);
        HMACSHA256.HashData(key, payload, token.AsSpan(payload.Length));
        return Base64Url.EncodeToString(token);
    }

    /// <summary>The payload of a token this key signed; null for anything else (too long, not
    /// base64url, too short, or a MAC that does not match: forged or altered).</summary>
    public async ValueTask<byte[]?> OpenAsync(string? token, int maxLength, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > maxLength || !IsBase64Url(token))
        {
            return null;
        }

        var bytes = Base64Url.DecodeFromChars(token);
        if (bytes.Length <= MacLength)
        {
            return null;
        }

        var key = await KeyAsync(cancellationToken).ConfigureAwait(false);
        var payload = bytes.AsSpan(0, bytes.Length - MacLength);
        Span<byte> expected = stackalloc byte[MacLength];
        HMACSHA256.HashData(key, payload, expected);
        return CryptographicOperations.FixedTimeEquals(expected, bytes.AsSpan(payload.Length)) ? payload.ToArray() : null;
    }

    /// <summary>The MAC of <paramref name="payload"/> under this key, for a token of another
    /// encoding (a bounce address's, which must be short and survive lower-casing).</summary>
    public async ValueTask<byte[]> MacAsync(byte[] payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return HMACSHA256.HashData(await KeyAsync(cancellationToken).ConfigureAwait(false), payload);
    }

    /// <summary>Only the base64url alphabet, unpadded: one spelling per token (the decoder would
    /// also take white space and padding).</summary>
    public static bool IsBase64Url(string text) =>
        text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') && Base64Url.IsValid(text);

    /// <summary>Two callers that race both read the one key the store kept.</summary>
    private async ValueTask<byte[]> KeyAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _key) is { } key)
        {
            return key;
        }

        key = await keys.GetOrCreateAsync(purpose, RandomNumberGenerator.GetBytes(32), time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _key, key);
        return key;
    }
}
