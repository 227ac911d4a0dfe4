using System.Security.Cryptography;
using System.Text;

namespace Herald.Web.Console;

/// <summary>
/// The one-time set-up link <c>herald serve</c> logs when no administrator exists: a random token,
/// kept only as its hash, that expires after <see cref="Lifetime"/> and is spent by the first
/// administrator it creates.
/// </summary>
public sealed class SetupLink(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    private readonly Lock _lock = new();
    private byte[]? _hash;
    private DateTimeOffset _expires;

    public DateTimeOffset Expires => _expires;

    /// <summary>A new token; any earlier one stops working.</summary>
    public string Issue()
    {
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
        lock (_lock)
        {
            _hash = SHA256.HashData(Encoding.ASCII.GetBytes(token));
            _expires = time.GetUtcNow() + Lifetime;
        }

        return token;
    }

    public bool IsValid(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 100)
        {
            return false;
        }

        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        lock (_lock)
        {
            return _hash is not null && time.GetUtcNow() < _expires && CryptographicOperations.FixedTimeEquals(presented, _hash);
        }
    }

    /// <summary>The link has done its work: it never works again.</summary>
    public void Spend()
    {
        lock (_lock)
        {
            _hash = null;
        }
    }
}
