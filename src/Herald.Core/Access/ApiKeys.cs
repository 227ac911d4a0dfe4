using System.Collections.Concurrent;
using System.Security.Cryptography;
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

/// <summary>
/// Creates and checks API keys. A key reads <c>hrk_&lt;id&gt;_&lt;secret&gt;</c>; the database
/// keeps only SHA-256 of the 256-bit random secret (a slow hash adds nothing for a secret that
/// cannot be guessed), so a stolen database yields no usable key.
/// </summary>
public sealed class ApiKeyService(IApiKeyStore store, ISettingsStore settings, TimeProvider time)
{
    private const string Prefix = "hrk_";
    private static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, ApiKey Key, byte[] Hash)> _cache = new(StringComparer.Ordinal);

    /// <summary>A new key and its token, which is shown once and never stored.</summary>
    public async Task<(ApiKey? Key, string? Token, string? Problem)> CreateAsync(ScopePath scope, ApiKeyRole role, string? name, CancellationToken cancellationToken)
    {
        if (!await settings.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return (null, null, $"Scope '{scope}' does not exist.");
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = new ApiKey(id, scope, role, string.IsNullOrWhiteSpace(name) ? null : name.Trim(), time.GetUtcNow(), null);
        await store.SaveAsync(key, SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(secret)), cancellationToken).ConfigureAwait(false);
        return (key, $"{Prefix}{id}_{secret}", null);
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
