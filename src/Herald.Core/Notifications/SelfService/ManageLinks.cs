using System.Buffers.Binary;
using System.Text;
using Herald.Notifications.Unsubscribe;
using Herald.Settings;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.SelfService;

/// <summary>Why a link in mail is refused.</summary>
public enum LinkProblem
{
    None,

    /// <summary>Not a link Herald made: forged, altered, or made for someone the directory no
    /// longer has at that address (the user removed, or their email changed since).</summary>
    Invalid,

    /// <summary>Genuine, but past its lifetime (or, for a one-time link, used already).</summary>
    Expired,
}

/// <summary>"Manage your alerts" links of the notifications and digests a user receives.</summary>
public interface IManageLinks
{
    /// <summary>The recipient's link, or null for an address that is no directory user (a rule's
    /// address, a group's alias): they have no page of their own.</summary>
    ValueTask<Uri?> ForAsync(NotificationRecipient recipient, CancellationToken cancellationToken);
}

/// <summary>
/// Signed "Manage your alerts" links: <c>{public URL}/me/manage/{token}</c>, where the token is
/// base64url of (version, expiry, the user's session stamp, the user's id) and its HMAC-SHA256
/// under a key of their own purpose (<see cref="LinkSigningKey"/>). The stamp (a hash of the id and
/// the email, <see cref="PersonSessions.Stamp"/>) makes links sent to an address the user no longer
/// has stop working. Opening a link shows the page read-only; only a confirming POST signs in.
/// </summary>
public sealed class ManageLinks(
    ISigningKeyStore keys, IDirectoryStore directory, IOptions<SelfServiceOptions> options, PublicUrlService publicUrl, TimeProvider time) : IManageLinks
{
    public const string Purpose = "manage-alerts";

    /// <summary>Longest token accepted: far above any real one (an id is at most 100 characters).</summary>
    public const int MaxTokenLength = 512;

    private const byte Version = 1;
    private const int StampLength = 16;

    private readonly LinkSigningKey _key = new(keys, Purpose, time);

    public async ValueTask<Uri?> ForAsync(NotificationRecipient recipient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        return recipient.User is { } user ? await CreateAsync(user, cancellationToken).ConfigureAwait(false) : null;
    }

    public async ValueTask<Uri> CreateAsync(DirectoryUser user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var id = Encoding.UTF8.GetBytes(user.Id);
        var payload = new byte[1 + 8 + StampLength + id.Length];
        payload[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(1), (time.GetUtcNow() + options.Value.ManageLinkLifetime).ToUnixTimeSeconds());
        Convert.FromHexString(PersonSessions.Stamp(user)).CopyTo(payload, 9);
        id.CopyTo(payload, 9 + StampLength);
        var token = await _key.SealAsync(payload, cancellationToken).ConfigureAwait(false);
        return new Uri($"{await publicUrl.GetBaseUrlAsync(cancellationToken).ConfigureAwait(false)}/me/manage/{token}");
    }

    /// <summary>The user a link is for, when it is genuine, not expired, and the user still has
    /// the address it was sent to.</summary>
    public async ValueTask<(DirectoryUser? User, LinkProblem Problem)> ReadAsync(string? token, CancellationToken cancellationToken)
    {
        if (await _key.OpenAsync(token, MaxTokenLength, cancellationToken).ConfigureAwait(false) is not { } payload
            || payload.Length <= 1 + 8 + StampLength || payload[0] != Version)
        {
            return (null, LinkProblem.Invalid);
        }

        var expires = DateTimeOffset.FromUnixTimeSeconds(BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(1)));
        var stamp = Convert.ToHexStringLower(payload, 9, StampLength);
        var id = Encoding.UTF8.GetString(payload, 9 + StampLength, payload.Length - 9 - StampLength);
        if (time.GetUtcNow() >= expires)
        {
            return (null, LinkProblem.Expired);
        }

        var user = DirectoryIds.TryCheck(id, out _) ? await directory.FindUserAsync(id, cancellationToken).ConfigureAwait(false) : null;
        return user is not null && PersonSessions.Stamp(user) == stamp ? (user, LinkProblem.None) : (null, LinkProblem.Invalid);
    }
}
