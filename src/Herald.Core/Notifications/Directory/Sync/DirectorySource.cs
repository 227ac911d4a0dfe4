using Herald.Credentials;
using Herald.Settings;

namespace Herald.Notifications.Sync;

/// <summary>How the connection to the directory server is protected.</summary>
public enum DirectoryTls
{
    /// <summary><c>ldaps://</c>: TLS from the first byte.</summary>
    Ldaps,

    /// <summary><c>ldap://</c> upgraded with StartTLS before the bind; refused if the server cannot.</summary>
    StartTls,

    /// <summary>Plaintext: only to a server on this machine's loopback (a test's slapd).</summary>
    None,
}

/// <summary>Which kind of server a source is: its default attributes, filters and delta mark.</summary>
public enum DirectorySchema
{
    OpenLdap,
    ActiveDirectory,
}

/// <summary>How nested groups are found: by following <c>member</c> values that name groups
/// (any server; Herald expands them), or, on Active Directory, by asking the server for every
/// user in the group's chain (LDAP_MATCHING_RULE_IN_CHAIN), which also finds members outside the
/// group filter's groups.</summary>
public enum NestedGroups
{
    Member,
    InChain,
}

public static class DirectorySourceNames
{
    public static readonly NamedValues<DirectoryTls> Tls = new((DirectoryTls.Ldaps, "ldaps"), (DirectoryTls.StartTls, "starttls"), (DirectoryTls.None, "none"));

    public static readonly NamedValues<DirectorySchema> Schema = new((DirectorySchema.OpenLdap, "openldap"), (DirectorySchema.ActiveDirectory, "active-directory"));

    public static readonly NamedValues<NestedGroups> Nested = new((NestedGroups.Member, "member"), (NestedGroups.InChain, "in-chain"));
}

/// <summary>Which LDAP attribute holds each field. <see cref="TimeZone"/> and <see cref="Language"/>
/// are optional: when a source maps none (or an entry has none), a user keeps what Herald has.</summary>
public sealed record DirectoryAttributes(string Id, string Name, string Mail, string? TimeZone, string? Language, string GroupId, string GroupName, string Member)
{
    /// <summary>OpenLDAP's inetOrgPerson and groupOfNames.</summary>
    public static readonly DirectoryAttributes OpenLdap = new("uid", "cn", "mail", null, "preferredLanguage", "cn", "cn", "member");

    /// <summary>Active Directory's user and group objects.</summary>
    public static readonly DirectoryAttributes ActiveDirectory = new("sAMAccountName", "displayName", "mail", null, "preferredLanguage", "sAMAccountName", "cn", "member");

    public static DirectoryAttributes For(DirectorySchema schema) => schema == DirectorySchema.ActiveDirectory ? ActiveDirectory : OpenLdap;

    public IEnumerable<string> OfUsers() => new[] { Id, Name, Mail, TimeZone, Language }.OfType<string>().Distinct(StringComparer.OrdinalIgnoreCase);

    public IEnumerable<string> OfGroups() => new[] { GroupId, GroupName, Member }.Distinct(StringComparer.OrdinalIgnoreCase);
}

/// <summary>A directory source's settings: everything but its bind password. Stored as one JSON
/// document per source; every node reads the same.</summary>
public sealed record DirectorySourceSettings
{
    public const int DefaultPageSize = 500;
    public const int DefaultRemovalLimitPercent = 10;
    public const int DefaultGraceDays = 30;
    public const int DefaultIntervalMinutes = 60;
    public const int DefaultFullSyncHours = 24;

    /// <summary><c>ldaps://host[:port]</c> or <c>ldap://host[:port]</c>.</summary>
    public required string Url { get; init; }

    public DirectoryTls Tls { get; init; } = DirectoryTls.StartTls;

    /// <summary>A PEM file of the certificate authorities to trust; null trusts the system's store.</summary>
    public string? CaFile { get; init; }

    public required string BindDn { get; init; }

    public required IReadOnlyList<string> BaseDns { get; init; }

    public DirectorySchema Schema { get; init; } = DirectorySchema.OpenLdap;

    public required string UserFilter { get; init; }

    public required string GroupFilter { get; init; }

    public required DirectoryAttributes Attributes { get; init; }

    public NestedGroups Nested { get; init; } = NestedGroups.Member;

    public int PageSize { get; init; } = DefaultPageSize;

    /// <summary>A sync that would disable (or remove) more than this share of the source's users
    /// or groups stops and changes nothing.</summary>
    public int RemovalLimitPercent { get; init; } = DefaultRemovalLimitPercent;

    /// <summary>How long a user gone from the source stays disabled before it is removed.</summary>
    public int GraceDays { get; init; } = DefaultGraceDays;

    /// <summary>How often <c>herald serve</c> syncs (0: never; only <c>herald directory sync</c>).</summary>
    public int IntervalMinutes { get; init; } = DefaultIntervalMinutes;

    /// <summary>Scheduled syncs between full ones read only what changed (deltas); a full one,
    /// the only kind that finds deletions, runs at least this often.</summary>
    public int FullSyncHours { get; init; } = DefaultFullSyncHours;

    /// <summary>The operational attribute a delta sync asks for: what changed since the last mark.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string DeltaAttribute => Schema == DirectorySchema.ActiveDirectory ? "uSNChanged" : "modifyTimestamp";
}

/// <summary>A directory users and groups are synced from. <see cref="BindPassword"/> is sealed
/// with the credential key (a row of the secrets table, so a key rotation re-seals it) and never
/// printed or returned.</summary>
public sealed record DirectorySource(string Name, DirectorySourceSettings Settings)
{
    public EncryptedSecret? BindPassword { get; init; }

    /// <summary>Where the next delta sync starts (the highest <see cref="DirectorySourceSettings.DeltaAttribute"/> seen).</summary>
    public string? DeltaMark { get; init; }

    public DateTimeOffset? LastSyncAt { get; init; }

    public DateTimeOffset? LastFullSyncAt { get; init; }

    /// <summary>The last sync's outcome in one sentence (counts, or why it stopped or failed).</summary>
    public string? LastOutcome { get; init; }
}

/// <summary>An entry read from the directory: its DN and the attributes asked for (names
/// compared ignoring case, as LDAP does).</summary>
public sealed record DirectoryEntry(string Dn, IReadOnlyDictionary<string, IReadOnlyList<string>> Attributes)
{
    public string? First(string? attribute) =>
        attribute is not null && Attributes.TryGetValue(attribute, out var values) && values.Count > 0 ? values[0] : null;

    public IReadOnlyList<string> All(string attribute) => Attributes.TryGetValue(attribute, out var values) ? values : [];
}

/// <summary>What a read of the source found: its users and groups (all of them, or for a delta
/// only those changed since the mark), and the mark the next delta starts from.</summary>
public sealed record DirectoryEntries(IReadOnlyList<DirectoryEntry> Users, IReadOnlyList<DirectoryEntry> Groups, string? Mark);

/// <summary>Reads a directory source (LDAP: Herald.Ldap). Failures are values: the sentence says
/// what went wrong (TLS, bind, a search) and never holds the password.</summary>
public interface IDirectorySourceReader
{
    Task<(DirectoryEntries? Entries, string? Problem)> ReadAsync(
        DirectorySourceSettings settings, string bindPassword, string? deltaSince, CancellationToken cancellationToken);
}

/// <summary>Where directory sources are kept; the bind password is a sealed row of the secrets
/// table, written with the source in one transaction.</summary>
public interface IDirectorySourceStore
{
    Task<IReadOnlyList<DirectorySource>> ListAsync(CancellationToken cancellationToken);

    Task<DirectorySource?> FindAsync(string name, CancellationToken cancellationToken);

    /// <summary>Adds or replaces the source's settings, and its password unless
    /// <paramref name="keepPassword"/>; true when new.</summary>
    Task<bool> SaveAsync(DirectorySource source, bool keepPassword, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the source and its password; its users and groups stay, as local ones
    /// (nobody stops receiving because a source's configuration went away).</summary>
    Task<bool> RemoveAsync(string name, CancellationToken cancellationToken);

    /// <summary>Records a sync's outcome (and, when it applied, the mark the next delta starts from).</summary>
    Task RecordAsync(string name, string outcome, string? mark, bool full, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Takes the source's sync lease for <paramref name="holder"/> until
    /// <paramref name="until"/> when nobody holds it (or theirs has expired): one node at a time syncs.</summary>
    Task<bool> TryLeaseAsync(string name, string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken);

    Task ReleaseAsync(string name, string holder, CancellationToken cancellationToken);
}
