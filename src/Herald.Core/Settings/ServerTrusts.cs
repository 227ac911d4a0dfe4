using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Herald.Settings;

/// <summary>Building a pinned <see cref="ServerTrust"/> from what an administrator gives.</summary>
public static class ServerTrusts
{
    public static bool TryPinCaFile(string path, [NotNullWhen(true)] out ServerTrust? trust, [NotNullWhen(false)] out string? error)
    {
        trust = null;
        if (!File.Exists(path))
        {
            error = $"CA certificate file '{path}' does not exist.";
            return false;
        }

        if (new FileInfo(path).Length > ClientCertificates.MaxBytes)
        {
            error = $"CA certificate file '{path}' is larger than {ClientCertificates.MaxBytes / 1024} KiB.";
            return false;
        }

        return TryPinCa(File.ReadAllText(path), $"file '{path}'", out trust, out error);
    }

    /// <summary>Pins the CA certificate in <paramref name="pem"/>, read from <paramref name="source"/>.</summary>
    public static bool TryPinCa(string pem, string source, [NotNullWhen(true)] out ServerTrust? trust, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(pem);
        trust = null;
        if (pem.Length > ClientCertificates.MaxBytes)
        {
            error = $"The CA certificate ({source}) is larger than {ClientCertificates.MaxBytes / 1024} KiB.";
            return false;
        }

        try
        {
            using var ca = X509Certificate2.CreateFromPem(pem);
            trust = new ServerTrust(ServerTrustMode.PinnedCa, CaPem: ca.ExportCertificatePem());
            error = null;
            return true;
        }
        catch (CryptographicException ex)
        {
            error = $"The CA certificate ({source}) is not a PEM certificate: {ex.Message.TrimEnd('.')}.";
            return false;
        }
    }

    public static bool TryPinThumbprint(string text, [NotNullWhen(true)] out ServerTrust? trust, [NotNullWhen(false)] out string? error)
    {
        var hex = text.Replace(":", "", StringComparison.Ordinal).Trim().ToUpperInvariant();
        if (hex.Length != 64 || !hex.All(Uri.IsHexDigit))
        {
            trust = null;
            error = $"'{text}' is not a SHA-256 certificate thumbprint (64 hexadecimal digits).";
            return false;
        }

        trust = new ServerTrust(ServerTrustMode.PinnedThumbprint, Thumbprint: hex);
        error = null;
        return true;
    }
}
