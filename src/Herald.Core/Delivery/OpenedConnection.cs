using System.Security.Cryptography.X509Certificates;
using System.Text;
using Herald.Credentials;
using Herald.Settings;

namespace Herald.Delivery;

/// <summary>An SMTP connection with its secrets opened, for the duration of a send. It is a
/// class, not a record, so that nothing ever prints the password by accident.</summary>
public sealed class OpenedConnection : IDisposable
{
    private OpenedConnection(SmtpConnection settings, string? password, X509Certificate2? clientCertificate, OAuthSecrets? oauth = null)
    {
        Settings = settings;
        Password = password;
        ClientCertificate = clientCertificate;
        OAuth = oauth;
        Fingerprint = FingerprintOf(settings);
    }

    /// <summary>Identifies this version of the connection's settings (secrets included, as
    /// ciphertext), so that pooled sessions are replaced exactly when the settings change. A
    /// refresh token the provider rotated is not a change of settings: it is left out.</summary>
    public string Fingerprint { get; }

    public static string FingerprintOf(SmtpConnection settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var stable = settings.Authentication.OAuth is { RefreshToken: not null } oauth
            ? settings with { Authentication = settings.Authentication with { OAuth = oauth with { RefreshToken = null } } }
            : settings;
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(stable)));
    }

    public SmtpConnection Settings { get; }

    public string? Password { get; }

    public X509Certificate2? ClientCertificate { get; }

    /// <summary>The opened OAuth 2.0 secrets, for a connection that authenticates with tokens.</summary>
    public OAuthSecrets? OAuth { get; }

    /// <summary>Opens the connection's secrets with the vault's key; the problem otherwise.</summary>
    public static async Task<(OpenedConnection? Connection, string? Problem)> OpenAsync(
        SmtpConnection settings, CredentialVault vault, CancellationToken cancellationToken, bool forSignIn = false)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(vault);
        var oauth = settings.Authentication.OAuth;
        // A sign-in is how a missing refresh token is obtained: it needs only the client's secrets.
        if (!forSignIn && oauth?.Missing(settings.Qualified) is { } missing)
        {
            return (null, $"{missing} Nothing was sent.");
        }

        // Kerberos has no secret in the database: its tickets come from files of the node.
        if (oauth is null && settings.Authentication.Kerberos is null && !settings.Authentication.IsAnonymous && settings.Authentication.Password is null)
        {
            return (null, $"SMTP connection {settings.Qualified} needs a password: it authenticates as '{settings.Authentication.UserName}' but has no password stored (a password is dropped when the connection's server, port or security changes); give it again. Nothing was sent.");
        }

        if (settings.Authentication.Password is null && settings.ClientCertificate is null && oauth is not { HasSecrets: true })
        {
            return (new OpenedConnection(settings, null, null, oauth is null ? null : new OAuthSecrets(null, null, null, null)), null);
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

        OAuthSecrets? secrets = null;
        if (oauth is not null)
        {
            string? Text(EncryptedSecret? secret, string name, ref string? unreadable)
            {
                if (secret is null)
                {
                    return null;
                }

                if (key.TryOpen(secret, name, out var bytes))
                {
                    return Encoding.UTF8.GetString(bytes);
                }

                unreadable ??= name;
                return null;
            }

            string? unreadable = null;
            var clientSecret = Text(oauth.ClientSecret, SecretNames.OAuthClientSecret(settings.Id), ref unreadable);
            var serviceAccountKey = Text(oauth.ServiceAccountKey, SecretNames.OAuthServiceAccountKey(settings.Id), ref unreadable);
            var refreshToken = Text(oauth.RefreshToken, SecretNames.OAuthRefreshToken(settings.Id), ref unreadable);
            X509Certificate2? oauthCertificate = null;
            if (oauth.ClientCertificate is { } credential && unreadable is null)
            {
                if (key.TryOpen(credential.Pkcs12, SecretNames.OAuthClientCertificate(settings.Id), out var pkcs12))
                {
                    oauthCertificate = X509CertificateLoader.LoadPkcs12(pkcs12, null, X509KeyStorageFlags.Exportable);
                }
                else
                {
                    unreadable = SecretNames.OAuthClientCertificate(settings.Id);
                }
            }

            if (unreadable is not null)
            {
                certificate?.Dispose();
                return (null, Unreadable(unreadable));
            }

            secrets = new OAuthSecrets(clientSecret, oauthCertificate, serviceAccountKey, refreshToken);
        }

        return (new OpenedConnection(settings, password, certificate, secrets), null);
    }

    /// <summary>For a connection being tested before it is saved: the secrets as typed.</summary>
    public static OpenedConnection FromPlaintext(SmtpConnection settings, string? password, X509Certificate2? clientCertificate, OAuthSecrets? oauth = null) =>
        new(settings, password, clientCertificate, oauth);

    public void Dispose()
    {
        ClientCertificate?.Dispose();
        OAuth?.ClientCertificate?.Dispose();
    }

    private static string Unreadable(string name) =>
        $"The secret '{name}' cannot be decrypted with this node's credential key (it was altered, or sealed under another key); nothing was sent.";
}

/// <summary>A connection's OAuth 2.0 secrets, opened for the duration of a send. A class, not a
/// record, so that nothing prints them by accident.</summary>
public sealed class OAuthSecrets(string? clientSecret, X509Certificate2? clientCertificate, string? serviceAccountKey, string? refreshToken)
{
    public string? ClientSecret { get; } = clientSecret;

    public X509Certificate2? ClientCertificate { get; } = clientCertificate;

    /// <summary>Google: the service account's JSON key.</summary>
    public string? ServiceAccountKey { get; } = serviceAccountKey;

    /// <summary>The refresh token as stored when the connection was opened (for Microsoft, MSAL's
    /// serialized token cache); a rotated one is kept by <see cref="AccessTokens"/>.</summary>
    public string? RefreshToken { get; } = refreshToken;
}
