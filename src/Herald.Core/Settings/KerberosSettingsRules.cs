using Herald.Access;

namespace Herald.Settings;

/// <summary>
/// What makes a connection's Kerberos settings valid, and how a change to them is applied. The
/// keytab and credential cache are files of the node: only an administrator of <c>/</c> may name
/// them (as only they bind listeners), since a path is a way to use any key the node can read and
/// the checks below would otherwise tell a scope administrator which files exist.
/// </summary>
internal static class KerberosSettingsRules
{
    /// <summary>A keytab holds a few keys per principal (a few hundred bytes each); anything larger is not one.</summary>
    public const long MaxKeytabBytes = 64 * 1024;

    /// <summary>A credential cache grows with the service tickets it holds.</summary>
    public const long MaxCredentialCacheBytes = 1024 * 1024;

    private const int MaxNameLength = 256;
    private const int MaxPathLength = 1024;

    /// <summary>The refusal for a caller who names node files without administering <c>/</c>.</summary>
    public static Refusal? RefuseNodeFiles(Caller caller, ConnectionUpdate change)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return change?.Authentication is AuthenticationChange.ToKerberos { Kerberos: var k } && (k.Keytab is not null || k.CredentialCache is not null) && !caller.AdministersRoot
            ? Refusal.NotAllowed($"{caller.Description} may not name a keytab or credential cache: they are files on every node, and only administrators of / choose them.")
            : null;
    }

    public static SmtpConnection Apply(SmtpConnection connection, AuthenticationChange.ToKerberos change, List<FieldError> errors)
    {
        var current = connection.Authentication;
        var before = current.Kerberos;
        var c = change.Kerberos;

        var userName = change.UserName?.Trim() ?? (before is null ? null : current.UserName);
        if (string.IsNullOrEmpty(userName) || !IsPrincipal(userName, allowInstance: true))
        {
            errors.Add(new("username", "Kerberos needs the service account's principal as the user name (svc-herald or svc-herald@CORP.EXAMPLE.COM), at most 256 characters without spaces."));
            return connection;
        }

        var realm = c.Realm?.Trim() ?? before?.Realm ?? RealmOf(userName);
        if (string.IsNullOrEmpty(realm) || realm.Length > MaxNameLength || !realm.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '-' or '_'))
        {
            errors.Add(new("kerberosRealm", "Kerberos needs the realm (CORP.EXAMPLE.COM: the Active Directory domain in capitals), letters, digits, '.', '-' and '_' only."));
            return connection;
        }

        var settings = before is null ? new KerberosSettings { Realm = realm } : before with { Realm = realm };

        if (c.Keytab is not null && c.CredentialCache is not null)
        {
            errors.Add(new("keytab", "Give a keytab or a credential cache, not both."));
            return connection;
        }

        if (c.Keytab is { } keytab)
        {
            keytab = keytab.Trim();
            if (CheckFile(keytab, "keytab", MaxKeytabBytes, errors) is { } header && !(header.Length >= 2 && header[0] == 5 && header[1] == 2))
            {
                errors.Add(new("keytab", $"{keytab} is not a keytab (a keytab made by ktutil, kadmin or ktpass begins with the bytes 05 02)."));
            }

            settings = settings with { Keytab = keytab, CredentialCache = null };
        }
        else if (c.CredentialCache is { } cache)
        {
            cache = cache.Trim();
            var file = cache.StartsWith("FILE:", StringComparison.Ordinal) ? cache[5..] : cache;
            if (cache.StartsWith("KCM:", StringComparison.Ordinal) || cache.StartsWith("KEYRING:", StringComparison.Ordinal))
            {
                if (cache.Length > MaxPathLength || cache.Any(char.IsControl))
                {
                    errors.Add(new("credentialCache", $"A credential cache name is at most {MaxPathLength} characters on one line."));
                }
            }
            else if (file.Contains(':', StringComparison.Ordinal))
            {
                errors.Add(new("credentialCache", $"'{Shorten(cache)}' is not a credential cache Herald can share between its threads: use a file (FILE:/path or /path), KCM: or KEYRING:."));
            }
            else
            {
                CheckFile(file, "credentialCache", MaxCredentialCacheBytes, errors);
            }

            settings = settings with { CredentialCache = cache, Keytab = null };
        }
        else if (settings.Keytab is null && settings.CredentialCache is null)
        {
            errors.Add(new("keytab", "Kerberos needs the service account's keytab (--keytab FILE) or a credential cache that holds its ticket (--credential-cache FILE)."));
        }

        if (c.ServicePrincipal is { } principal)
        {
            principal = principal.Trim();
            if (principal.Length == 0)
            {
                settings = settings with { ServicePrincipal = null };
            }
            else if (!IsPrincipal(principal, allowInstance: true) || !principal.Contains('/', StringComparison.Ordinal))
            {
                errors.Add(new("servicePrincipal", $"'{Shorten(principal)}' is not a service principal: write service/host (SMTPSVC/mail.corp.example.com), optionally with @REALM."));
            }
            else
            {
                settings = settings with { ServicePrincipal = principal };
            }
        }

        return connection with
        {
            Authentication = new SmtpAuthentication(userName, ["GSSAPI"], null) { Kerberos = settings },
        };
    }

    /// <summary>Opens the file as the sender will: a sentence by <paramref name="field"/> when it
    /// cannot, or its first bytes.</summary>
    private static byte[]? CheckFile(string path, string field, long maxBytes, List<FieldError> errors)
    {
        if (path.Length is 0 or > MaxPathLength || path.Any(char.IsControl) || !Path.IsPathFullyQualified(path))
        {
            errors.Add(new(field, $"Give the full path of the file (at most {MaxPathLength} characters), as every node has it: /etc/herald/herald.keytab."));
            return null;
        }

        try
        {
            // Length first: a directory is not a file, and a FIFO or device (length 0) is never opened, so a save cannot block on one.
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                errors.Add(new(field, $"{path} does not exist on this node."));
                return null;
            }

            if (info.Length == 0 || info.Length > maxBytes)
            {
                errors.Add(new(field, info.Length == 0
                    ? $"{path} is empty or not a regular file."
                    : $"{path} is larger ({info.Length:N0} bytes) than a {(field == "keytab" ? "keytab" : "credential cache")} can be ({maxBytes:N0})."));
                return null;
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var header = new byte[2];
            return header[..stream.Read(header)];
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            errors.Add(new(field, $"{path} does not exist on this node."));
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            errors.Add(new(field, $"{path} cannot be read by the account Herald runs as: give it read access (and nobody else)."));
        }

        return null;
    }

    /// <summary><c>name</c>, <c>name/instance</c>, either with <c>@REALM</c>.</summary>
    private static bool IsPrincipal(string text, bool allowInstance)
    {
        if (text.Length > MaxNameLength || text.Any(ch => char.IsControl(ch) || char.IsWhiteSpace(ch) || ch == '\\'))
        {
            return false;
        }

        var parts = text.Split('@');
        if (parts.Length > 2 || parts.Any(p => p.Length == 0))
        {
            return false;
        }

        var components = parts[0].Split('/');
        return components.All(p => p.Length > 0) && (components.Length == 1 || (allowInstance && components.Length == 2));
    }

    private static string? RealmOf(string principal)
    {
        var at = principal.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? null : principal[(at + 1)..];
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
