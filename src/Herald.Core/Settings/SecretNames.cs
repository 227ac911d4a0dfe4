namespace Herald.Settings;

/// <summary>Names that bind each sealed secret to its place (the cipher's associated data).</summary>
public static class SecretNames
{
    public const string ConsoleKeyPrefix = "console-key/";

    public static string ConnectionPassword(string connection) => $"smtp-connection/{connection}/password";

    public static string ConnectionClientCertificate(string connection) => $"smtp-connection/{connection}/client-certificate";

    /// <summary>An element of the console's key ring (a Data Protection key or revocation), by the
    /// name Data Protection gives it, e.g. <c>key-{guid}</c>.</summary>
    public static string ConsoleKey(string element) => $"{ConsoleKeyPrefix}{element}";
}
