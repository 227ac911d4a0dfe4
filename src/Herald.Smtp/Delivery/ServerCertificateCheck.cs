using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Herald.Settings;

namespace Herald.Delivery;

/// <summary>Validates the smart host's certificate by the connection's trust setting, and keeps
/// the reason for a rejection so the administrator is told which check failed.</summary>
internal sealed class ServerCertificateCheck(ServerTrust trust)
{
    public string? Rejection { get; private set; }

    /// <summary>The certificate the server presented, for <c>herald doctor</c>; null before the handshake.</summary>
    public SeenCertificate? Seen { get; private set; }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return Reject("the server sent no certificate");
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        Seen = new SeenCertificate(leaf.Subject, leaf.Issuer, new DateTimeOffset(leaf.NotBefore.ToUniversalTime()), new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
        switch (trust.Mode)
        {
            case ServerTrustMode.PinnedThumbprint:
                // Pinning the exact certificate is explicit trust in it, whatever its chain or name.
                var thumbprint = leaf.GetCertHashString(HashAlgorithmName.SHA256);
                return string.Equals(thumbprint, trust.Thumbprint, StringComparison.OrdinalIgnoreCase)
                    || Reject($"the server certificate's SHA-256 thumbprint {thumbprint} is not the pinned one");

            case ServerTrustMode.PinnedCa:
                if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
                {
                    return Reject($"the server certificate ({leaf.Subject}) is not valid for the host name");
                }

                using (var ca = X509Certificate2.CreateFromPem(trust.CaPem))
                using (var pinned = new X509Chain())
                {
                    pinned.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    pinned.ChainPolicy.CustomTrustStore.Add(ca);
                    pinned.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    if (chain is not null)
                    {
                        foreach (var element in chain.ChainElements)
                        {
                            pinned.ChainPolicy.ExtraStore.Add(element.Certificate);
                        }
                    }

                    return pinned.Build(leaf)
                        || Reject($"the server certificate ({leaf.Subject}, issued by {leaf.Issuer}) does not chain to the pinned CA ({ca.Subject}): {Status(pinned)}");
                }

            default:
                return errors == SslPolicyErrors.None
                    || Reject($"the server certificate ({leaf.Subject}, issued by {leaf.Issuer}) is not trusted by this system ({errors}{(chain is null ? "" : ": " + Status(chain))}); pin its CA with --trust-ca to trust it");
        }
    }

    private bool Reject(string reason)
    {
        Rejection = reason;
        return false;
    }

    private static string Status(X509Chain chain) =>
        string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
}

/// <summary>What a server's certificate says about itself (no key, nothing secret).</summary>
internal sealed record SeenCertificate(string Subject, string Issuer, DateTimeOffset NotBefore, DateTimeOffset NotAfter);
