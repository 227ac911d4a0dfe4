using System.Text;
using Herald.Access;
using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Bounces;

/// <summary>A bounce mailbox as a door received it: every field optional and unparsed. Fields left
/// out keep what is stored; a new mailbox needs protocol, host, domain, user name and password.</summary>
/// <param name="TrustCaPem">A CA certificate (PEM) the server's chain must end at.</param>
/// <param name="TrustThumbprint">The SHA-256 thumbprint of the one server certificate accepted.</param>
/// <param name="TrustSystem">Back to the operating system's roots.</param>
public sealed record BounceMailboxUpdate(
    string? Scope,
    string? Protocol = null,
    string? Host = null,
    int? Port = null,
    string? Security = null,
    string? Domain = null,
    string? Folder = null,
    string? UserName = null,
    string? Password = null,
    string? TrustCaPem = null,
    string? TrustThumbprint = null,
    bool TrustSystem = false);

/// <summary>A bounce mailbox as it is shown: its secrets only as "set" or not.</summary>
public sealed record BounceMailboxView(
    ScopePath Scope,
    string Protocol,
    string Host,
    int Port,
    string Security,
    string Trust,
    string Domain,
    string Folder,
    bool UserNameSet,
    bool PasswordSet,
    string? LastOutcome,
    DateTimeOffset? LastReadAt)
{
    public static BounceMailboxView Of(BounceMailbox mailbox)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        var s = mailbox.Settings;
        return new BounceMailboxView(
            mailbox.Scope, MailboxNames.Protocols.NameOf(s.Protocol), s.Host, s.Port, MailboxNames.Securities.NameOf(s.Security),
            ServerTrust.ModeNames.NameOf(s.Trust.Mode), s.Domain, s.Folder, mailbox.UserName is not null, mailbox.Password is not null,
            mailbox.LastOutcome, mailbox.LastReadAt);
    }
}

/// <summary>What reading a bounce mailbox now did: its <see cref="Report"/>, or the
/// <see cref="Problem"/> that stopped it (the server could not be reached, refused the sign-in…),
/// in one sentence without secrets.</summary>
public sealed record BounceReadNow(ScopePath Scope, BounceReadReport? Report, string? Problem)
{
    public string Summary => Report?.Summary ?? $"Could not read the mailbox: {Problem}";
}

/// <summary>
/// A scope's bounce mailbox, given the caller: administrators of the scope (or above it) set,
/// show and remove it. Its user name and password are sealed with the credential key before they
/// reach the store and never returned. As with SMTP connections, a secret goes only where it was
/// entered for: changing the host or port, or lowering the security, drops the stored user name
/// and password unless new ones come with the change. Reading it now (as <c>herald serve</c>
/// does continuously) is theirs too.
/// </summary>
public sealed class BounceMailboxService(IBounceStore store, ISettingsStore settings, BounceDomains domains, CredentialVault vault, BounceReader reader, TimeProvider time)
{
    public const int MaxHostLength = 253;
    public const int MaxFolderLength = 200;
    public const int MaxUserNameLength = 256;
    public const int MaxPasswordLength = 1024;

    public async Task<Result<BounceMailboxView>> ShowAsync(Caller caller, string? scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (Refuse(caller, scope, "read the bounce mailbox of", out var path) is { } refusal)
        {
            return refusal;
        }

        return await store.FindAsync(path, cancellationToken).ConfigureAwait(false) is { } mailbox
            ? BounceMailboxView.Of(mailbox)
            : Missing(path);
    }

    public async Task<Result<Saved<BounceMailboxView>>> SetAsync(Caller caller, BounceMailboxUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(update);
        if (Refuse(caller, update.Scope, "change the bounce mailbox of", out var scope) is { } refusal)
        {
            return refusal;
        }

        var errors = new List<FieldError>();
        var existing = await store.FindAsync(scope, cancellationToken).ConfigureAwait(false);
        var old = existing?.Settings;
        var protocol = Parse(update.Protocol, MailboxNames.Protocols, "protocol", old?.Protocol, errors);
        var security = Parse(update.Security, MailboxNames.Securities, "security", old?.Security, errors) ?? MailboxSecurity.ImplicitTls;
        var host = update.Host?.Trim() ?? old?.Host;
        if (host is null || host.Length is 0 or > MaxHostLength || Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            errors.Add(new("host", "The host is a host name or IP address of at most 253 characters."));
        }

        var port = update.Port ?? (update.Protocol is null && update.Security is null ? old?.Port : null) ?? DefaultPort(protocol ?? MailboxProtocol.Imap, security);
        if (port is < 1 or > 65535)
        {
            errors.Add(new("port", "The port is 1 to 65535."));
        }

        var domain = update.Domain?.Trim().TrimEnd('.').ToLowerInvariant() ?? old?.Domain;
        if (domain is null || domain.Length is 0 or > MaxHostLength || domain.Contains('@', StringComparison.Ordinal) || Uri.CheckHostName(domain) != UriHostNameType.Dns)
        {
            errors.Add(new("domain", "The bounce domain is a domain name (bounces+TOKEN@domain must reach this mailbox)."));
        }

        var folder = update.Folder?.Trim() ?? old?.Folder ?? "INBOX";
        if (folder.Length is 0 or > MaxFolderLength || folder.Any(char.IsControl))
        {
            errors.Add(new("folder", $"The folder is 1 to {MaxFolderLength} characters on one line."));
        }

        var trust = Trust(update, old?.Trust, errors);
        CheckSecret(update.UserName, "userName", MaxUserNameLength, errors);
        CheckSecret(update.Password, "password", MaxPasswordLength, errors);
        if (errors.Count > 0 || protocol is null || host is null || domain is null || trust is null)
        {
            if (protocol is null && !errors.Any(e => e.Field == "protocol"))
            {
                errors.Add(new("protocol", $"The protocol is one of {string.Join(", ", MailboxNames.Protocols.Names)}."));
            }

            return Refusal.Invalid(errors, "The bounce mailbox is not valid; nothing was saved.");
        }

        var settings1 = new BounceMailboxSettings(protocol.Value, host, port, security, trust, domain, folder);
        // A secret goes only where it was entered for.
        var moved = old is not null && (!string.Equals(old.Host, host, StringComparison.OrdinalIgnoreCase) || old.Port != port || Weaker(security, old.Security));
        var userName = moved ? null : existing?.UserName;
        var password = moved ? null : existing?.Password;
        if (update.UserName is not null || update.Password is not null)
        {
            var status = await vault.GetKeyAsync(initializeDatabase: true, cancellationToken).ConfigureAwait(false);
            if (status.Key is not { } key)
            {
                return Refusal.Invalid("password", status.Problem!);
            }

            if (update.UserName is not null)
            {
                userName = key.Seal(Encoding.UTF8.GetBytes(update.UserName), SecretNames.BounceMailboxUserName(scope.Value));
            }

            if (update.Password is not null)
            {
                password = key.Seal(Encoding.UTF8.GetBytes(update.Password), SecretNames.BounceMailboxPassword(scope.Value));
            }
        }

        if (userName is null || password is null)
        {
            return Refusal.Invalid(
                [new(userName is null ? "userName" : "password", moved
                    ? "The host, port or security changed, so the stored user name and password were not kept: give both again."
                    : "A bounce mailbox needs a user name and a password.")],
                "The bounce mailbox is not valid; nothing was saved.");
        }

        if (!await settings.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Invalid([ScopeService.Missing(scope)], "The bounce mailbox is not valid; nothing was saved.");
        }

        var mailbox = new BounceMailbox(scope, settings1) { UserName = userName, Password = password, LastOutcome = existing?.LastOutcome, LastReadAt = existing?.LastReadAt };
        var created = await store.SaveAsync(mailbox, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        domains.Invalidate();
        return new Saved<BounceMailboxView>(BounceMailboxView.Of(mailbox), created);
    }

    public async Task<Refusal?> RemoveAsync(Caller caller, string? scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (Refuse(caller, scope, "remove the bounce mailbox of", out var path) is { } refusal)
        {
            return refusal;
        }

        if (!await store.RemoveAsync(path, cancellationToken).ConfigureAwait(false))
        {
            return Missing(path);
        }

        domains.Invalidate();
        return null;
    }

    /// <summary>Reads the scope's mailbox once, now, on this node: what it found, or why the
    /// server could not be read (which is recorded as the mailbox's last outcome too). Refused
    /// while another node holds the mailbox's lease.</summary>
    public async Task<Result<BounceReadNow>> ReadNowAsync(Caller caller, string? scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (Refuse(caller, scope, "read the bounce mailbox of", out var path) is { } refusal)
        {
            return refusal;
        }

        if (await store.FindAsync(path, cancellationToken).ConfigureAwait(false) is null)
        {
            return Missing(path);
        }

        try
        {
            return await reader.ReadOnceAsync(path, cancellationToken).ConfigureAwait(false) is { } report
                ? new BounceReadNow(path, report, null)
                : Refusal.Conflict("Another node is reading this mailbox now.");
        }
        catch (BounceMailboxException ex)
        {
            // The message names the server and what it said, never the secrets.
            return new BounceReadNow(path, null, ex.Message);
        }
    }

    /// <summary>Why the caller may not <paramref name="doing"/> the mailbox of <paramref name="scope"/>
    /// (a malformed scope, or one it does not administer); null when it may.</summary>
    private static Refusal? Refuse(Caller caller, string? scope, string doing, out ScopePath path) =>
        !ScopePath.TryParse(scope, out path, out var error)
            ? Refusal.Invalid("scope", error)
            : caller.RefuseUnlessAdministers(path, $"{doing} {path}");

    private static Refusal Missing(ScopePath scope) => Refusal.NotFound($"The scope {scope} has no bounce mailbox of its own.");

    private static int DefaultPort(MailboxProtocol protocol, MailboxSecurity security) => (protocol, security) switch
    {
        (MailboxProtocol.Imap, MailboxSecurity.ImplicitTls) => 993,
        (MailboxProtocol.Imap, _) => 143,
        (MailboxProtocol.Pop3, MailboxSecurity.ImplicitTls) => 995,
        _ => 110,
    };

    /// <summary>Implicit TLS and STARTTLS both encrypt before the password; only none is weaker.</summary>
    private static bool Weaker(MailboxSecurity now, MailboxSecurity before) => now == MailboxSecurity.None && before != MailboxSecurity.None;

    private static T? Parse<T>(string? text, NamedValues<T> names, string field, T? stored, List<FieldError> errors)
        where T : struct, Enum
    {
        if (text is null)
        {
            return stored;
        }

        if (text.Length <= 32 && names.TryParse(text.Trim(), out var value))
        {
            return value;
        }

        errors.Add(new(field, $"The {field} is one of {string.Join(", ", names.Names)}."));
        return null;
    }

    private static ServerTrust? Trust(BounceMailboxUpdate update, ServerTrust? stored, List<FieldError> errors)
    {
        var given = (update.TrustCaPem is not null ? 1 : 0) + (update.TrustThumbprint is not null ? 1 : 0) + (update.TrustSystem ? 1 : 0);
        if (given > 1)
        {
            errors.Add(new("trust", "Give one of: a pinned CA, a pinned thumbprint, or the system's roots."));
            return null;
        }

        if (update.TrustCaPem is { } pem)
        {
            if (ServerTrusts.TryPinCa(pem, "trustCa", out var pinned, out var error))
            {
                return pinned;
            }

            errors.Add(new("trustCa", error));
            return null;
        }

        if (update.TrustThumbprint is { } thumbprint)
        {
            if (ServerTrusts.TryPinThumbprint(thumbprint, out var pinned, out var error))
            {
                return pinned;
            }

            errors.Add(new("trustThumbprint", error));
            return null;
        }

        return update.TrustSystem ? ServerTrust.System : stored ?? ServerTrust.System;
    }

    private static void CheckSecret(string? value, string field, int max, List<FieldError> errors)
    {
        if (value is not null && (value.Length == 0 || value.Length > max || value.Any(char.IsControl)))
        {
            errors.Add(new(field, $"The {(field == "userName" ? "user name" : "password")} is 1 to {max:N0} characters on one line."));
        }
    }
}
