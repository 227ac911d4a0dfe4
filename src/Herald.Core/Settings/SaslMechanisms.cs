namespace Herald.Settings;

/// <summary>The SASL mechanisms an SMTP connection may be restricted to.</summary>
public static class SaslMechanisms
{
    public static readonly IReadOnlyList<string> Known =
        ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512", "NTLM", "GSSAPI", "XOAUTH2", "OAUTHBEARER"];

    public static bool TryNormalize(string name, out string normalized)
    {
        normalized = name.Trim().ToUpperInvariant();
        return Known.Contains(normalized);
    }
}
