using System.Data.Common;
using System.Text.Json;
using Dapper;
using Herald.Notifications;
using Herald.Notifications.Subscriptions;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

/// <summary>Subscriptions, rules, their opt-outs and removals. Lists are stored one item per
/// line, conditions as JSON, enumerations by their written names.</summary>
public sealed class SqlSubscriptionStore(HeraldDatabase database) : ISubscriptionRegistry
{
    private const string SubscriptionKind = "subscription";
    private const string RuleKind = "rule";

    public async Task<Subscription?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<SubscriptionRow>("SELECT * FROM subscriptions WHERE id = @id", new { id }).ConfigureAwait(false);
        return row?.ToSubscription();
    }

    public async Task<IReadOnlyList<Subscription>> ListDigestSubscriptionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<SubscriptionRow>(
            "SELECT * FROM subscriptions WHERE enabled = 1 AND frequency <> 'immediate' ORDER BY id").ConfigureAwait(false);
        return rows.Select(r => r.ToSubscription()).ToArray();
    }

    public async Task<IReadOnlyList<Subscription>> ListAsync(Principal? owner, ScopePath? scope, CancellationToken cancellationToken)
    {
        var sql = "SELECT * FROM subscriptions WHERE 1 = 1";
        var parameters = new DynamicParameters();
        if (owner is { } o)
        {
            sql += " AND owner_kind = @kind AND owner_id = @ownerId";
            parameters.AddDynamicParams(new { kind = KindName(o.Kind), ownerId = o.Id });
        }

        if (scope is { IsRoot: false } subtree)
        {
            sql += " AND " + TextRange.SameOrBelow("scope_path");
            parameters.AddDynamicParams(Subtree(subtree));
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<SubscriptionRow>(sql + " ORDER BY scope_path, id", parameters).ConfigureAwait(false);
        return rows.Select(r => r.ToSubscription()).ToArray();
    }

    public async Task<bool> SaveAsync(Subscription subscription, CancellationToken cancellationToken) =>
        await SaveAsync(subscription, _ => true, cancellationToken).ConfigureAwait(false) == SaveOutcome.Created;

    public async Task<SaveOutcome> SaveAsync(Subscription subscription, Func<ScopePath, bool> mayReplace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        ArgumentNullException.ThrowIfNull(mayReplace);
        var row = SubscriptionRow.From(subscription);
        return await SaveCheckedAsync("subscriptions", SubscriptionKind, subscription.Id, mayReplace, row,
            """
            UPDATE subscriptions SET scope_path = @ScopePath, owner_kind = @OwnerKind, owner_id = @OwnerId, name = @Name, event_types = @EventTypes,
                path_prefixes = @PathPrefixes, change_kinds = @ChangeKinds, conditions = @Conditions, frequency = @Frequency, digest_at = @DigestAt,
                digest_day = @DigestDay, exclude_actor = @ExcludeActor, enabled = @Enabled, updated_at = @UpdatedAt
            WHERE id = @Id
            """,
            """
            INSERT INTO subscriptions (id, scope_path, owner_kind, owner_id, name, event_types, path_prefixes, change_kinds, conditions,
                frequency, digest_at, digest_day, exclude_actor, enabled, created_at, updated_at)
            VALUES (@Id, @ScopePath, @OwnerKind, @OwnerId, @Name, @EventTypes, @PathPrefixes, @ChangeKinds, @Conditions,
                @Frequency, @DigestAt, @DigestDay, @ExcludeActor, @Enabled, @CreatedAt, @UpdatedAt)
            """,
            cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> RemoveAsync(string id, ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken) =>
        RemoveAsync("subscriptions", SubscriptionKind, id, scope, now, cancellationToken);

    public async Task<NotificationRule?> FindRuleAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<RuleRow>("SELECT * FROM notification_rules WHERE id = @id", new { id }).ConfigureAwait(false);
        return row?.ToRule();
    }

    public async Task<IReadOnlyList<NotificationRule>> ListRulesAsync(ScopePath? scope, CancellationToken cancellationToken)
    {
        var subtree = scope is { IsRoot: false } path ? Subtree(path) : null;
        var filter = subtree is null ? "" : " WHERE " + TextRange.SameOrBelow("scope_path");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<RuleRow>($"SELECT * FROM notification_rules{filter} ORDER BY scope_path, id", subtree).ConfigureAwait(false);
        return rows.Select(r => r.ToRule()).ToArray();
    }

    public async Task<bool> SaveRuleAsync(NotificationRule rule, CancellationToken cancellationToken) =>
        await SaveRuleAsync(rule, _ => true, cancellationToken).ConfigureAwait(false) == SaveOutcome.Created;

    public async Task<SaveOutcome> SaveRuleAsync(NotificationRule rule, Func<ScopePath, bool> mayReplace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(mayReplace);
        return await SaveCheckedAsync("notification_rules", RuleKind, rule.Id, mayReplace, RuleRow.From(rule),
            """
            UPDATE notification_rules SET scope_path = @ScopePath, name = @Name, event_types = @EventTypes, path_prefixes = @PathPrefixes,
                change_kinds = @ChangeKinds, conditions = @Conditions, addresses = @Addresses, recipients = @Recipients,
                exclude_actor = @ExcludeActor, enabled = @Enabled, updated_at = @UpdatedAt
            WHERE id = @Id
            """,
            """
            INSERT INTO notification_rules (id, scope_path, name, event_types, path_prefixes, change_kinds, conditions, addresses, recipients,
                exclude_actor, enabled, created_at, updated_at)
            VALUES (@Id, @ScopePath, @Name, @EventTypes, @PathPrefixes, @ChangeKinds, @Conditions, @Addresses, @Recipients,
                @ExcludeActor, @Enabled, @CreatedAt, @UpdatedAt)
            """,
            cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> RemoveRuleAsync(string id, ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken) =>
        RemoveAsync("notification_rules", RuleKind, id, scope, now, cancellationToken);

    public async Task<bool> DisableAsync(string subscriptionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE subscriptions SET enabled = 0, updated_at = @now WHERE id = @subscriptionId",
            new { subscriptionId, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false) > 0;
    }

    public async Task<bool> AddOptOutAsync(NotificationOrigin optOut, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            """
            INSERT INTO notification_opt_outs (source_kind, source_id, recipient, created_at) VALUES (@kind, @SourceId, @Recipient, @now)
            ON CONFLICT (source_kind, source_id, recipient) DO NOTHING
            """,
            new { kind = SourceKindName(optOut.Kind), optOut.SourceId, optOut.Recipient, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false) > 0;
    }

    public async Task<bool> RemoveOptOutAsync(NotificationOrigin optOut, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "DELETE FROM notification_opt_outs WHERE source_kind = @kind AND source_id = @SourceId AND recipient = @Recipient",
            new { kind = SourceKindName(optOut.Kind), optOut.SourceId, optOut.Recipient }).ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlySet<string>> OptOutsAsync(NotificationSourceKind kind, string sourceId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var recipients = await connection.QueryAsync<string>(
            "SELECT recipient FROM notification_opt_outs WHERE source_kind = @kind AND source_id = @sourceId",
            new { kind = SourceKindName(kind), sourceId }).ConfigureAwait(false);
        // Exact: a recipient is a user id (case-sensitive, as everywhere) or an address, which
        // NotificationRecipient.Key writes in lower case.
        return recipients.ToHashSet(StringComparer.Ordinal);
    }

    public async Task<SubscriptionChanges> ChangesSinceAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var sinceMs = since == DateTimeOffset.MinValue ? long.MinValue : since.ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var subscriptions = (await connection.QueryAsync<SubscriptionRow>(
            "SELECT * FROM subscriptions WHERE updated_at >= @sinceMs", new { sinceMs }).ConfigureAwait(false)).ToArray();
        var rules = (await connection.QueryAsync<RuleRow>(
            "SELECT * FROM notification_rules WHERE updated_at >= @sinceMs", new { sinceMs }).ConfigureAwait(false)).ToArray();
        var removals = (await connection.QueryAsync<(string Kind, string Id, long RemovedAt)>(
            "SELECT kind, id, removed_at FROM notification_removals WHERE removed_at >= @sinceMs", new { sinceMs }).ConfigureAwait(false)).ToArray();
        var latest = subscriptions.Select(s => s.UpdatedAt).Concat(rules.Select(r => r.UpdatedAt)).Concat(removals.Select(r => r.RemovedAt)).DefaultIfEmpty(sinceMs).Max();
        return new SubscriptionChanges(
            subscriptions.Select(s => s.ToSubscription()).ToArray(),
            rules.Select(r => r.ToRule()).ToArray(),
            removals.Select(r => new Removal(r.Kind == RuleKind ? RemovalKind.Rule : RemovalKind.Subscription, r.Id, DateTimeOffset.FromUnixTimeMilliseconds(r.RemovedAt))).ToArray(),
            latest == long.MinValue ? since : DateTimeOffset.FromUnixTimeMilliseconds(latest));
    }

    /// <summary>Inserts the row when its id is free, or updates it when <paramref name="mayReplace"/>
    /// allows replacing the stored one (given its scope); in a serialized write, so that the check
    /// and the write see the same row.</summary>
    private async Task<SaveOutcome> SaveCheckedAsync(
        string table, string kind, string id, Func<ScopePath, bool> mayReplace, object row, string update, string insert, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var stored = await connection.QuerySingleOrDefaultAsync<string>($"SELECT scope_path FROM {table} WHERE id = @id", new { id }, write.Transaction).ConfigureAwait(false);
        if (stored is not null && !mayReplace(ScopePath.Parse(stored)))
        {
            return SaveOutcome.Taken;
        }

        await connection.ExecuteAsync(stored is null ? insert : update, row, write.Transaction).ConfigureAwait(false);
        // Saved again after a removal: other nodes must not drop it on the stale removal.
        await ForgetRemovalAsync(connection, write.Transaction, kind, id).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return stored is null ? SaveOutcome.Created : SaveOutcome.Replaced;
    }

    private async Task<bool> RemoveAsync(string table, string kind, string id, ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync(
            $"DELETE FROM {table} WHERE id = @id AND scope_path = @scope", new { id, scope = scope.Value }, write.Transaction).ConfigureAwait(false) > 0;
        if (removed)
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO notification_removals (kind, id, removed_at) VALUES (@kind, @id, @now)
                ON CONFLICT (kind, id) DO UPDATE SET removed_at = excluded.removed_at
                """,
                new { kind, id, now = now.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
            await connection.ExecuteAsync(
                "DELETE FROM notification_opt_outs WHERE source_kind = @kind AND source_id = @id", new { kind, id }, write.Transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }

    private static Task<int> ForgetRemovalAsync(DbConnection connection, DbTransaction transaction, string kind, string id) =>
        connection.ExecuteAsync("DELETE FROM notification_removals WHERE kind = @kind AND id = @id", new { kind, id }, transaction);

    private static object Subtree(ScopePath scope)
    {
        var (path, below, beyond) = TextRange.Subtree(scope);
        return new { scope = path, below, beyond };
    }

    private static string KindName(PrincipalKind kind) => kind == PrincipalKind.User ? "user" : "group";

    private static string SourceKindName(NotificationSourceKind kind) => kind switch
    {
        NotificationSourceKind.Subscription => SubscriptionKind,
        NotificationSourceKind.Rule => RuleKind,
        _ => "administrative",
    };

    private static string Lines(IEnumerable<string> items) => string.Join('\n', items);

    private static string[] Split(string lines) => lines.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static EventFilter Filter(string types, string prefixes, string kinds, string conditions) =>
        new(Split(types), Split(prefixes), Split(kinds), JsonSerializer.Deserialize<ConditionRow[]>(conditions)!.Select(c => c.ToCondition()).ToArray());

    private static string Conditions(EventFilter filter) =>
        JsonSerializer.Serialize(filter.Conditions.Select(ConditionRow.From).ToArray());

    private sealed record ConditionRow(string Field, string Operator, string[] Values)
    {
        public static ConditionRow From(EventCondition c) => new(c.Field, ConditionOperatorNames.Values.NameOf(c.Operator), c.Values.ToArray());

        public EventCondition ToCondition() => new(Field, ConditionOperatorNames.Values.Parse(Operator), Values);
    }

    private sealed class SubscriptionRow
    {
        public string Id { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string OwnerKind { get; set; } = "";
        public string OwnerId { get; set; } = "";
        public string Name { get; set; } = "";
        public string EventTypes { get; set; } = "";
        public string PathPrefixes { get; set; } = "";
        public string ChangeKinds { get; set; } = "";
        public string Conditions { get; set; } = "[]";
        public string Frequency { get; set; } = "";
        public string DigestAt { get; set; } = "";
        public string DigestDay { get; set; } = "";
        public long ExcludeActor { get; set; }
        public long Enabled { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public static SubscriptionRow From(Subscription s) => new()
        {
            Id = s.Id,
            ScopePath = s.Scope.Value,
            OwnerKind = KindName(s.Owner.Kind),
            OwnerId = s.Owner.Id,
            Name = s.Name,
            EventTypes = Lines(s.Filter.EventTypes),
            PathPrefixes = Lines(s.Filter.PathPrefixes),
            ChangeKinds = Lines(s.Filter.ChangeKinds),
            Conditions = SqlSubscriptionStore.Conditions(s.Filter),
            Frequency = NotificationFrequencyNames.Values.NameOf(s.Schedule.Frequency),
            DigestAt = s.Schedule.At.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
            DigestDay = s.Schedule.Day.ToString().ToLowerInvariant(),
            ExcludeActor = s.ExcludeActor ? 1 : 0,
            Enabled = s.Enabled ? 1 : 0,
            CreatedAt = s.CreatedAt.ToUnixTimeMilliseconds(),
            UpdatedAt = s.UpdatedAt.ToUnixTimeMilliseconds(),
        };

        public Subscription ToSubscription() => new(
            Id,
            Scopes.ScopePath.Parse(ScopePath),
            new Principal(OwnerKind == "user" ? PrincipalKind.User : PrincipalKind.Group, OwnerId),
            Name,
            Filter(EventTypes, PathPrefixes, ChangeKinds, Conditions),
            new NotificationSchedule(
                NotificationFrequencyNames.Values.Parse(Frequency),
                TimeOnly.ParseExact(DigestAt, "HH:mm", System.Globalization.CultureInfo.InvariantCulture),
                Enum.Parse<DayOfWeek>(DigestDay, ignoreCase: true)),
            ExcludeActor != 0,
            Enabled != 0,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt));
    }

    private sealed class RuleRow
    {
        public string Id { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string Name { get; set; } = "";
        public string EventTypes { get; set; } = "";
        public string PathPrefixes { get; set; } = "";
        public string ChangeKinds { get; set; } = "";
        public string Conditions { get; set; } = "[]";
        public string Addresses { get; set; } = "";
        public string Recipients { get; set; } = "";
        public long ExcludeActor { get; set; }
        public long Enabled { get; set; }
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public static RuleRow From(NotificationRule r) => new()
        {
            Id = r.Id,
            ScopePath = r.Scope.Value,
            Name = r.Name,
            EventTypes = Lines(r.Filter.EventTypes),
            PathPrefixes = Lines(r.Filter.PathPrefixes),
            ChangeKinds = Lines(r.Filter.ChangeKinds),
            Conditions = SqlSubscriptionStore.Conditions(r.Filter),
            Addresses = Lines(r.Addresses.Select(a => a.Value)),
            Recipients = Lines(r.Recipients.Select(p => p.ToString())),
            ExcludeActor = r.ExcludeActor ? 1 : 0,
            Enabled = r.Enabled ? 1 : 0,
            CreatedAt = r.CreatedAt.ToUnixTimeMilliseconds(),
            UpdatedAt = r.UpdatedAt.ToUnixTimeMilliseconds(),
        };

        public NotificationRule ToRule() => new(
            Id,
            Scopes.ScopePath.Parse(ScopePath),
            Name,
            Filter(EventTypes, PathPrefixes, ChangeKinds, Conditions),
            Split(Addresses).Select(EmailAddress.Parse).ToArray(),
            Split(Recipients).Select(p => Principal.TryParse(p, out var principal, out _) ? principal : default).ToArray(),
            ExcludeActor != 0,
            Enabled != 0,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            DateTimeOffset.FromUnixTimeMilliseconds(UpdatedAt));
    }
}
