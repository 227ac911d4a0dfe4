using System.Data.Common;
using Dapper;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

/// <summary>The directory on either engine: <c>directory_users</c>, <c>directory_groups</c>,
/// <c>group_members</c>, <c>access_entries</c>, and <c>directory_revision</c>, which every write
/// bumps inside its own transaction. Every write is a serialized write
/// (<see cref="HeraldDatabase.BeginSerializedWriteAsync"/>: SQLite's single writer, PostgreSQL's
/// advisory write lock), so that what a checked write reads inside it stays true until it commits,
/// whichever node wrote before.</summary>
public sealed class SqlDirectoryStore(HeraldDatabase database) : IDirectoryStore
{
    // SQLite allows 32,766 parameters in a statement; lookups of a big group's members go in slices.
    private const int Slice = 1000;
    private const int LoadAttempts = 3;

    private const string BumpRevision = "UPDATE directory_revision SET revision = revision + 1 WHERE id = 1";

    private const string UpsertUser = """
        INSERT INTO directory_users (id, name, email, time_zone, language, updated_at)
        VALUES (@Id, @Name, @Email, @TimeZone, @Language, @UpdatedAt)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, time_zone = excluded.time_zone,
            language = excluded.language, updated_at = excluded.updated_at
        """;

    /// <summary>A group's row; a null <c>@Scope</c> (an import) puts a new group in / and leaves
    /// an existing group's scope as it is.</summary>
    private const string UpsertGroup = """
        INSERT INTO directory_groups (id, name, alias, delivery, updated_at, scope_path)
        VALUES (@Id, @Name, @Alias, @Delivery, @UpdatedAt, COALESCE(@Scope, '/'))
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, alias = excluded.alias, delivery = excluded.delivery, updated_at = excluded.updated_at,
            scope_path = COALESCE(@Scope, directory_groups.scope_path)
        """;

    private const string InsertMember = "INSERT INTO group_members (group_id, member_kind, member_id) VALUES (@GroupId, @MemberKind, @MemberId)";

    public async Task<long> GetRevisionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>("SELECT revision FROM directory_revision WHERE id = 1").ConfigureAwait(false);
    }

    public async Task<DirectorySnapshot> LoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            // Each statement reads the latest commit; the revision read before and after tells
            // whether a write landed in between. If one keeps landing, the older revision is
            // reported, so the next check sees a newer one and loads again.
            var before = await connection.ExecuteScalarAsync<long>("SELECT revision FROM directory_revision WHERE id = 1").ConfigureAwait(false);
            var users = await ListUsersAsync(connection).ConfigureAwait(false);
            var groups = await ListGroupsAsync(connection, null).ConfigureAwait(false);
            var access = await ListAccessAsync(connection, null).ConfigureAwait(false);
            var after = await connection.ExecuteScalarAsync<long>("SELECT revision FROM directory_revision WHERE id = 1").ConfigureAwait(false);
            if (before == after || attempt == LoadAttempts)
            {
                return new DirectorySnapshot(before, users, groups, access);
            }
        }
    }

    public async Task<IReadOnlyList<DirectoryUser>> ListUsersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ListUsersAsync(connection).ConfigureAwait(false);
    }

    public async Task<DirectoryUser?> FindUserAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>("SELECT * FROM directory_users WHERE id = @id", new { id }).ConfigureAwait(false);
        return row?.ToUser();
    }

    public async Task<bool> SaveUserAsync(DirectoryUser user, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var existed = await ExistsAsync(connection, write.Transaction, "directory_users", user.Id).ConfigureAwait(false);
        await connection.ExecuteAsync(UpsertUser, UserRow.From(user, now), write.Transaction).ConfigureAwait(false);
        await connection.ExecuteAsync(BumpRevision, transaction: write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return !existed;
    }

    public Task<bool> RemoveUserAsync(string id, CancellationToken cancellationToken) =>
        RemoveAsync("directory_users", "user", id, cancellationToken);

    public async Task<IReadOnlyList<DirectoryGroup>> ListGroupsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ListGroupsAsync(connection, null).ConfigureAwait(false);
    }

    public async Task<DirectoryGroup?> FindGroupAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return (await ListGroupsAsync(connection, id).ConfigureAwait(false)).SingleOrDefault();
    }

    public async Task<GroupSave> SaveGroupAsync(DirectoryGroup group, DateTimeOffset now, DirectoryCheck? checkMembers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var existed = await ExistsAsync(connection, write.Transaction, "directory_groups", group.Id).ConfigureAwait(false);
        DirectoryGroup saved;
        if (checkMembers is not null)
        {
            // Read after taking the write lock: no other directory write runs until this one ends.
            var errors = checkMembers(await ReadGraphAsync(connection, write.Transaction, group.Members).ConfigureAwait(false));
            if (errors.Count > 0)
            {
                return new GroupSave(null, false, errors);
            }

            await WriteGroupsAsync(connection, write.Transaction, [group], now, keepScopes: false).ConfigureAwait(false);
            saved = group;
        }
        else
        {
            await connection.ExecuteAsync(UpsertGroup, GroupRow.From(group, now, keepScope: false), write.Transaction).ConfigureAwait(false);
            var members = await connection.QueryAsync<MemberRow>(
                "SELECT group_id, member_kind, member_id FROM group_members WHERE group_id = @Id ORDER BY member_kind DESC, member_id",
                new { group.Id }, write.Transaction).ConfigureAwait(false);
            saved = group with { Members = members.Select(m => m.ToPrincipal()).ToArray() };
        }

        await connection.ExecuteAsync(BumpRevision, transaction: write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new GroupSave(saved, !existed, []);
    }

    public Task<bool> RemoveGroupAsync(string id, CancellationToken cancellationToken) =>
        RemoveAsync("directory_groups", "group", id, cancellationToken);

    public async Task<IReadOnlySet<Principal>> FindExistingAsync(IReadOnlyCollection<Principal> principals, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await FindExistingAsync(connection, null, principals).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AccessEntry>> ListAccessAsync(IReadOnlyCollection<ScopePath>? scopes, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ListAccessAsync(connection, scopes).ConfigureAwait(false);
    }

    public async Task<(bool Created, IReadOnlyList<FieldError> Errors)> GrantAsync(AccessEntry entry, DirectoryCheck check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(check);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var errors = check(await ReadGraphAsync(connection, write.Transaction, [entry.Principal]).ConfigureAwait(false));
        if (errors.Count > 0)
        {
            return (false, errors);
        }

        var parameters = new
        {
            scope = entry.Scope.Value,
            kind = KindName(entry.Principal.Kind),
            id = entry.Principal.Id,
            level = AccessLevelNames.Values.NameOf(entry.Level),
        };
        var updated = await connection.ExecuteAsync(
            "UPDATE access_entries SET level = @level WHERE scope_path = @scope AND principal_kind = @kind AND principal_id = @id",
            parameters, write.Transaction).ConfigureAwait(false);
        if (updated == 0)
        {
            await connection.ExecuteAsync(
                "INSERT INTO access_entries (scope_path, principal_kind, principal_id, level) VALUES (@scope, @kind, @id, @level)",
                parameters, write.Transaction).ConfigureAwait(false);
        }

        await connection.ExecuteAsync(BumpRevision, transaction: write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (updated == 0, []);
    }

    public async Task<bool> RevokeAsync(ScopePath scope, Principal principal, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync(
            "DELETE FROM access_entries WHERE scope_path = @scope AND principal_kind = @kind AND principal_id = @id",
            new { scope = scope.Value, kind = KindName(principal.Kind), id = principal.Id }, write.Transaction).ConfigureAwait(false);
        if (removed > 0)
        {
            await connection.ExecuteAsync(BumpRevision, transaction: write.Transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task<IReadOnlyList<FieldError>> ImportAsync(
        IReadOnlyList<DirectoryUser> users, IReadOnlyList<DirectoryGroup> groups, DateTimeOffset now, DirectoryCheck check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(check);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var named = groups.SelectMany(g => g.Members)
            .Concat(users.Select(u => Principal.User(u.Id)))
            .Concat(groups.Select(g => Principal.Group(g.Id)))
            .ToHashSet();
        var errors = check(await ReadGraphAsync(connection, write.Transaction, named).ConfigureAwait(false));
        if (errors.Count > 0)
        {
            return errors;
        }

        if (users.Count > 0)
        {
            await database.ExecuteEachAsync(connection, write.Transaction, UpsertUser, users.Select(u => UserRow.From(u, now))).ConfigureAwait(false);
        }

        // An import is the organisation's directory: it adds groups to / and keeps the scope a stored
        // group was given.
        await WriteGroupsAsync(connection, write.Transaction, groups, now, keepScopes: true).ConfigureAwait(false);
        await connection.ExecuteAsync(BumpRevision, transaction: write.Transaction).ConfigureAwait(false);
        // Checkpoint: the whole import becomes visible at once, with one new revision, or not at all.
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return [];
    }

    /// <summary>A synced user's row: a new one, or one already the same source's (a local user
    /// or another source's is never overwritten); found again, a disabled user is enabled.</summary>
    private const string SyncUser = """
        INSERT INTO directory_users (id, name, email, time_zone, language, updated_at, source, source_dn, disabled_at)
        VALUES (@Id, @Name, @Email, @TimeZone, @Language, @UpdatedAt, @Source, @SourceDn, NULL)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, time_zone = excluded.time_zone,
            language = excluded.language, updated_at = excluded.updated_at, source_dn = excluded.source_dn, disabled_at = NULL
        WHERE directory_users.source = excluded.source
        """;

    private const string SyncGroup = """
        INSERT INTO directory_groups (id, name, alias, delivery, updated_at, scope_path, source, source_dn)
        VALUES (@Id, @Name, @Alias, @Delivery, @UpdatedAt, '/', @Source, @SourceDn)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at, source_dn = excluded.source_dn
        WHERE directory_groups.source = excluded.source
        """;

    public async Task<Herald.Notifications.Sync.DirectorySyncPlan> SyncAsync(
        string source, Func<DirectorySnapshot, Herald.Notifications.Sync.DirectorySyncPlan> plan, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        // Read after taking the write lock: what the plan decides on stays true until this commits.
        var revision = await connection.ExecuteScalarAsync<long>("SELECT revision FROM directory_revision WHERE id = 1", transaction: transaction).ConfigureAwait(false);
        var users = await ListUsersAsync(connection, transaction).ConfigureAwait(false);
        var groups = await ListGroupsAsync(connection, null, transaction).ConfigureAwait(false);
        var decided = plan(new DirectorySnapshot(revision, users, groups, []));
        if (decided.Stopped is not null || !decided.ChangesAnything)
        {
            // A safety stop changes nothing: the transaction ends unwritten.
            return decided;
        }

        var at = now.ToUnixTimeMilliseconds();
        var upserts = decided.AddedUsers.Concat(decided.ChangedUsers).Select(u => UserRow.From(u, now)).ToArray();
        if (upserts.Length > 0)
        {
            await database.ExecuteEachAsync(connection, transaction, SyncUser, upserts).ConfigureAwait(false);
        }

        if (decided.DisabledUsers.Count > 0)
        {
            await database.ExecuteEachAsync(
                connection, transaction, "UPDATE directory_users SET disabled_at = @at, updated_at = @at WHERE id = @id AND source = @source AND disabled_at IS NULL",
                decided.DisabledUsers.Select(id => new { id, source, at })).ConfigureAwait(false);
        }

        var groupRows = decided.AddedGroups.Concat(decided.ChangedGroups).ToArray();
        if (groupRows.Length > 0)
        {
            await database.ExecuteEachAsync(connection, transaction, SyncGroup, groupRows.Select(g => GroupRow.From(g, now, keepScope: true))).ConfigureAwait(false);
            // The plan was made inside this write: every group it names is new or the source's own.
            await database.ExecuteEachAsync(connection, transaction, "DELETE FROM group_members WHERE group_id = @Id", groupRows.Select(g => new { g.Id })).ConfigureAwait(false);
            var members = groupRows.SelectMany(g => g.Members.Select(m => new MemberRow { GroupId = g.Id, MemberKind = KindName(m.Kind), MemberId = m.Id })).ToArray();
            if (members.Length > 0)
            {
                await database.ExecuteEachAsync(connection, transaction, InsertMember, members).ConfigureAwait(false);
            }
        }

        foreach (var (table, kind, ids) in new[] { ("directory_users", "user", decided.RemovedUsers), ("directory_groups", "group", decided.RemovedGroups) })
        {
            if (ids.Count == 0)
            {
                continue;
            }

            // As a removal through Herald: memberships and access entries name it only by id.
            var rows = ids.Select(id => new { id, kind, source }).ToArray();
            await database.ExecuteEachAsync(connection, transaction, $"DELETE FROM {table} WHERE id = @id AND source = @source", rows).ConfigureAwait(false);
            await database.ExecuteEachAsync(connection, transaction, "DELETE FROM group_members WHERE member_kind = @kind AND member_id = @id", rows).ConfigureAwait(false);
            await database.ExecuteEachAsync(connection, transaction, "DELETE FROM access_entries WHERE principal_kind = @kind AND principal_id = @id", rows).ConfigureAwait(false);
        }

        await connection.ExecuteAsync(BumpRevision, transaction: transaction).ConfigureAwait(false);
        // Checkpoint: the whole sync becomes visible at once, with one new revision, or not at all.
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return decided;
    }

    /// <summary>What a checked write is checked against, read inside its transaction.</summary>
    private async Task<DirectoryGraph> ReadGraphAsync(DbConnection connection, DbTransaction transaction, IReadOnlyCollection<Principal> named)
    {
        var existing = await FindExistingAsync(connection, transaction, named).ConfigureAwait(false);
        var nested = await connection.QueryAsync<(string, string)>(
            "SELECT group_id, member_id FROM group_members WHERE member_kind = 'group' ORDER BY group_id, member_id", transaction: transaction).ConfigureAwait(false);
        var synced = new Dictionary<Principal, string>();
        foreach (var (kind, table) in new[] { (PrincipalKind.User, "directory_users"), (PrincipalKind.Group, "directory_groups") })
        {
            foreach (var slice in existing.Where(p => p.Kind == kind).Select(p => p.Id).Chunk(Slice))
            {
                var rows = await connection.QueryAsync<(string Id, string Source)>(
                    $"SELECT id, source FROM {table} WHERE source IS NOT NULL AND {database.IsAnyOf("id", "ids")}", new { ids = slice }, transaction).ConfigureAwait(false);
                foreach (var (id, source) in rows)
                {
                    synced[new Principal(kind, id)] = source;
                }
            }
        }

        return new DirectoryGraph(existing, nested.ToArray()) { Synced = synced };
    }

    private async Task<IReadOnlySet<Principal>> FindExistingAsync(DbConnection connection, DbTransaction? transaction, IReadOnlyCollection<Principal> principals)
    {
        var found = new HashSet<Principal>();
        foreach (var (kind, table) in new[] { (PrincipalKind.User, "directory_users"), (PrincipalKind.Group, "directory_groups") })
        {
            foreach (var slice in principals.Where(p => p.Kind == kind).Select(p => p.Id).Distinct(StringComparer.Ordinal).Chunk(Slice))
            {
                var ids = await connection.QueryAsync<string>(
                    $"SELECT id FROM {table} WHERE {database.IsAnyOf("id", "ids")}", new { ids = slice }, transaction).ConfigureAwait(false);
                found.UnionWith(ids.Select(id => new Principal(kind, id)));
            }
        }

        return found;
    }

    private async Task WriteGroupsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<DirectoryGroup> groups, DateTimeOffset now, bool keepScopes)
    {
        if (groups.Count == 0)
        {
            return;
        }

        await database.ExecuteEachAsync(connection, transaction, UpsertGroup, groups.Select(g => GroupRow.From(g, now, keepScopes))).ConfigureAwait(false);
        await database.ExecuteEachAsync(
            connection, transaction, "DELETE FROM group_members WHERE group_id = @Id", groups.Select(g => new { g.Id })).ConfigureAwait(false);
        var members = groups.SelectMany(g => g.Members.Distinct().Select(m => new MemberRow { GroupId = g.Id, MemberKind = KindName(m.Kind), MemberId = m.Id })).ToArray();
        if (members.Length > 0)
        {
            await database.ExecuteEachAsync(connection, transaction, InsertMember, members).ConfigureAwait(false);
        }
    }

    private async Task<bool> RemoveAsync(string table, string kind, string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Serialized like the checked saves: a save that found this user or group cannot store it
        // as a member after this removal, nor can this removal land between its check and its write.
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var parameters = new { id, kind };
        // A group's own members go with it (ON DELETE CASCADE); its place in other groups and its
        // access entries name it only by id, so they are removed here.
        var removed = await connection.ExecuteAsync($"DELETE FROM {table} WHERE id = @id", parameters, write.Transaction).ConfigureAwait(false);
        if (removed > 0)
        {
            await connection.ExecuteAsync("DELETE FROM group_members WHERE member_kind = @kind AND member_id = @id", parameters, write.Transaction).ConfigureAwait(false);
            await connection.ExecuteAsync("DELETE FROM access_entries WHERE principal_kind = @kind AND principal_id = @id", parameters, write.Transaction).ConfigureAwait(false);
            await connection.ExecuteAsync(BumpRevision, transaction: write.Transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    private static async Task<bool> ExistsAsync(DbConnection connection, DbTransaction transaction, string table, string id) =>
        await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table} WHERE id = @id", new { id }, transaction).ConfigureAwait(false) > 0;

    private static async Task<IReadOnlyList<DirectoryUser>> ListUsersAsync(DbConnection connection, DbTransaction? transaction = null) =>
        (await connection.QueryAsync<UserRow>("SELECT * FROM directory_users ORDER BY id", transaction: transaction).ConfigureAwait(false)).Select(r => r.ToUser()).ToArray();

    private static async Task<IReadOnlyList<DirectoryGroup>> ListGroupsAsync(DbConnection connection, string? id, DbTransaction? transaction = null)
    {
        var where = id is null ? "" : " WHERE id = @id";
        var memberWhere = id is null ? "" : " WHERE group_id = @id";
        var groups = await connection.QueryAsync<GroupRow>($"SELECT * FROM directory_groups{where} ORDER BY id", new { id }, transaction).ConfigureAwait(false);
        var members = (await connection.QueryAsync<MemberRow>(
                $"SELECT group_id, member_kind, member_id FROM group_members{memberWhere} ORDER BY group_id, member_kind DESC, member_id", new { id }, transaction).ConfigureAwait(false))
            .ToLookup(m => m.GroupId, m => m.ToPrincipal(), StringComparer.Ordinal);
        return groups.Select(g => g.ToGroup(members[g.Id].ToArray())).ToArray();
    }

    private async Task<IReadOnlyList<AccessEntry>> ListAccessAsync(DbConnection connection, IReadOnlyCollection<ScopePath>? scopes)
    {
        var where = scopes is null ? "" : $" WHERE {database.IsAnyOf("scope_path", "scopes")}";
        var rows = await connection.QueryAsync<AccessRow>(
            $"SELECT scope_path, principal_kind, principal_id, level FROM access_entries{where} ORDER BY scope_path, principal_kind DESC, principal_id",
            new { scopes = scopes?.Select(s => s.Value).ToArray() }).ConfigureAwait(false);
        return rows.Select(r => r.ToEntry()).ToArray();
    }

    private static string KindName(PrincipalKind kind) => kind == PrincipalKind.User ? "user" : "group";

    private sealed class UserRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Email { get; set; } = "";
        public string TimeZone { get; set; } = "";
        public string Language { get; set; } = "";
        public long UpdatedAt { get; set; }
        public string? Source { get; set; }
        public string? SourceDn { get; set; }
        public long? DisabledAt { get; set; }

        public static UserRow From(DirectoryUser u, DateTimeOffset now) => new()
        {
            Id = u.Id, Name = u.Name, Email = u.Email.Value, TimeZone = u.TimeZone, Language = u.Language, UpdatedAt = now.ToUnixTimeMilliseconds(),
            Source = u.Source, SourceDn = u.SourceDn,
        };

        public DirectoryUser ToUser() => new(Id, Name, EmailAddress.Parse(Email), TimeZone, Language)
        {
            Source = Source, SourceDn = SourceDn, DisabledAt = DisabledAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null,
        };
    }

    private sealed class GroupRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string? Alias { get; set; }
        public string Delivery { get; set; } = "";
        public long UpdatedAt { get; set; }
        public string? ScopePath { get; set; }
        public string? Source { get; set; }
        public string? SourceDn { get; set; }

        /// <summary>Only for writing: the group's scope, or null to keep a stored group's (an import).</summary>
        public string? Scope { get; set; }

        public static GroupRow From(DirectoryGroup g, DateTimeOffset now, bool keepScope) => new()
        {
            Id = g.Id, Name = g.Name, Alias = g.Alias?.Value, Delivery = GroupDeliveryNames.Values.NameOf(g.Delivery), UpdatedAt = now.ToUnixTimeMilliseconds(),
            Scope = keepScope ? null : g.Scope.Value, Source = g.Source, SourceDn = g.SourceDn,
        };

        public DirectoryGroup ToGroup(IReadOnlyList<Principal> members) =>
            new(Id, Name, Alias is null ? null : EmailAddress.Parse(Alias), GroupDeliveryNames.Values.Parse(Delivery), members)
            {
                Scope = ScopePath is null ? Herald.Scopes.ScopePath.Root : Herald.Scopes.ScopePath.Parse(ScopePath),
                Source = Source,
                SourceDn = SourceDn,
            };
    }

    private sealed class MemberRow
    {
        public string GroupId { get; set; } = "";
        public string MemberKind { get; set; } = "";
        public string MemberId { get; set; } = "";

        public Principal ToPrincipal() => new(MemberKind == "user" ? PrincipalKind.User : PrincipalKind.Group, MemberId);
    }

    private sealed class AccessRow
    {
        public string ScopePath { get; set; } = "";
        public string PrincipalKind { get; set; } = "";
        public string PrincipalId { get; set; } = "";
        public string Level { get; set; } = "";

        public AccessEntry ToEntry() => new(
            Scopes.ScopePath.Parse(ScopePath),
            new Principal(PrincipalKind == "user" ? Herald.Notifications.PrincipalKind.User : Herald.Notifications.PrincipalKind.Group, PrincipalId),
            AccessLevelNames.Values.Parse(Level));
    }
}
