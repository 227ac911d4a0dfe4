namespace Herald.Settings;

/// <summary>How a connection to the smart host is protected.</summary>
public enum SmtpSecurity
{
    /// <summary>Plain SMTP; STARTTLS is never attempted.</summary>
    None,

    /// <summary>STARTTLS when the server offers it; otherwise plain SMTP (opportunistic).</summary>
    StartTlsWhenAvailable,

    /// <summary>STARTTLS or nothing: if encryption cannot be established, nothing is sent.</summary>
    StartTlsRequired,

    /// <summary>TLS from the first byte (SMTPS, usually port 465).</summary>
    ImplicitTls,
}

public static class SmtpSecurityNames
{
    public static readonly NamedValues<SmtpSecurity> Values = new(
        (SmtpSecurity.None, "none"),
        (SmtpSecurity.StartTlsWhenAvailable, "starttls-when-available"),
        (SmtpSecurity.StartTlsRequired, "starttls-required"),
        (SmtpSecurity.ImplicitTls, "implicit-tls"));
}
