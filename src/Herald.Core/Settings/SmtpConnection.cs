using Herald.Credentials;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>
/// A named way to reach a smart host (Harness's "SMTP connection"), owned by a scope:
/// administrators of the owner (or an ancestor) change it, and the owner and the scopes below it
/// may use it. Secrets are held only as ciphertext sealed with the application credential key and
/// bound to <see cref="Id"/>.
/// </summary>
public sealed record SmtpConnection
{
    public const int DefaultPort = 25;

    /// <summary>The stored identity, never shown as a name and never changed: other rows (scope
    /// settings, queued messages) and the sealed secrets' associated data refer to it. A
    /// connection made before owners existed keeps its old name here (e.g. <c>default</c>); a
    /// new one gets <see cref="ConnectionReference.Qualified"/> of its owner and name.</summary>
    public required string Id { get; init; }

    /// <summary>The scope the connection belongs to.</summary>
    public required ScopePath Owner { get; init; }

    /// <summary>The connection's name within its owner (<see cref="ConnectionName"/> rules).</summary>
    public required string Name { get; init; }

    /// <summary>How people and programs write it: <c>/hr:smarthost</c>.</summary>
    public string Qualified => ConnectionReference.Qualified(Owner, Name);

    public required string Host { get; init; }

    public int Port { get; init; } = DefaultPort;

    public SmtpSecurity Security { get; init; } = SmtpSecurity.StartTlsWhenAvailable;

    public SmtpAuthentication Authentication { get; init; } = SmtpAuthentication.Anonymous;

    public StoredClientCertificate? ClientCertificate { get; init; }

    public ServerTrust Trust { get; init; } = ServerTrust.System;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one SMTP command may wait for its reply.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>At most this many simultaneous connections to the host.</summary>
    public int ConnectionLimit { get; init; } = 4;

    /// <summary>Messages per minute, or no limit.</summary>
    public int? RateLimitPerMinute { get; init; }

    /// <summary>The name Herald greets this server with (EHLO), fully qualified; null: chosen by
    /// <see cref="Delivery.EhloName"/> (the node's name, or the sender's domain).</summary>
    public string? EhloName { get; init; }

    /// <summary>Only nodes carrying one of these tags may use the connection; empty means any node.</summary>
    public IReadOnlyList<string> NodeTags { get; init; } = [];

    /// <summary>The administrator said that the password may cross an unencrypted channel
    /// (security <c>none</c>, or <c>starttls-when-available</c> when the server offers no
    /// STARTTLS): only for a smart host on the same machine or a trusted link.</summary>
    public bool AllowPlaintextAuth { get; init; }

    /// <summary>Whether this connection can send a password only over an encrypted channel,
    /// or might send it in the clear.</summary>
    public bool MaySendPasswordInClear => Security is SmtpSecurity.None or SmtpSecurity.StartTlsWhenAvailable;
}

/// <summary>Anonymous, or SASL with a user name, a sealed password and an optional allow-list of
/// mechanisms (empty: whatever the server offers, strongest first); or, with <see cref="OAuth"/>,
/// a bearer token for the user name (the mailbox) through XOAUTH2 or OAUTHBEARER; or, with
/// <see cref="Kerberos"/>, GSSAPI for the user name as the client principal.</summary>
public sealed record SmtpAuthentication(string? UserName, IReadOnlyList<string> Mechanisms, EncryptedSecret? Password)
{
    public static readonly SmtpAuthentication Anonymous = new(null, [], null);

    /// <summary>OAuth 2.0 instead of a password; null for anonymous and password authentication.</summary>
    public OAuthSettings? OAuth { get; init; }

    /// <summary>Kerberos tickets instead of a password; null otherwise.</summary>
    public KerberosSettings? Kerberos { get; init; }

    public bool IsAnonymous => UserName is null;

    /// <summary>How people read it: <c>anonymous</c>, <c>password</c>, <c>oauth2 (microsoft)</c> or <c>kerberos (keytab)</c>.</summary>
    public string Kind => IsAnonymous ? "anonymous"
        : OAuth is { } oauth ? $"oauth2 ({OAuthNames.Providers.NameOf(oauth.Provider)})"
        : Kerberos is { } kerberos ? $"kerberos ({(kerberos.Keytab is null ? "credential cache" : "keytab")})"
        : "password";
}

public enum ServerTrustMode
{
    /// <summary>The operating system's trusted roots.</summary>
    System,

    /// <summary>Only chains ending at the pinned CA certificate.</summary>
    PinnedCa,

    /// <summary>Only the server certificate with this SHA-256 thumbprint.</summary>
    PinnedThumbprint,
}

/// <summary>Which server certificates a connection accepts. The pinned CA is public data.</summary>
public sealed record ServerTrust(ServerTrustMode Mode, string? CaPem = null, string? Thumbprint = null)
{
    public static readonly ServerTrust System = new(ServerTrustMode.System);

    public static readonly NamedValues<ServerTrustMode> ModeNames = new(
        (ServerTrustMode.System, "system"),
        (ServerTrustMode.PinnedCa, "pinned-ca"),
        (ServerTrustMode.PinnedThumbprint, "pinned-thumbprint"));
}

/// <summary>A client certificate with its private key, sealed as PKCS#12, and the public facts
/// an administrator is shown instead of the secret.</summary>
public sealed record StoredClientCertificate(EncryptedSecret Pkcs12, string Subject, string Thumbprint, DateTimeOffset NotAfter);
