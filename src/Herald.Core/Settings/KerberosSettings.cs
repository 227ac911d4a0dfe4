namespace Herald.Settings;

/// <summary>
/// Kerberos (SASL GSSAPI) for a service account: the connection's user name is the client
/// principal, and its tickets come from a keytab (Herald obtains and renews them itself) or from a
/// credential cache that something else keeps fresh (k5start, a cron'd kinit, sssd). Both are
/// paths on each node, like the data directory: nothing of them is stored in the database, and a
/// keytab's keys are never read into Herald's own memory (MIT's <c>kinit</c> reads the file).
/// </summary>
public sealed record KerberosSettings
{
    /// <summary>The realm, in capitals (<c>CORP.EXAMPLE.COM</c>); a principal written without one is in it.</summary>
    public required string Realm { get; init; }

    /// <summary>A keytab file holding the client principal's keys; null when <see cref="CredentialCache"/> is used.</summary>
    public string? Keytab { get; init; }

    /// <summary>A credential cache (<c>FILE:/path</c> or a path, <c>KCM:</c>, <c>KEYRING:</c>) that already holds a ticket-granting ticket.</summary>
    public string? CredentialCache { get; init; }

    /// <summary>The server's principal (<c>service/host</c>); null for <c>SMTPSVC/host</c>, what Exchange registers.</summary>
    public string? ServicePrincipal { get; init; }

    /// <summary>The principal the connection's tickets are for: <paramref name="host"/> unless set.</summary>
    public string EffectiveServicePrincipal(string host) => ServicePrincipal ?? $"SMTPSVC/{host}";

    /// <summary>The client principal with its realm: <c>svc-herald</c> becomes <c>svc-herald@REALM</c>.</summary>
    public string ClientPrincipal(string userName)
    {
        ArgumentNullException.ThrowIfNull(userName);
        return userName.Contains('@', StringComparison.Ordinal) ? userName : $"{userName}@{Realm}";
    }

    /// <summary>The service principal with the realm, as the KDC names it in its answers.</summary>
    public string QualifiedServicePrincipal(string host)
    {
        var principal = EffectiveServicePrincipal(host);
        return principal.Contains('@', StringComparison.Ordinal) ? principal : $"{principal}@{Realm}";
    }
}

/// <summary>
/// An NTLM account as administrators write it: <c>DOMAIN\user</c> (the down-level logon name) or
/// <c>user@domain</c> (the user principal name), split into the user and domain NTLM sends. A
/// name of neither form is a user of the server's own domain (empty domain).
/// </summary>
public sealed record NtlmAccount(string Domain, string User)
{
    public static bool TryParse(string? userName, out NtlmAccount account, out string? error)
    {
        account = new NtlmAccount("", userName ?? "");
        error = null;
        if (string.IsNullOrWhiteSpace(userName))
        {
            error = "NTLM needs a user name: DOMAIN\\user or user@domain.";
            return false;
        }

        var backslash = userName.IndexOf('\\', StringComparison.Ordinal);
        if (backslash >= 0)
        {
            var (domain, user) = (userName[..backslash], userName[(backslash + 1)..]);
            if (domain.Length == 0 || user.Length == 0 || user.Contains('\\', StringComparison.Ordinal) || user.Contains('@', StringComparison.Ordinal))
            {
                error = $"'{userName}' is not an NTLM account: write DOMAIN\\user or user@domain.";
                return false;
            }

            account = new NtlmAccount(domain, user);
            return true;
        }

        var at = userName.LastIndexOf('@');
        if (at >= 0)
        {
            var (user, domain) = (userName[..at], userName[(at + 1)..]);
            if (user.Length == 0 || domain.Length == 0 || user.Contains('@', StringComparison.Ordinal))
            {
                error = $"'{userName}' is not an NTLM account: write DOMAIN\\user or user@domain.";
                return false;
            }

            account = new NtlmAccount(domain, user);
            return true;
        }

        return true;
    }
}
