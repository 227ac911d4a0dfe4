namespace Herald.Settings;

/// <summary>Names that bind each sealed secret to its place (the cipher's associated data).</summary>
public static class SecretNames
{
    public static string ConnectionPassword(string connection) => $"smtp-connection/{connection}/password";

    public static string ConnectionClientCertificate(string connection) => $"smtp-connection/{connection}/client-certificate";
}
