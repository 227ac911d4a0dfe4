using System.DirectoryServices.Protocols;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Herald.Notifications.Sync;

namespace Herald.Ldap;

/// <summary>
/// Reads users and groups from an LDAP server (OpenLDAP, Active Directory) with
/// System.DirectoryServices.Protocols, which on Linux is libldap. The connection is TLS before the
/// bind: ldaps://, or StartTLS on ldap:// (refused if the server cannot); only a loopback server
/// may be plaintext, and only when the source says <c>tls: none</c>. Trust is the system's store,
/// or exactly the source's CA file (libldap takes a directory: the file is copied alone into a
/// private one named by its hash). Searches are paged (the source's page size), so a server's
/// size limit does not cut the result; a delta asks only for entries whose
/// <c>modifyTimestamp</c> (Active Directory: <c>uSNChanged</c>) is at or past the last mark.
/// Every failure is a sentence naming the step (TLS, bind, search) and never the password.
/// </summary>
public sealed class LdapDirectoryReader : IDirectorySourceReader
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public Task<(DirectoryEntries? Entries, string? Problem)> ReadAsync(
        DirectorySourceSettings settings, string bindPassword, string? deltaSince, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        // libldap's calls block: the whole read runs on a pool thread.
        return Task.Run(() => Read(settings, bindPassword, deltaSince, cancellationToken), cancellationToken);
    }

    private static (DirectoryEntries?, string?) Read(DirectorySourceSettings settings, string password, string? since, CancellationToken cancellationToken)
    {
        var uri = new Uri(settings.Url);
        var port = uri.IsDefaultPort || uri.Port < 0 ? (settings.Tls == DirectoryTls.Ldaps ? 636 : 389) : uri.Port;
        if (settings.Tls == DirectoryTls.None && !DirectorySourceRules.IsLoopback(uri.Host))
        {
            return (null, $"TLS 'none' is allowed only to a loopback server, not to {uri.Host}; nothing was sent.");
        }

        string? caDirectory = null;
        if (settings.CaFile is { } caFile)
        {
            if (!File.Exists(caFile))
            {
                return (null, $"The CA file {caFile} does not exist on this node; nothing was sent.");
            }

            caDirectory = PrivateCaDirectory(caFile);
            if (caDirectory is null)
            {
                return (null, $"The CA file {caFile} is not a PEM file of certificates (at most 1 MiB); nothing was sent.");
            }
        }

        using var connection = new LdapConnection(new LdapDirectoryIdentifier(uri.Host, port), new NetworkCredential(settings.BindDn, password), AuthType.Basic);
        connection.Timeout = Timeout;
        connection.AutoBind = false;
        var options = connection.SessionOptions;
        options.ProtocolVersion = 3;
        options.ReferralChasing = ReferralChasingOptions.None;
        var trust = caDirectory is null ? "the system's certificate store" : $"the CA in {settings.CaFile}";
        try
        {
            if (caDirectory is not null && OperatingSystem.IsWindows())
            {
                return (null, "A CA file is libldap's (Linux, macOS): on Windows, trust the directory's CA in the system store and set trust to 'system'.");
            }

            if (caDirectory is not null && !OperatingSystem.IsWindows())
            {
                options.TrustedCertificatesDirectory = caDirectory;
                options.StartNewTlsSessionContext();
            }

            if (settings.Tls == DirectoryTls.Ldaps)
            {
                options.SecureSocketLayer = true;
            }
            else if (settings.Tls == DirectoryTls.StartTls)
            {
                if (OpenConnection(connection) is { } unreachable)
                {
                    return (null, $"Could not connect to {uri.Host}:{port} ({unreachable}); nothing was sent.");
                }

                StartTls(options);
            }
        }
        catch (Exception ex) when (ex is LdapException or DirectoryOperationException or PlatformNotSupportedException)
        {
            return (null, $"TLS with {uri.Host}:{port} failed ({Describe(ex)}): the server's certificate is not trusted by {trust} or does not name {uri.Host}, " +
                (settings.Tls == DirectoryTls.StartTls ? "or the server does not offer StartTLS. " : "") + "Nothing was sent before TLS, and the bind was not attempted.");
        }

        try
        {
            connection.Bind();
        }
        catch (LdapException ex) when (ex.ErrorCode == 49)
        {
            return (null, $"The bind as {settings.BindDn} was refused (invalid credentials): check the bind DN and give the password again.");
        }
        catch (LdapException ex)
        {
            return (null, settings.Tls == DirectoryTls.Ldaps
                ? $"TLS with {uri.Host}:{port} or the bind failed ({Describe(ex)}): the server's certificate is not trusted by {trust}, does not name {uri.Host}, or the server is not reachable."
                : $"The bind as {settings.BindDn} at {uri.Host}:{port} failed ({Describe(ex)}).");
        }

        var map = settings.Attributes;
        var delta = settings.DeltaAttribute;
        var userFilter = since is null ? settings.UserFilter : $"(&{settings.UserFilter}{DeltaFilter(settings, since)})";
        var groupFilter = since is null ? settings.GroupFilter : $"(&{settings.GroupFilter}{DeltaFilter(settings, since)})";
        try
        {
            var users = Search(connection, settings, userFilter, [.. map.OfUsers(), delta], cancellationToken);
            var groups = Search(connection, settings, groupFilter, [.. map.OfGroups(), delta], cancellationToken);
            if (settings.Nested == NestedGroups.InChain)
            {
                groups = [.. groups.Select(group => InChain(connection, settings, group, cancellationToken))];
            }

            return (new DirectoryEntries(users, groups, Mark(settings, users.Concat(groups), since)), null);
        }
        catch (DirectoryOperationException ex)
        {
            return (null, $"A search of {uri.Host}:{port} failed ({Describe(ex)}): check the base DNs and filters.");
        }
        catch (LdapException ex)
        {
            return (null, $"A search of {uri.Host}:{port} failed ({Describe(ex)}).");
        }
    }

    /// <summary>libldap (as System.DirectoryServices.Protocols drives it on Linux) connects with the
    /// first operation, and StartTLS needs a connection: a read of the root DSE, which carries no
    /// credentials, opens it. A server that refuses that read anonymously has still connected.
    /// Null when connected; otherwise why not.</summary>
    private static string? OpenConnection(LdapConnection connection)
    {
        try
        {
            connection.SendRequest(new SearchRequest("", "(objectClass=*)", SearchScope.Base, "1.1"), Timeout);
            return null;
        }
        catch (DirectoryOperationException)
        {
            return null;
        }
        catch (LdapException ex)
        {
            return Describe(ex);
        }
    }

    /// <summary>StartTLS right after the root DSE read. slapd answers operationsError while it
    /// still counts that read as outstanding (it may send the result before it finishes the
    /// operation, and RFC 4511 forbids StartTLS with operations outstanding): tried again shortly.</summary>
    private static void StartTls(LdapSessionOptions options)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                options.StartTransportLayerSecurity(null);
                return;
            }
            catch (DirectoryOperationException ex) when (ex.Response?.ResultCode == ResultCode.OperationsError && attempt < 5)
            {
                Thread.Sleep(20 * attempt);
            }
        }
    }

    /// <summary>Every entry under every base DN matching the filter, a page at a time.</summary>
    private static List<DirectoryEntry> Search(LdapConnection connection, DirectorySourceSettings settings, string filter, string[] attributes, CancellationToken cancellationToken)
    {
        var entries = new List<DirectoryEntry>();
        foreach (var baseDn in settings.BaseDns)
        {
            var request = new SearchRequest(baseDn, filter, SearchScope.Subtree, attributes);
            var paging = new PageResultRequestControl(settings.PageSize) { IsCritical = true };
            request.Controls.Add(paging);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var response = (SearchResponse)connection.SendRequest(request, Timeout);
                foreach (SearchResultEntry entry in response.Entries)
                {
                    entries.Add(ToEntry(entry));
                }

                var cookie = response.Controls.OfType<PageResultResponseControl>().FirstOrDefault()?.Cookie;
                if (cookie is null || cookie.Length == 0)
                {
                    break;
                }

                paging.Cookie = cookie;
            }
        }

        return entries;
    }

    /// <summary>Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: the server lists every user in the
    /// group's chain of nested groups; they become the group's members (nesting flattened).</summary>
    private static DirectoryEntry InChain(LdapConnection connection, DirectorySourceSettings settings, DirectoryEntry group, CancellationToken cancellationToken)
    {
        var filter = $"(&{settings.UserFilter}(memberOf:1.2.840.113556.1.4.1941:={EscapeFilterValue(group.Dn)}))";
        var members = Search(connection, settings, filter, ["1.1"], cancellationToken).Select(e => e.Dn).ToArray();
        var attributes = new Dictionary<string, IReadOnlyList<string>>(group.Attributes, StringComparer.OrdinalIgnoreCase) { [settings.Attributes.Member] = members };
        return group with { Attributes = attributes };
    }

    private static DirectoryEntry ToEntry(SearchResultEntry entry)
    {
        var attributes = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (DirectoryAttribute attribute in entry.Attributes.Values)
        {
            attributes[attribute.Name] = attribute.GetValues(typeof(string)).Cast<string>().ToArray();
        }

        return new DirectoryEntry(entry.DistinguishedName, attributes);
    }

    private static string DeltaFilter(DirectorySourceSettings settings, string since) =>
        settings.Schema == DirectorySchema.ActiveDirectory
            ? $"(uSNChanged>={long.Parse(since, CultureInfo.InvariantCulture) + 1})"
            // Generalized time has whole seconds: entries of the mark's second are read again (harmless).
            : $"(modifyTimestamp>={EscapeFilterValue(since)})";

    /// <summary>The highest delta attribute seen (or the last mark when nothing changed).</summary>
    private static string? Mark(DirectorySourceSettings settings, IEnumerable<DirectoryEntry> entries, string? since)
    {
        var values = entries.Select(e => e.First(settings.DeltaAttribute)).OfType<string>();
        if (settings.Schema == DirectorySchema.ActiveDirectory)
        {
            var numbers = values.Select(v => long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1).Where(n => n >= 0).ToArray();
            return numbers.Length == 0 ? since : Math.Max(numbers.Max(), since is null ? 0 : long.Parse(since, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture);
        }

        // GeneralizedTime as slapd writes it (yyyyMMddHHmmssZ) orders as text.
        return values.Append(since).OfType<string>().Max(StringComparer.Ordinal);
    }

    /// <summary>RFC 4515: a value in a filter escapes * ( ) \ and NUL.</summary>
    private static string EscapeFilterValue(string value)
    {
        var escaped = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            escaped.Append(c switch
            {
                '*' => @"\2a",
                '(' => @"\28",
                ')' => @"\29",
                '\\' => @"\5c",
                '\0' => @"\00",
                _ => c.ToString(),
            });
        }

        return escaped.ToString();
    }

    /// <summary>A directory holding only the CA file, named by its content's hash: libldap trusts
    /// a directory of certificates, and this one holds exactly the source's.</summary>
    /// <remarks>Only certificates are copied (the path is an administrator's input: no other
    /// file of the node ends up in a temporary directory), into a directory only this user reads.</remarks>
    private static string? PrivateCaDirectory(string caFile)
    {
        if (new FileInfo(caFile).Length > 1024 * 1024)
        {
            return null;
        }

        var content = File.ReadAllBytes(caFile);
        var text = Encoding.ASCII.GetString(content);
        if (!text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal) || text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            return null;
        }

        var directory = Path.Combine(Path.GetTempPath(), $"herald-ldap-ca-{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var target = Path.Combine(directory, "ca.pem");
        if (!File.Exists(target) || !File.ReadAllBytes(target).AsSpan().SequenceEqual(content))
        {
            File.WriteAllBytes(target, content);
        }

        return directory;
    }

    private static string Describe(Exception ex) => ex switch
    {
        LdapException ldap => $"LDAP error {ldap.ErrorCode}: {ldap.Message}{(string.IsNullOrEmpty(ldap.ServerErrorMessage) ? "" : $" {ldap.ServerErrorMessage}")}",
        DirectoryOperationException operation => $"{operation.Response?.ResultCode}: {operation.Message}",
        _ => ex.Message,
    };
}
