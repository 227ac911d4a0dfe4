using System.Collections.Concurrent;
using System.Security.Cryptography;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Access;

/// <summary>What a program may do with a key: administer a scope and its children, or send into them.</summary>
public enum ApiKeyRole
{
    Admin,
    Sender,
}

public static class ApiKeyRoleNames
{
    public static readonly NamedValues<ApiKeyRole> Values = new((ApiKeyRole.Admin, "admin"), (ApiKeyRole.Sender, "sender"));
}

public sealed record ApiKey(string Id, ScopePath Scope, ApiKeyRole Role, string? Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>Whether this key may act on <paramref name="target"/> with <paramref name="needed"/>:
    /// only within its own scope and the scopes below it, and an administrator may also send.</summary>
    public bool Allows(ScopePath target, ApiKeyRole needed) =>
        RevokedAt is null && target.IsSameOrDescendantOf(Scope) && (Role == ApiKeyRole.Admin || needed == ApiKeyRole.Sender);
}

public interface IApiKeyStore
{
    Task SaveAsync(ApiKey key, byte[] secretHash, CancellationToken cancellationToken);

    Task<(ApiKey Key, byte[] SecretHash)?> FindAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken);

    Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>A key as created: the token is shown once, never stored and never shown again.</summary>
public sealed record CreatedApiKey(ApiKey Key, string Token);

/// <summary>
/// Creates, lists, revokes and checks API keys. A key reads <c>hrk_&lt;id&gt;_&lt;secret&gt;</c>; the
/// database keeps only SHA-256 of the 256-bit random secret (a slow hash adds nothing for a
/// secret that cannot be guessed), so a stolen database yields no usable key. Keys are managed by
/// the local operator, and by administrators of a scope for keys of that scope and below it (an
/// administrator key of /hr may create a sender key of /hr/payroll, never one of / or /hr2); a
/// key outside the caller's scopes answers as one that does not exist.
/// </summary>
public sealed class ApiKeyService(IApiKeyStore store, ISettingsStore settings, TimeProvider time)
{
    public const int MaxNameLength = 200;
    private const string Prefix = "hrk_";
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, ApiKey Key, byte[] Hash)> _cache = new(StringComparer.Ordinal);

    /// <summary>A new key and its token.</summary>
    public async Task<Result<CreatedApiKey>> CreateAsync(Caller caller, string? scope, string? role, string? name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }

        if (!ApiKeyRoleNames.Values.TryParse(role, out var roleError, out var parsedRole))
        {
            errors.Add(new("role", $"Role {roleError}"));
        }

        if (name is { Length: > MaxNameLength } || (name is not null && name.Any(char.IsControl)))
        {
            errors.Add(new("name", $"A key's name is at most {MaxNameLength} characters on one line."));
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The key is not valid; nothing was created.");
        }

        if (!caller.Administers(path))
        {
            return Refusal.NotAllowed($"{caller.Description} may not create keys of scope {path}: only administrators of it (or of a scope above it) do.");
        }

        if (!await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Invalid([ScopeService.Missing(path)], "The key is not valid; nothing was created.");
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = new ApiKey(id, path, parsedRole, string.IsNullOrWhiteSpace(name) ? null : name.Trim(), time.GetUtcNow(), null);
        await store.SaveAsync(key, SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(secret)), cancellationToken).ConfigureAwait(false);
        return new CreatedApiKey(key, $"{Prefix}{id}_{secret}");
    }

    /// <summary>The keys of the scopes the caller administers, revoked ones too (never their secrets).</summary>
    public async Task<IReadOnlyList<ApiKey>> ListAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return (await store.ListAsync(cancellationToken).ConfigureAwait(false)).Where(k => caller.Administers(k.Scope)).ToArray();
    }

    /// <summary>Revokes a key of a scope the caller administers; it stops working within five
    /// seconds on every node.</summary>
    public async Task<Refusal?> RevokeAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var notFound = Refusal.NotFound($"There is no active API key '{DirectoryIds.Printable(id)}'.");
        if (string.IsNullOrEmpty(id) || id.Length > 64 || await store.FindAsync(id, cancellationToken).ConfigureAwait(false) is not { } found
            || !caller.Administers(found.Key.Scope))
        {
            return notFound;
        }

        return await store.RevokeAsync(id, time.GetUtcNow(), cancellationToken).ConfigureAwait(false) ? null : notFound;
    }

    /// <summary>The key a token belongs to, or null. A revocation takes effect within five seconds.</summary>
    public async Task<ApiKey?> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        if (!token.StartsWith(Prefix, StringComparison.Ordinal) || token.Length > 200)
        {
            return null;
        }

        var separator = token.IndexOf('_', Prefix.Length);
        if (separator < 0)
        {
            return null;
        }

        var id = token[Prefix.Length..separator];
        var now = time.GetUtcNow();
        if (!_cache.TryGetValue(id, out var entry) || entry.Until < now)
        {
            if (await store.FindAsync(id, cancellationToken).ConfigureAwait(false) is not { } found)
            {
                return null;
            }

            entry = (now + CacheLifetime, found.Key, found.SecretHash);
            _cache[id] = entry;
        }

        var presented = SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(token[(separator + 1)..]));
        return CryptographicOperations.FixedTimeEquals(presented, entry.Hash) && entry.Key.RevokedAt is null ? entry.Key : null;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
