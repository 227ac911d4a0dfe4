using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Herald.Outbox;
using Herald.Settings;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.SelfService;

/// <summary>Somebody asked for a sign-in link for <see cref="Address"/> (lower-cased) from
/// <see cref="Client"/>; whether a user has that address is decided later, off the request.</summary>
public sealed record SignInLinkRequest(string Id, string Address, string Client, DateTimeOffset RequestedAt);

/// <summary>What became of a request once worked on.</summary>
public enum SignInLinkOutcome
{
    /// <summary>A link went into the outbox for the user with the address.</summary>
    Sent,

    /// <summary>No directory user has the address: nothing was sent.</summary>
    NoUser,

    /// <summary>Composing or queueing the mail failed; the person may ask again.</summary>
    Failed,
}

/// <summary>
/// Requests for emailed sign-in links and the links themselves. A link's token is never stored:
/// only its SHA-256 (<see cref="SignInLinks.HashOf"/>), so a copy of the database opens nobody's
/// page. Rate limits are counted here, in the database every node shares, so a client that spreads
/// its requests over the nodes of a farm gets no more than from one.
/// </summary>
public interface ISignInLinkStore
{
    /// <summary>Stores the request unless, since <paramref name="since"/>, <paramref name="perAddress"/>
    /// requests for its address or <paramref name="perClient"/> from its client were stored already
    /// (false then, and nothing is stored).</summary>
    Task<bool> AddRequestAsync(SignInLinkRequest request, DateTimeOffset since, int perAddress, int perClient, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="most"/> requests not yet worked on, held by this node until
    /// <paramref name="until"/> (a node that dies lets another take them then).</summary>
    Task<IReadOnlyList<SignInLinkRequest>> ClaimAsync(int most, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>Records what became of a request: for <see cref="SignInLinkOutcome.Sent"/>, the user,
    /// the hash of the link's token and when it expires.</summary>
    Task CompleteAsync(string id, SignInLinkOutcome outcome, string? userId, string? tokenHash, DateTimeOffset? expiresAt, CancellationToken cancellationToken);

    /// <summary>Gives a claimed request back, to be worked on from <paramref name="retryAt"/>.</summary>
    Task ReleaseAsync(string id, DateTimeOffset retryAt, CancellationToken cancellationToken);

    /// <summary>The user a link is for while it is unused and unexpired, without using it.</summary>
    Task<string?> FindUnusedAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Uses the link, in one atomic statement: the user it was for, to exactly one caller
    /// on any node; null when it is unknown, expired or used already.</summary>
    Task<string?> ConsumeAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Forgets requests and links made before <paramref name="before"/>.</summary>
    Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken);
}

/// <summary>What the "Email me a sign-in link" page answers: the same whether or not a user has the address.</summary>
public enum SignInLinkAnswer
{
    /// <summary>"If a user has this address, a link is on its way."</summary>
    Accepted,

    /// <summary>Too many links were asked for this address or from this client lately (counted
    /// whoever has the address, so this says nothing about it either).</summary>
    Limited,
}

/// <summary>Wakes the <see cref="SignInLinkMailer"/> when a request is stored on this node.</summary>
public sealed class SignInLinkSignal : WakeSignal;

/// <summary>
/// "Email me a sign-in link": a person types their address; the request is stored (one row, the
/// same work whatever the address) and answered at once, identically. The
/// <see cref="SignInLinkMailer"/> then finds the directory user with that address, if any, and
/// sends them a one-time link through Herald's own outbox. Following the link shows a button;
/// only the POST it makes uses the link (<see cref="UseAsync"/>), so a mail scanner that opens
/// links spends nothing.
/// </summary>
public sealed class SignInLinks(
    ISignInLinkStore store, IDirectoryStore directory, SignInLinkSignal signal, IOptions<SelfServiceOptions> options, TimeProvider time)
{
    /// <summary>Longest token accepted (a real one is 43 characters).</summary>
    public const int MaxTokenLength = 64;

    /// <summary>Bytes of randomness in a token: 256 bits.</summary>
    public const int TokenBytes = 32;

    /// <summary>Asks for a link for <paramref name="address"/> from <paramref name="client"/>.
    /// Refuses only what is not an address at all; a well-formed address gets the same answer
    /// whether or not it is anyone's.</summary>
    public async Task<Result<SignInLinkAnswer>> RequestAsync(string? address, string client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!EmailAddress.TryParse(address?.Trim(), out var parsed, out var problem))
        {
            return Refusal.Invalid([new FieldError("email", problem ?? "Type the email address Herald sends your alerts to.")], "Type the email address Herald sends your alerts to.");
        }

        var now = time.GetUtcNow();
        var settings = options.Value;
        var request = new SignInLinkRequest($"sil-{Guid.CreateVersion7(now):N}", parsed.Value.ToLowerInvariant(), client, now);
        if (!await store.AddRequestAsync(request, now - settings.SignInLimitWindow, settings.SignInLinksPerAddress, settings.SignInLinksPerClient, cancellationToken)
                .ConfigureAwait(false))
        {
            return SignInLinkAnswer.Limited;
        }

        signal.Notify();
        return SignInLinkAnswer.Accepted;
    }

    /// <summary>The user a link is for, to show on its confirm page, without using it.</summary>
    public async Task<(DirectoryUser? User, LinkProblem Problem)> PeekAsync(string? token, CancellationToken cancellationToken) =>
        await FindUserAsync(HashOrNull(token) is { } hash ? await store.FindUnusedAsync(hash, time.GetUtcNow(), cancellationToken).ConfigureAwait(false) : null, cancellationToken)
            .ConfigureAwait(false);

    /// <summary>Uses the link: the user to sign in, once. Used, expired, altered and unknown links
    /// alike give nobody.</summary>
    public async Task<(DirectoryUser? User, LinkProblem Problem)> UseAsync(string? token, CancellationToken cancellationToken) =>
        await FindUserAsync(HashOrNull(token) is { } hash ? await store.ConsumeAsync(hash, time.GetUtcNow(), cancellationToken).ConfigureAwait(false) : null, cancellationToken)
            .ConfigureAwait(false);

    /// <summary>A new token: 256 random bits, base64url (43 characters).</summary>
    public static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes));

    /// <summary>What the database keeps of a token: its SHA-256, as hex.</summary>
    public static string HashOf(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token)));

    /// <summary>The hash of something that may be a token; null for what cannot be one.</summary>
    public static string? HashOrNull(string? token) =>
        token is { Length: > 0 and <= MaxTokenLength } && Unsubscribe.LinkSigningKey.IsBase64Url(token) ? HashOf(token) : null;

    private async Task<(DirectoryUser?, LinkProblem)> FindUserAsync(string? userId, CancellationToken cancellationToken)
    {
        // The user must still exist: a link outlives nothing it was sent for.
        var user = userId is null ? null : await directory.FindUserAsync(userId, cancellationToken).ConfigureAwait(false);
        return user is null ? (null, LinkProblem.Expired) : (user, LinkProblem.None);
    }
}
