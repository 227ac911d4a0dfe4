using System.Net;
using System.Text.RegularExpressions;

namespace Herald.Notifications.Sync;

/// <summary>A change to a directory source (CLI, API); a null field keeps the stored value, or for
/// a new source takes the default of its schema. <see cref="TimeZoneAttribute"/> and
/// <see cref="LanguageAttribute"/> given as "" map nothing.</summary>
public sealed record DirectorySourceUpdate(string? Name)
{
    public string? Url { get; init; }

    public string? Tls { get; init; }

    /// <summary>"system" (or "") trusts the system's store; otherwise a PEM file's absolute path.</summary>
    public string? Trust { get; init; }

    public string? BindDn { get; init; }

    public IReadOnlyList<string>? BaseDns { get; init; }

    public string? Schema { get; init; }

    public string? UserFilter { get; init; }

    public string? GroupFilter { get; init; }

    public string? IdAttribute { get; init; }

    public string? NameAttribute { get; init; }

    public string? MailAttribute { get; init; }

    public string? TimeZoneAttribute { get; init; }

    public string? LanguageAttribute { get; init; }

    public string? GroupIdAttribute { get; init; }

    public string? GroupNameAttribute { get; init; }

    public string? MemberAttribute { get; init; }

    public string? Nested { get; init; }

    public int? PageSize { get; init; }

    public int? RemovalLimitPercent { get; init; }

    public int? GraceDays { get; init; }

    public int? IntervalMinutes { get; init; }

    public int? FullSyncHours { get; init; }
}

/// <summary>The settings a source update leads to, with every problem found by field (pure).</summary>
public static partial class DirectorySourceRules
{
    public const int MaxDnLength = 1024;
    public const int MaxFilterLength = 4096;
    public const int MaxBaseDns = 20;
    public const int MaxPageSize = 10_000;
    public const int MaxGraceDays = 3650;
    public const int MaxIntervalMinutes = 7 * 24 * 60;
    public const int MaxFullSyncHours = 365 * 24;
    public const int MaxPasswordLength = 1024;

    public static readonly IReadOnlyDictionary<DirectorySchema, (string Users, string Groups)> DefaultFilters = new Dictionary<DirectorySchema, (string, string)>
    {
        [DirectorySchema.OpenLdap] = ("(objectClass=inetOrgPerson)", "(objectClass=groupOfNames)"),
        // Accounts disabled in Active Directory (userAccountControl bit 2) are left out: they are disabled here too.
        [DirectorySchema.ActiveDirectory] = ("(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))", "(objectClass=group)"),
    };

    public static DirectorySourceSettings? Apply(DirectorySourceSettings? existing, DirectorySourceUpdate update, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;

        var schema = existing?.Schema ?? DirectorySchema.OpenLdap;
        if (update.Schema is not null && !DirectorySourceNames.Schema.TryParse(update.Schema, out var schemaError, out schema))
        {
            errors.Add(new("schema", $"Schema {schemaError}"));
        }

        var url = existing?.Url;
        Uri? uri = null;
        if (update.Url is not null || existing is null)
        {
            if (!Uri.TryCreate(update.Url?.Trim(), UriKind.Absolute, out uri) || uri.Scheme is not ("ldap" or "ldaps") || uri.Host.Length == 0
                || uri.PathAndQuery is not ("/" or "") || uri.UserInfo.Length > 0 || update.Url!.Length > 300)
            {
                errors.Add(new("url", "The URL must be ldaps://host[:port] or ldap://host[:port] (with StartTLS), without a path or credentials."));
                uri = null;
            }
            else
            {
                url = $"{uri.Scheme}://{uri.Authority}";
            }
        }
        else
        {
            uri = new Uri(url!);
        }

        var tls = existing?.Tls ?? (uri?.Scheme == "ldaps" ? DirectoryTls.Ldaps : DirectoryTls.StartTls);
        if (update.Tls is not null && !DirectorySourceNames.Tls.TryParse(update.Tls, out var tlsError, out tls))
        {
            errors.Add(new("tls", $"TLS {tlsError}"));
        }
        else if (update.Url is not null && update.Tls is null && existing is not null)
        {
            // A new URL's scheme decides anew, unless the update says otherwise.
            tls = uri?.Scheme == "ldaps" ? DirectoryTls.Ldaps : tls == DirectoryTls.Ldaps ? DirectoryTls.StartTls : tls;
        }

        if (uri is not null && !errors.Any(e => e.Field == "tls"))
        {
            if (tls == DirectoryTls.Ldaps && uri.Scheme != "ldaps")
            {
                errors.Add(new("tls", "TLS 'ldaps' needs an ldaps:// URL."));
            }
            else if (tls != DirectoryTls.Ldaps && uri.Scheme == "ldaps")
            {
                errors.Add(new("tls", "An ldaps:// URL is TLS from the first byte: its TLS is 'ldaps'."));
            }
            else if (tls == DirectoryTls.None && !IsLoopback(uri.Host))
            {
                errors.Add(new("tls", $"TLS 'none' sends the bind password in the clear: it is allowed only to a server on this machine's loopback, not to {uri.Host}. Use StartTLS or ldaps://."));
            }
        }

        var caFile = existing?.CaFile;
        if (update.Trust is not null)
        {
            var trust = update.Trust.Trim();
            if (trust.Length == 0 || trust == "system")
            {
                caFile = null;
            }
            else if (!Path.IsPathFullyQualified(trust) || trust.Length > 4096 || trust.Any(char.IsControl))
            {
                errors.Add(new("trust", "Trust is 'system' or the absolute path of a PEM file of the certificate authorities to trust."));
            }
            else
            {
                caFile = trust;
            }
        }

        var bindDn = existing?.BindDn;
        if (update.BindDn is not null || existing is null)
        {
            bindDn = CheckDn(update.BindDn, "bindDn", errors);
        }

        var baseDns = existing?.BaseDns;
        if (update.BaseDns is not null || existing is null)
        {
            var list = update.BaseDns ?? [];
            if (list.Count is 0 or > MaxBaseDns)
            {
                errors.Add(new("baseDns", $"Give 1 to {MaxBaseDns} base DNs to search under."));
            }

            baseDns = list.Select((dn, i) => CheckDn(dn, $"baseDns[{i}]", errors)).OfType<string>().ToArray();
        }

        var (userFilter, groupFilter) = DefaultFilters[schema];
        userFilter = CheckFilter(update.UserFilter, existing?.Schema == schema ? existing.UserFilter : userFilter, "userFilter", errors);
        groupFilter = CheckFilter(update.GroupFilter, existing?.Schema == schema ? existing.GroupFilter : groupFilter, "groupFilter", errors);

        var defaults = existing?.Schema == schema ? existing.Attributes : DirectoryAttributes.For(schema);
        var attributes = new DirectoryAttributes(
            Attribute(update.IdAttribute, defaults.Id, "idAttribute", errors, optional: false)!,
            Attribute(update.NameAttribute, defaults.Name, "nameAttribute", errors, optional: false)!,
            Attribute(update.MailAttribute, defaults.Mail, "mailAttribute", errors, optional: false)!,
            Attribute(update.TimeZoneAttribute, defaults.TimeZone, "timeZoneAttribute", errors, optional: true),
            Attribute(update.LanguageAttribute, defaults.Language, "languageAttribute", errors, optional: true),
            Attribute(update.GroupIdAttribute, defaults.GroupId, "groupIdAttribute", errors, optional: false)!,
            Attribute(update.GroupNameAttribute, defaults.GroupName, "groupNameAttribute", errors, optional: false)!,
            Attribute(update.MemberAttribute, defaults.Member, "memberAttribute", errors, optional: false)!);

        var nested = existing?.Nested ?? NestedGroups.Member;
        if (update.Nested is not null && !DirectorySourceNames.Nested.TryParse(update.Nested, out var nestedError, out nested))
        {
            errors.Add(new("nested", $"Nested groups {nestedError}"));
        }

        if (nested == NestedGroups.InChain && schema != DirectorySchema.ActiveDirectory && !errors.Any(e => e.Field is "nested" or "schema"))
        {
            errors.Add(new("nested", "Nested groups 'in-chain' (LDAP_MATCHING_RULE_IN_CHAIN) is Active Directory's: use schema active-directory, or 'member'."));
        }

        var pageSize = Range(update.PageSize, existing?.PageSize ?? DirectorySourceSettings.DefaultPageSize, 1, MaxPageSize, "pageSize", "The page size", errors);
        var limit = Range(update.RemovalLimitPercent, existing?.RemovalLimitPercent ?? DirectorySourceSettings.DefaultRemovalLimitPercent, 0, 100, "removalLimitPercent", "The removal limit", errors);
        var grace = Range(update.GraceDays, existing?.GraceDays ?? DirectorySourceSettings.DefaultGraceDays, 0, MaxGraceDays, "graceDays", "The grace period", errors);
        var interval = Range(update.IntervalMinutes, existing?.IntervalMinutes ?? DirectorySourceSettings.DefaultIntervalMinutes, 0, MaxIntervalMinutes, "intervalMinutes", "The interval", errors);
        var full = Range(update.FullSyncHours, existing?.FullSyncHours ?? DirectorySourceSettings.DefaultFullSyncHours, 1, MaxFullSyncHours, "fullSyncHours", "The full sync interval", errors);

        return errors.Count > before ? null : new DirectorySourceSettings
        {
            Url = url!,
            Tls = tls,
            CaFile = caFile,
            BindDn = bindDn!,
            BaseDns = baseDns!,
            Schema = schema,
            UserFilter = userFilter,
            GroupFilter = groupFilter,
            Attributes = attributes,
            Nested = nested,
            PageSize = pageSize,
            RemovalLimitPercent = limit,
            GraceDays = grace,
            IntervalMinutes = interval,
            FullSyncHours = full,
        };
    }

    /// <summary>127.0.0.0/8, ::1 and localhost: the only hosts a plaintext bind may go to.</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private static string? CheckDn(string? dn, string field, List<FieldError> errors)
    {
        var trimmed = dn?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > MaxDnLength || trimmed.Any(char.IsControl) || !trimmed.Contains('=', StringComparison.Ordinal))
        {
            errors.Add(new(field, $"A DN such as cn=herald,ou=services,dc=example,dc=org is required: 1 to {MaxDnLength} characters on one line."));
            return null;
        }

        return trimmed;
    }

    private static string CheckFilter(string? filter, string fallback, string field, List<FieldError> errors)
    {
        if (filter is null)
        {
            return fallback;
        }

        var trimmed = filter.Trim();
        var depth = 0;
        var balanced = true;
        foreach (var c in trimmed)
        {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            balanced &= depth >= 0;
        }

        if (trimmed.Length is 0 or > MaxFilterLength || !trimmed.StartsWith('(') || !trimmed.EndsWith(')') || depth != 0 || !balanced || trimmed.Any(char.IsControl))
        {
            errors.Add(new(field, $"An LDAP filter in parentheses, such as (objectClass=inetOrgPerson), is required: at most {MaxFilterLength} characters, parentheses balanced."));
            return fallback;
        }

        return trimmed;
    }

    private static string? Attribute(string? text, string? fallback, string field, List<FieldError> errors, bool optional)
    {
        if (text is null)
        {
            return fallback;
        }

        var trimmed = text.Trim();
        if (trimmed.Length == 0 && optional)
        {
            return null;
        }

        if (!AttributeName().IsMatch(trimmed))
        {
            errors.Add(new(field, $"'{DirectoryIds.Printable(text)}' is not an LDAP attribute name (a letter, then up to 63 letters, digits or '-')."));
            return fallback;
        }

        return trimmed;
    }

    private static int Range(int? value, int fallback, int min, int max, string field, string what, List<FieldError> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        if (value < min || value > max)
        {
            errors.Add(new(field, $"{what} is {min:N0} to {max:N0}."));
            return fallback;
        }

        return value.Value;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9-]{0,63}$")]
    private static partial Regex AttributeName();
}
