using System.Security.Cryptography.X509Certificates;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>
/// A change to a scope's outgoing email settings, as an administrator states it: every null
/// field keeps what is stored. Values arrive as written (strings) so that validation can name
/// the field that is wrong.
/// </summary>
public sealed record OutgoingSettingsUpdate(ScopePath Scope)
{
    /// <summary>The SMTP connection the scope uses and the connection fields below change.
    /// Null: the connection the scope already names, or a new one named after the scope.</summary>
    public string? ConnectionName { get; init; }

    public string? Host { get; init; }

    public int? Port { get; init; }

    public string? Security { get; init; }

    public AuthenticationChange? Authentication { get; init; }

    public ClientCertificateChange? ClientCertificate { get; init; }

    public ServerTrust? Trust { get; init; }

    public TimeSpan? ConnectTimeout { get; init; }

    public TimeSpan? CommandTimeout { get; init; }

    public int? ConnectionLimit { get; init; }

    /// <summary>Messages per minute; 0 removes the limit.</summary>
    public int? RateLimitPerMinute { get; init; }

    public IReadOnlyList<string>? NodeTags { get; init; }

    public bool? Enabled { get; init; }

    public string? FromAddress { get; init; }

    public string? FromName { get; init; }

    public string? ReplyTo { get; init; }

    public string? Charset { get; init; }

    public string? Impersonation { get; init; }

    public bool ChangesConnection =>
        Host is not null || Port is not null || Security is not null || Authentication is not null
        || ClientCertificate is not null || Trust is not null || ConnectTimeout is not null
        || CommandTimeout is not null || ConnectionLimit is not null || RateLimitPerMinute is not null
        || NodeTags is not null;
}

/// <summary>Anonymous removes any stored credentials; SASL changes only what it names.</summary>
public abstract record AuthenticationChange
{
    /// <summary>The change an administrator asks for in words, as the CLI and the API take it:
    /// <c>anonymous</c>, <c>any</c>, or a comma-separated list of mechanisms, with an optional
    /// user name and password; null when nothing about authentication was said.</summary>
    public static AuthenticationChange? FromWords(string? auth, string? userName, string? password, out string? error)
    {
        error = null;
        if (string.Equals(auth?.Trim(), "anonymous", StringComparison.OrdinalIgnoreCase))
        {
            if (userName is not null || password is not null)
            {
                error = "Anonymous authentication cannot be combined with a user name or password.";
            }

            return new ToAnonymous();
        }

        if (auth is null && userName is null && password is null)
        {
            return null;
        }

        IReadOnlyList<string>? mechanisms = auth is null ? null
            : string.Equals(auth.Trim(), "any", StringComparison.OrdinalIgnoreCase) ? []
            : auth.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new ToSasl(userName, password, mechanisms);
    }

    public sealed record ToAnonymous : AuthenticationChange;

    public sealed record ToSasl(string? UserName, string? Password, IReadOnlyList<string>? Mechanisms) : AuthenticationChange
    {
        // The password never appears in a log line or exception message.
        public override string ToString() => $"SASL (user {UserName ?? "unchanged"}, password {(Password is null ? "unchanged" : "set")})";
    }
}

public abstract record ClientCertificateChange
{
    public sealed record Remove : ClientCertificateChange;

    public sealed record Replace(X509Certificate2 Certificate) : ClientCertificateChange;
}
