using System.Security.Cryptography.X509Certificates;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>
/// A change to one SMTP connection, as an administrator states it: every null field keeps what is
/// stored (or the default, for a new connection). Values arrive as written so that validation can
/// name the field that is wrong.
/// </summary>
public sealed record ConnectionUpdate
{
    public static readonly ConnectionUpdate None = new();

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

    /// <summary>See <see cref="SmtpConnection.AllowPlaintextAuth"/>.</summary>
    public bool? AllowPlaintextAuth { get; init; }

    public bool IsEmpty => this == None;
}

/// <summary>
/// A change to a scope's outgoing email settings (the SharePoint form), as an administrator states
/// it: every null field keeps what is stored. <see cref="ConnectionChange"/> changes the
/// connection the scope uses in the same step, as the form and <c>herald smtp set</c> do.
/// </summary>
public sealed record OutgoingSettingsUpdate(ScopePath Scope)
{
    /// <summary>The SMTP connection the scope is to use, as a <see cref="ConnectionReference"/>
    /// (<c>smarthost</c> or <c>/hr:smarthost</c>). Null: the one the scope's own settings name;
    /// with <see cref="ConnectionChange"/> and none named, the scope's own <c>default</c>.</summary>
    public string? Connection { get; init; }

    public ConnectionUpdate ConnectionChange { get; init; } = ConnectionUpdate.None;

    public bool? Enabled { get; init; }

    public string? FromAddress { get; init; }

    public string? FromName { get; init; }

    public string? ReplyTo { get; init; }

    public string? Charset { get; init; }

    public string? Impersonation { get; init; }
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
