using System.Security.Cryptography;
using System.Text;

namespace Herald.Notifications.SelfService;

/// <summary>How a directory user came to be signed in, kept in their session.</summary>
public static class PersonSignInMethods
{
    /// <summary>A one-time link emailed from the "Email me a sign-in link" page.</summary>
    public const string Link = "link";

    /// <summary>The signed "Manage your alerts" link in the footer of a notification or digest.</summary>
    public const string ManageLink = "manage-link";

    /// <summary>Single sign-on with the organisation's OpenID Connect provider.</summary>
    public const string OpenIdConnect = "oidc";

    public static bool IsKnown(string? method) => method is Link or ManageLink or OpenIdConnect;
}

/// <summary>
/// Console sessions of directory users (<see cref="Access.Caller.Person"/>). A session carries the
/// user's id and a stamp derived from their id and email: removing the user, or changing their
/// email (the address every sign-in link went to), ends every session of theirs at once, on every
/// node, because each request is checked against the database all nodes share.
/// </summary>
public sealed class PersonSessions(IDirectoryStore store)
{
    /// <summary>The stamp of <paramref name="user"/> as the directory holds them now: 128 bits of
    /// SHA-256 over the id and the email, as hex. Not a secret (the cookie is signed); it only has
    /// to change when the email does.</summary>
    public static string Stamp(DirectoryUser user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{user.Id}\n{user.Email.Value.ToLowerInvariant()}"));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16));
    }

    /// <summary>The user a session belongs to while it is still good: the user exists with the
    /// stamp the session was signed in with. Null ends the session (removed, new email).</summary>
    public async Task<DirectoryUser?> ResumeAsync(string? userId, string? stamp, CancellationToken cancellationToken)
    {
        if (!DirectoryIds.TryCheck(userId, out _) || stamp is null)
        {
            return null;
        }

        var user = await store.FindUserAsync(userId!, cancellationToken).ConfigureAwait(false);
        return user is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Stamp(user)), Encoding.ASCII.GetBytes(stamp)) ? user : null;
    }
}
