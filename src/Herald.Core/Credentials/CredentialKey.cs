using System.Security.Cryptography;
using System.Text;

namespace Herald.Credentials;

/// <summary>
/// The application credential key: AES-256-GCM under a key derived from the node's passphrase
/// (PBKDF2-HMAC-SHA512 with the database's salt, then HKDF into separate encryption and check
/// keys). Each secret is bound to its name as associated data, so a ciphertext moved to another
/// row does not decrypt.
/// </summary>
public sealed class CredentialKey : IDisposable
{
    public const int MinimumPassphraseLength = 12;
    public const int DefaultIterations = 210_000;

    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private static readonly byte[] EncryptionInfo = "herald credential encryption v1"u8.ToArray();
    private static readonly byte[] CheckInfo = "herald credential check v1"u8.ToArray();

    private readonly byte[] _encryptionKey;

    private CredentialKey(byte[] encryptionKey, KeyParameters parameters)
    {
        _encryptionKey = encryptionKey;
        Parameters = parameters;
    }

    public KeyParameters Parameters { get; }

    /// <summary>Derives a fresh key with a new salt: for a database that has none yet, or for rotation.</summary>
    public static CredentialKey Create(string passphrase, int iterations = DefaultIterations) =>
        Derive(passphrase, RandomNumberGenerator.GetBytes(16), iterations);

    /// <summary>Derives the key for a database; null when the passphrase is not the database's.</summary>
    public static CredentialKey? Unlock(string passphrase, KeyParameters stored)
    {
        var key = Derive(passphrase, stored.Salt, stored.Iterations);
        if (key.Matches(stored))
        {
            return key;
        }

        key.Dispose();
        return null;
    }

    /// <summary>Whether this key is the one <paramref name="stored"/> describes (its check value,
    /// derived with the stored salt, is the database's): then it opens what the database holds.</summary>
    public bool Matches(KeyParameters stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return CryptographicOperations.FixedTimeEquals(Parameters.CheckValue, stored.CheckValue);
    }

    /// <summary>zxcvbn's score a passphrase must reach: 3 is "safely unguessable" (about 10^10
    /// guesses), what its authors advise against an offline attack on a slow hash — the one this
    /// key faces if a database and its salt leak.</summary>
    public const int MinimumStrengthScore = 3;

    /// <summary>zxcvbn's matching grows faster than linearly with length; beyond this many
    /// characters only the first ones are estimated (a passphrase that long is strong unless it
    /// repeats itself, and its start shows that too).</summary>
    private const int EstimatedLength = 64;

    /// <summary>Words anyone guessing Herald's key would try first.</summary>
    private static readonly string[] ObviousWords = ["herald", "credential", "key", "passphrase", "password", "secret", "smtp", "mail"];

    /// <summary>Null when the passphrase is long enough and hard to guess (zxcvbn's estimate);
    /// otherwise a sentence that says why and what to use instead. Never repeats the passphrase.</summary>
    public static string? CheckPassphrase(string passphrase)
    {
        ArgumentNullException.ThrowIfNull(passphrase);
        if (passphrase.Length < MinimumPassphraseLength)
        {
            return $"The credential key passphrase must be at least {MinimumPassphraseLength} characters long.";
        }

        var estimate = Zxcvbn.Zxcvbn.MatchPassword(passphrase.Length > EstimatedLength ? passphrase[..EstimatedLength] : passphrase, ObviousWords);
        return estimate.Score < MinimumStrengthScore
            ? $"The credential key passphrase is too easy to guess (strength {estimate.Score} of 4 by zxcvbn's estimate; at least {MinimumStrengthScore} is needed): "
              + "use four or more unrelated words, or generate one with 'openssl rand -base64 32'."
            : null;
    }

    public EncryptedSecret Seal(ReadOnlySpan<byte> plaintext, string secretName)
    {
        var output = new byte[1 + NonceSize + TagSize + plaintext.Length];
        output[0] = FormatVersion;
        var nonce = output.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_encryptionKey, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(1 + NonceSize + TagSize), output.AsSpan(1 + NonceSize, TagSize), Encoding.UTF8.GetBytes(secretName));
        return new EncryptedSecret(output);
    }

    public EncryptedSecret Seal(string plaintext, string secretName) => Seal(Encoding.UTF8.GetBytes(plaintext), secretName);

    /// <summary>Opens a secret; false when it was sealed under another key or name, or was altered.</summary>
    public bool TryOpen(EncryptedSecret secret, string secretName, out byte[] plaintext)
    {
        var data = secret.Ciphertext;
        plaintext = [];
        if (data.Length < 1 + NonceSize + TagSize || data[0] != FormatVersion)
        {
            return false;
        }

        var output = new byte[data.Length - 1 - NonceSize - TagSize];
        try
        {
            using var aes = new AesGcm(_encryptionKey, TagSize);
            aes.Decrypt(data.AsSpan(1, NonceSize), data.AsSpan(1 + NonceSize + TagSize), data.AsSpan(1 + NonceSize, TagSize), output, Encoding.UTF8.GetBytes(secretName));
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }

        plaintext = output;
        return true;
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_encryptionKey);

    private static CredentialKey Derive(string passphrase, byte[] salt, int iterations)
    {
        var master = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), salt, iterations, HashAlgorithmName.SHA512, 32);
        var encryptionKey = HKDF.Expand(HashAlgorithmName.SHA256, master, 32, EncryptionInfo);
        var check = HKDF.Expand(HashAlgorithmName.SHA256, master, 32, CheckInfo);
        CryptographicOperations.ZeroMemory(master);
        return new CredentialKey(encryptionKey, new KeyParameters(salt, iterations, check));
    }
}
