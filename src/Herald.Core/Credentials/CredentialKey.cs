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
        if (CryptographicOperations.FixedTimeEquals(key.Parameters.CheckValue, stored.CheckValue))
        {
            return key;
        }

        key.Dispose();
        return null;
    }

    public static string? CheckPassphrase(string passphrase) =>
        passphrase.Length < MinimumPassphraseLength
            ? $"The credential key passphrase must be at least {MinimumPassphraseLength} characters long."
            : null;

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
