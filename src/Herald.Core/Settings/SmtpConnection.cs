using Herald.Credentials;

namespace Herald.Settings;

/// <summary>A named way to reach a smart host (Harness's "SMTP connection"). Secrets are held
/// only as ciphertext sealed with the application credential key.</summary>
public sealed record SmtpConnection
{
    public const int DefaultPort = 25;

    public required string Name { get; init; }

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

    /// <summary>Only nodes carrying one of these tags may use the connection; empty means any node.</summary>
    public IReadOnlyList<string> NodeTags { get; init; } = [];
}

/// <summary>Anonymous, or SASL with a user name, a sealed password and an optional allow-list of
/// mechanisms (empty: whatever the server offers, strongest first).</summary>
public sealed record SmtpAuthentication(string? UserName, IReadOnlyList<string> Mechanisms, EncryptedSecret? Password)
{
    public static readonly SmtpAuthentication Anonymous = new(null, [], null);

    public bool IsAnonymous => UserName is null;
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
