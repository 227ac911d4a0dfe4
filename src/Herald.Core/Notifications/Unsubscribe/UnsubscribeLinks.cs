using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Herald.Settings;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.Unsubscribe;

/// <summary>Why a token is refused.</summary>
public enum UnsubscribeTokenProblem
{
    None,

    /// <summary>Not a token at all, or signed with another key, or altered: forged or mangled.</summary>
    Invalid,

    /// <summary>Genuine, but older than the link lifetime.</summary>
    Expired,
}

/// <summary>
/// One-click unsubscribe links (RFC 8058): <c>{public URL}/unsubscribe/{token}</c> (<see cref="PublicUrlService"/>), where the
/// token is base64url of (version, origin kind, expiry, source id, recipient) followed by its
/// HMAC-SHA256 under a random 256-bit key from the database, so any node can check a link made by
/// any other, and nobody without the key can make one for somebody else.
/// </summary>
public sealed class UnsubscribeLinks(ISigningKeyStore keys, IOptions<NotificationOptions> options, PublicUrlService publicUrl, TimeProvider time) : IUnsubscribeLinks
{
    private readonly LinkSigningKey _key = new(keys, Purpose, time);

    public const string Purpose = "unsubscribe";

    /// <summary>Longest token accepted: far above any real one (ids are at most 100 characters, a
    /// scope path about 1,000, an address 254), and the request goes no further than this check.</summary>
    public const int MaxTokenLength = 2_048;

    private const byte Version = 1;

    public async ValueTask<Uri> CreateAsync(NotificationOrigin origin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(origin);
        var expires = time.GetUtcNow() + options.Value.UnsubscribeLinkLifetime;
        var source = Encoding.UTF8.GetBytes(origin.SourceId);
        var recipient = Encoding.UTF8.GetBytes(origin.Recipient);
        var token = new byte[1 + 1 + 8 + 2 + source.Length + 2 + recipient.Length];
        var span = token.AsSpan();
        span[0] = Version;
        span[1] = (byte)origin.Kind;
        BinaryPrimitives.WriteInt64BigEndian(span[2..], expires.ToUnixTimeSeconds());
        var at = 10;
        foreach (var field in new[] { source, recipient })
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[at..], checked((ushort)field.Length));
            field.CopyTo(span[(at + 2)..]);
            at += 2 + field.Length;
        }

        var sealedToken = await _key.SealAsync(token, cancellationToken).ConfigureAwait(false);
        return new Uri($"{await publicUrl.GetBaseUrlAsync(cancellationToken).ConfigureAwait(false)}/unsubscribe/{sealedToken}");
    }

    /// <summary>The origin a token names, when it is genuine and not expired.</summary>
    public async ValueTask<(NotificationOrigin? Origin, UnsubscribeTokenProblem Problem)> ReadAsync(string? token, CancellationToken cancellationToken)
    {
        if (await _key.OpenAsync(token, MaxTokenLength, cancellationToken).ConfigureAwait(false) is not { } opened
            || opened.Length < 1 + 1 + 8 + 2 + 2 || opened[0] != Version)
        {
            return (null, UnsubscribeTokenProblem.Invalid);
        }

        var payload = opened.AsSpan();

        // Signed by us, so well formed; the checks below guard only against our own bugs.
        var kind = (NotificationSourceKind)payload[1];
        var expires = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(payload[2..]));
        var at = 10;
        var fields = new string[2];
        for (var i = 0; i < fields.Length; i++)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(payload[at..]);
            if (at + 2 + length > payload.Length)
            {
                return (null, UnsubscribeTokenProblem.Invalid);
            }

            fields[i] = Encoding.UTF8.GetString(payload.Slice(at + 2, length));
            at += 2 + length;
        }

        if (!Enum.IsDefined(kind) || at != payload.Length)
        {
            return (null, UnsubscribeTokenProblem.Invalid);
        }

        return time.GetUtcNow() >= expires
            ? (null, UnsubscribeTokenProblem.Expired)
            : (new NotificationOrigin(kind, fields[0], fields[1]), UnsubscribeTokenProblem.None);
    }
}
