using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Herald.Relay;

/// <summary>The relay listener's STARTTLS certificate: the administrator's file, or one generated
/// at first start and kept in the data directory.</summary>
public static class RelayCertificate
{
    /// <summary>The generated certificate's file in the data directory (PKCS #12, mode 600).</summary>
    public const string GeneratedFileName = "relay-certificate.pfx";

    private static readonly TimeSpan Validity = TimeSpan.FromDays(3650);

    public static X509Certificate2 LoadOrCreate(string? path, string? password, string dataDirectory) =>
        LoadOrCreate(path, password, dataDirectory, TimeProvider.System);

    /// <summary>Loads <paramref name="path"/> (PFX, or PEM with the certificate and its key in the
    /// same file) when given; otherwise loads <see cref="GeneratedFileName"/> from
    /// <paramref name="dataDirectory"/>, generating it (self-signed ECDSA P-256) the first time.</summary>
    public static X509Certificate2 LoadOrCreate(string? path, string? password, string dataDirectory, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (!string.IsNullOrEmpty(path))
        {
            return Load(path, password);
        }

        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        var generated = Path.Combine(dataDirectory, GeneratedFileName);
        if (File.Exists(generated))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(generated, password);
        }

        Directory.CreateDirectory(dataDirectory);
        var pfx = Generate(time.GetUtcNow(), password);
        // Written under another name, then renamed: a crash never leaves half a key file that
        // the next start would try to load. Mode 600 from creation: the private key is never
        // readable by others, not even for a moment.
        var temporary = generated + ".tmp";
        var create = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(temporary, create))
        {
            file.Write(pfx);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, generated, overwrite: true);
        return X509CertificateLoader.LoadPkcs12(pfx, password);
    }

    private static X509Certificate2 Load(string path, string? password)
    {
        var extension = Path.GetExtension(path);
        if (extension.Equals(".pem", StringComparison.OrdinalIgnoreCase) || extension.Equals(".crt", StringComparison.OrdinalIgnoreCase))
        {
            using var pem = string.IsNullOrEmpty(password)
                ? X509Certificate2.CreateFromPemFile(path)
                : X509Certificate2.CreateFromEncryptedPemFile(path, password);
            // Re-imported from PKCS #12: a key loaded from PEM is ephemeral, which SslStream cannot use on every platform.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }

        return X509CertificateLoader.LoadPkcs12FromFile(path, password);
    }

    private static byte[] Generate(DateTimeOffset now, string? password)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var host = Dns.GetHostName();
        var request = new CertificateRequest($"CN={host}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(host);
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.Add(Validity));
        return certificate.Export(X509ContentType.Pkcs12, password);
    }
}
