using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Webhooks;

/// <summary>
/// Signing as the Standard Webhooks specification says: the secret is <c>whsec_</c> and the
/// base64 of random bytes; the signature is <c>v1,</c> and the base64 HMAC-SHA256, keyed with the
/// decoded bytes, of <c>{webhook-id}.{webhook-timestamp}.{body}</c>.
/// </summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>Random bytes in a new secret (the specification asks for 24 to 64).</summary>
    public const int SecretBytes = 32;

    /// <summary>A new secret: <c>whsec_</c> and the base64 of <see cref="SecretBytes"/> random bytes.</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>The key a secret stands for: its base64 part decoded.</summary>
    public static byte[] KeyOf(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return Convert.FromBase64String(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret);
    }

    /// <summary>The <c>webhook-signature</c> value for a body sent with <paramref name="id"/> at <paramref name="timestamp"/>.</summary>
    public static string Sign(ReadOnlySpan<byte> key, string id, DateTimeOffset timestamp, string body)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(body);
        var signed = Encoding.UTF8.GetBytes($"{id}.{Seconds(timestamp)}.{body}");
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
    }

    /// <summary>The <c>webhook-timestamp</c> value: whole seconds since the Unix epoch.</summary>
    public static string Seconds(DateTimeOffset timestamp) => timestamp.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
}
