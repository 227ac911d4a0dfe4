using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Herald.Settings;

/// <summary>Loading and vetting a client certificate, by the rules Harness and SharePoint
/// apply: a private key, RSA or ECDSA (DSA is refused), digitalSignature if Key Usage is present,
/// clientAuth if Extended Key Usage is present, and not expired.</summary>
public static class ClientCertificates
{
    public const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";
    private const string DsaOid = "1.2.840.10040.4.1";

    /// <summary>The largest certificate file or upload read (a certificate, its chain and key).</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>Loads a PEM file holding the certificate and its private key, or a PKCS#12 file
    /// without a password.</summary>
    public static bool TryLoad(string path, [NotNullWhen(true)] out X509Certificate2? certificate, [NotNullWhen(false)] out string? error)
    {
        certificate = null;
        if (!File.Exists(path))
        {
            error = $"Client certificate file '{path}' does not exist.";
            return false;
        }

        if (new FileInfo(path).Length > MaxBytes)
        {
            error = $"Client certificate file '{path}' is larger than {MaxBytes / 1024} KiB; give a PEM or PKCS#12 file with one certificate and its key.";
            return false;
        }

        return TryLoad(File.ReadAllBytes(path), $"file '{path}'", out certificate, out error);
    }

    /// <summary>Loads PEM text holding the certificate and its private key, or PKCS#12 bytes
    /// without a password, read from <paramref name="source"/> (named in the error). The key
    /// algorithm is checked before the key is read, so a DSA certificate is named as such.</summary>
    public static bool TryLoad(byte[] bytes, string source, [NotNullWhen(true)] out X509Certificate2? certificate, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        certificate = null;
        if (bytes.Length > MaxBytes)
        {
            error = $"The client certificate ({source}) is larger than {MaxBytes / 1024} KiB; give a PEM or PKCS#12 file with one certificate and its key.";
            return false;
        }

        try
        {
            var text = System.Text.Encoding.ASCII.GetString(bytes);
            if (!text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                certificate = X509CertificateLoader.LoadPkcs12(bytes, null, X509KeyStorageFlags.Exportable);
                error = null;
                return true;
            }

            using var publicOnly = X509Certificate2.CreateFromPem(text);
            if (AlgorithmProblem(publicOnly) is { } algorithm)
            {
                error = algorithm;
                return false;
            }

            certificate = text.Contains("PRIVATE KEY-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text, text)
                : X509Certificate2.CreateFromPem(text);
            error = null;
            return true;
        }
        catch (CryptographicException ex)
        {
            error = $"The client certificate ({source}) could not be read: {ex.Message.TrimEnd('.')}. Give a PEM file with the certificate and its private key, or a PKCS#12 file without a password.";
            return false;
        }
    }

    /// <summary>Null when the certificate may be used; otherwise why not.</summary>
    public static string? Check(X509Certificate2 certificate, DateTimeOffset now)
    {
        var subject = certificate.Subject;
        if (AlgorithmProblem(certificate) is { } algorithm)
        {
            return algorithm;
        }

        if (!certificate.HasPrivateKey)
        {
            return $"The client certificate '{subject}' has no private key: give a PEM file with the certificate and its key, or a PKCS#12 file.";
        }

        var keyUsage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (keyUsage is not null && !keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature))
        {
            return $"The client certificate '{subject}' has a Key Usage extension without digitalSignature, so it cannot authenticate a TLS client.";
        }

        var extendedUsage = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        if (extendedUsage is not null && !extendedUsage.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == ClientAuthenticationOid))
        {
            return $"The client certificate '{subject}' has an Extended Key Usage extension without clientAuth ({ClientAuthenticationOid}).";
        }

        if (certificate.NotAfter.ToUniversalTime() < now.UtcDateTime)
        {
            return $"The client certificate '{subject}' expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC.";
        }

        return null;
    }

    private static string? AlgorithmProblem(X509Certificate2 certificate) => certificate.PublicKey.Oid.Value switch
    {
        RsaOid or EcOid => null,
        DsaOid => $"The client certificate '{certificate.Subject}' has a DSA key, which is not accepted: use an RSA or ECDSA certificate.",
        var other => $"The client certificate '{certificate.Subject}' has an unsupported key algorithm ({other}): use an RSA or ECDSA certificate.",
    };
}
