using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Herald.Relay;

/// <summary>
/// Relay account passwords at rest: PBKDF2-HMAC-SHA256 with a 128-bit random salt per account
/// and 600,000 iterations (OWASP's 2023 figure), written <c>pbkdf2-sha256$iterations$salt$hash</c>
/// so that the count can be raised later without breaking stored accounts. Unlike an API key's
/// random secret, a password can be guessed, so the hash must be slow.
/// </summary>
public static class RelayPasswords
{
    public const int DefaultIterations = 600_000;
    public const int MaxLength = 1024;
    private const string Algorithm = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    // Checked when the user name is unknown, so that "no such account" takes as long as "wrong password".
    private static readonly Lazy<string> Decoy = new(() => Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))));

    public static string Hash(string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return $"{Algorithm}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// <summary>Whether the password matches the stored hash, compared in fixed time. A null hash
    /// (unknown account) is checked against a decoy and never matches.</summary>
    public static bool Verify(string password, string? stored)
    {
        var parts = (stored ?? Decoy.Value).Split('$');
        if (parts.Length != 4 || parts[0] != Algorithm
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 1)
        {
            return false;
        }

        byte[] salt, expected;
        try
        {
            (salt, expected) = (Convert.FromBase64String(parts[2]), Convert.FromBase64String(parts[3]));
        }
        catch (FormatException)
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected) && stored is not null;
    }
}
