using System.Security.Cryptography.X509Certificates;
using System.Text;
using Herald.Credentials;
using Herald.Settings;

namespace Herald.Delivery;

/// <summary>An SMTP connection with its secrets opened, for the duration of a send. It is a
/// class, not a record, so that nothing ever prints the password by accident.</summary>
public sealed class OpenedConnection : IDisposable
{
    private OpenedConnection(SmtpConnection settings, string? password, X509Certificate2? clientCertificate)
    {
        Settings = settings;
        Password = password;
        ClientCertificate = clientCertificate;
        Fingerprint = FingerprintOf(settings);
    }

    /// <summary>Identifies this version of the connection's settings (secrets included, as
    /// ciphertext), so that pooled sessions are replaced exactly when the settings change.</summary>
    public string Fingerprint { get; }

    public static string FingerprintOf(SmtpConnection settings) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(settings)));

    public SmtpConnection Settings { get; }

    public string? Password { get; }

    public X509Certificate2? ClientCertificate { get; }

    /// <summary>Opens the connection's secrets with the vault's key; the problem otherwise.</summary>
    public static async Task<(OpenedConnection? Connection, string? Problem)> OpenAsync(
        SmtpConnection settings, CredentialVault vault, CancellationToken cancellationToken)
    {
        if (!settings.Authentication.IsAnonymous && settings.Authentication.Password is null)
        {
            return (null, $"SMTP connection {settings.Qualified} needs a password: it authenticates as '{settings.Authentication.UserName}' but has no password stored (a password is dropped when the connection's server, port or security changes); give it again. Nothing was sent.");
        }

        if (settings.Authentication.Password is null && settings.ClientCertificate is null)
        {
            return (new OpenedConnection(settings, null, null), null);
        }

        var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
        if (status.Key is not { } key)
        {
            return (null, status.Problem);
        }

        string? password = null;
        if (settings.Authentication.Password is { } sealedPassword)
        {
            if (!key.TryOpen(sealedPassword, SecretNames.ConnectionPassword(settings.Id), out var bytes))
            {
                return (null, Unreadable(SecretNames.ConnectionPassword(settings.Id)));
            }

            password = Encoding.UTF8.GetString(bytes);
        }

        X509Certificate2? certificate = null;
        if (settings.ClientCertificate is { } stored)
        {
            if (!key.TryOpen(stored.Pkcs12, SecretNames.ConnectionClientCertificate(settings.Id), out var pkcs12))
            {
                return (null, Unreadable(SecretNames.ConnectionClientCertificate(settings.Id)));
            }

            certificate = X509CertificateLoader.LoadPkcs12(pkcs12, null);
        }

        return (new OpenedConnection(settings, password, certificate), null);
    }

    /// <summary>For a connection being tested before it is saved: the secrets as typed.</summary>
    public static OpenedConnection FromPlaintext(SmtpConnection settings, string? password, X509Certificate2? clientCertificate) =>
        new(settings, password, clientCertificate);

    public void Dispose() => ClientCertificate?.Dispose();

    private static string Unreadable(string name) =>
        $"The secret '{name}' cannot be decrypted with this node's credential key (it was altered, or sealed under another key); nothing was sent.";
}
