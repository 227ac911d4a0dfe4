namespace Herald.Settings;

/// <summary>Names that bind each sealed secret to its place (the cipher's associated data). The
/// secrets table holds more than connections' secrets (the console's key ring too): code removes
/// a secret by its exact name, never by listing the table for rows it does not recognise.</summary>
public static class SecretNames
{
    public const string ConsoleKeyPrefix = "console-key/";

    public static string ConnectionPassword(string connection) => $"smtp-connection/{connection}/password";

    public static string ConnectionClientCertificate(string connection) => $"smtp-connection/{connection}/client-certificate";

    public static string OAuthClientSecret(string connection) => $"smtp-connection/{connection}/oauth-client-secret";

    public static string OAuthClientCertificate(string connection) => $"smtp-connection/{connection}/oauth-client-certificate";

    public static string OAuthServiceAccountKey(string connection) => $"smtp-connection/{connection}/oauth-service-account-key";

    public static string OAuthRefreshToken(string connection) => $"smtp-connection/{connection}/oauth-refresh-token";

    /// <summary>Every secret a connection may hold, by its exact name.</summary>
    public static IReadOnlyList<string> OfConnection(string connection) =>
        [ConnectionPassword(connection), ConnectionClientCertificate(connection), OAuthClientSecret(connection),
         OAuthClientCertificate(connection), OAuthServiceAccountKey(connection), OAuthRefreshToken(connection)];

    /// <summary>A directory source's LDAP bind password.</summary>
    public static string DirectorySourceBindPassword(string source) => $"directory-source/{source}/bind-password";

    /// <summary>A bounce mailbox's user name (sealed too: with the host it tells where to sign in).</summary>
    public static string BounceMailboxUserName(string scope) => $"bounce-mailbox/{scope}/user-name";

    /// <summary>A bounce mailbox's password.</summary>
    public static string BounceMailboxPassword(string scope) => $"bounce-mailbox/{scope}/password";

    /// <summary>A webhook endpoint's signing secret (<c>whsec_…</c>).</summary>
    public static string WebhookSecret(string endpoint) => $"webhook/{endpoint}/secret";

    /// <summary>An element of the console's key ring (a Data Protection key or revocation), by the
    /// name Data Protection gives it, e.g. <c>key-{guid}</c>.</summary>
    public static string ConsoleKey(string element) => $"{ConsoleKeyPrefix}{element}";
}
