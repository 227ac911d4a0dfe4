using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Herald.Bounces;
using Herald.Credentials;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Suppression;
using Herald.Storage.Database;
using Herald.Storage.Suppression;
using Herald.Storage.Webhooks;
using Herald.Webhooks;

namespace Herald.Storage.Bounces;

/// <summary>Bounce mailboxes on either engine (a row of <c>bounce_mailboxes</c> each, settings as
/// JSON, the user name and password sealed rows of <c>secrets</c> named for the scope, so that a
/// key rotation re-seals them with every other secret), and what reports do to the outbox.</summary>
public sealed class SqlBounceStore(HeraldDatabase database) : IBounceStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) } };

    public async Task<IReadOnlyList<BounceMailbox>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = (await connection.QueryAsync<MailboxRow>("SELECT * FROM bounce_mailboxes ORDER BY scope_path").ConfigureAwait(false)).ToArray();
        var secrets = await SecretsAsync(connection, rows.Select(r => r.ScopePath)).ConfigureAwait(false);
        return rows.Select(row => row.ToMailbox(name => secrets.GetValueOrDefault(name))).ToArray();
    }

    /// <summary>The sealed secrets of the mailboxes of <paramref name="scopes"/>, by their exact names.</summary>
    private async Task<Dictionary<string, byte[]>> SecretsAsync(DbConnection connection, IEnumerable<string> scopes)
    {
        var names = scopes.SelectMany(s => new[] { SecretNames.BounceMailboxUserName(s), SecretNames.BounceMailboxPassword(s) }).ToArray();
        if (names.Length == 0)
        {
            return [];
        }

        return (await connection.QueryAsync<(string Name, byte[] Ciphertext)>(
            $"SELECT name, ciphertext FROM secrets WHERE {database.IsAnyOf("name", "names")}", new { names }).ConfigureAwait(false))
            .ToDictionary(s => s.Name, s => s.Ciphertext, StringComparer.Ordinal);
    }

    public async Task<BounceMailbox?> FindAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<MailboxRow>("SELECT * FROM bounce_mailboxes WHERE scope_path = @scope", new { scope = scope.Value }).ConfigureAwait(false);
        if (row is null)
        {
            return null;
        }

        var secrets = await SecretsAsync(connection, [scope.Value]).ConfigureAwait(false);
        return row.ToMailbox(name => secrets.GetValueOrDefault(name));
    }

    public async Task<bool> SaveAsync(BounceMailbox mailbox, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mailbox);
        var scope = mailbox.Scope.Value;
        var at = now.ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var created = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM bounce_mailboxes WHERE scope_path = @scope", new { scope }, write.Transaction).ConfigureAwait(false) == 0;
        await connection.ExecuteAsync(
            """
            INSERT INTO bounce_mailboxes (scope_path, settings, updated_at) VALUES (@scope, @settings, @at)
            ON CONFLICT (scope_path) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
            """,
            new { scope, settings = JsonSerializer.Serialize(mailbox.Settings, Json), at }, write.Transaction).ConfigureAwait(false);
        foreach (var (name, secret) in new[] { (SecretNames.BounceMailboxUserName(scope), mailbox.UserName), (SecretNames.BounceMailboxPassword(scope), mailbox.Password) })
        {
            await connection.ExecuteAsync("DELETE FROM secrets WHERE name = @name", new { name }, write.Transaction).ConfigureAwait(false);
            if (secret is not null)
            {
                await connection.ExecuteAsync(
                    "INSERT INTO secrets (name, ciphertext, updated_at) VALUES (@name, @ciphertext, @at)",
                    new { name, ciphertext = secret.Ciphertext, at }, write.Transaction).ConfigureAwait(false);
            }
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return created;
    }

    public async Task<bool> RemoveAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var removed = await connection.ExecuteAsync("DELETE FROM bounce_mailboxes WHERE scope_path = @scope", new { scope = scope.Value }, write.Transaction).ConfigureAwait(false);
        var names = new[] { SecretNames.BounceMailboxUserName(scope.Value), SecretNames.BounceMailboxPassword(scope.Value) };
        await connection.ExecuteAsync($"DELETE FROM secrets WHERE {database.IsAnyOf("name", "names")}", new { names }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task RecordReadAsync(ScopePath scope, string outcome, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE bounce_mailboxes SET last_outcome = @outcome, last_read_at = @at WHERE scope_path = @scope",
            new { scope = scope.Value, outcome, at = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task<bool> TryLeaseAsync(ScopePath scope, string holder, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // One statement: of two nodes asking at once, one row update wins.
        return await connection.ExecuteAsync(
            """
            UPDATE bounce_mailboxes SET lease_holder = @holder, lease_until = @until
            WHERE scope_path = @scope AND (lease_until IS NULL OR lease_until < @now OR lease_holder = @holder)
            """,
            new { scope = scope.Value, holder, now = now.ToUnixTimeMilliseconds(), until = until.ToUnixTimeMilliseconds() }).ConfigureAwait(false) == 1;
    }

    public async Task ReleaseAsync(ScopePath scope, string holder, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE bounce_mailboxes SET lease_holder = NULL, lease_until = NULL WHERE scope_path = @scope AND lease_holder = @holder",
            new { scope = scope.Value, holder }).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<BounceRecorded?>> RecordAsync(IReadOnlyList<BounceUpdate> updates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updates);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var recorded = new List<(BounceRecorded? Recorded, int Attempt)>(updates.Count);
        foreach (var update in updates)
        {
            var one = await RecordOneAsync(connection, write.Transaction, update).ConfigureAwait(false);
            recorded.Add(one);
            if (update.Suppress is { } suppress && one.Recorded is { } target && (target.Changed || target.Before == update.NewState)
                && SuppressionService.OnBehalf(new OnBehalfSuppression(target.Scope, target.Address, suppress.Reason, suppress.Source), suppress.CreatedBy, update.At) is { } entry)
            {
                await SqlSuppressionStore.AddOneAsync(connection, write.Transaction, entry, update.At).ConfigureAwait(false);
            }
        }

        // Webhook endpoints hear of a bounce or complaint in the transaction that records it, as
        // they hear of every other state change, so that a crash loses neither.
        await WebhookJournal.AppendAsync(database, connection, write.Transaction, updates.Zip(recorded)
            .Where(pair => pair.Second.Recorded is { Changed: true })
            .Select(pair => WebhookPayloads.RecipientChanged(
                pair.First.MessageId, pair.Second.Recorded!.Scope, pair.Second.Recorded.Address, RecipientStateNames.Values.NameOf(pair.First.NewState!.Value),
                pair.Second.Attempt, pair.First.Code, pair.First.Reply, pair.First.At))
            .OfType<WebhookEvent>()
            .ToArray()).ConfigureAwait(false);

        // One durable commit for the batch: the reader deletes the batch's mail only after it.
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return recorded.Select(r => r.Recorded).ToArray();
    }

    /// <summary>One report, and the number of the history line it became.</summary>
    private static async Task<(BounceRecorded? Recorded, int Attempt)> RecordOneAsync(DbConnection connection, DbTransaction transaction, BounceUpdate update)
    {
        var target = await connection.QuerySingleOrDefaultAsync<TargetRow>(
            """
            SELECT m.scope_path AS Scope, r.address AS Address, r.state AS State FROM recipients r JOIN messages m ON m.id = r.message_id
            WHERE r.message_id = @MessageId AND r.ordinal = @Ordinal
            """,
            new { update.MessageId, update.Ordinal }, transaction).ConfigureAwait(false);
        if (target is null)
        {
            return (null, 0);
        }

        var before = RecipientStateNames.Values.Parse(target.State);
        var changed = update.NewState is { } state && state != before && update.From.Contains(before);
        var after = changed ? update.NewState!.Value : before;
        // The report is a line in the recipient's history, numbered after its attempts (the
        // history's key), so the count of lines stays the attempt count the outbox numbers by.
        var attempt = await connection.ExecuteScalarAsync<int>(
            """
            UPDATE recipients SET state = @state, attempts = attempts + 1,
                last_code = CASE WHEN @changed THEN @Code ELSE last_code END,
                last_reply = CASE WHEN @changed THEN @Reply ELSE last_reply END, updated_at = @at
            WHERE message_id = @MessageId AND ordinal = @Ordinal
            RETURNING attempts
            """,
            new { update.MessageId, update.Ordinal, state = RecipientStateNames.Values.NameOf(after), changed, update.Code, update.Reply, at = update.At.ToUnixTimeMilliseconds() },
            transaction).ConfigureAwait(false);
        await connection.ExecuteAsync(
            """
            INSERT INTO delivery_attempts (message_id, ordinal, attempt, at, node, outcome, code, reply)
            VALUES (@MessageId, @Ordinal, @attempt, @at, @Node, @state, @Code, @Reply)
            """,
            new { update.MessageId, update.Ordinal, attempt, at = update.At.ToUnixTimeMilliseconds(), update.Node, state = RecipientStateNames.Values.NameOf(after), update.Code, update.Reply },
            transaction).ConfigureAwait(false);
        return (new BounceRecorded(ScopePath.Parse(target.Scope), target.Address, before, changed), attempt);
    }

    private sealed class TargetRow
    {
        public string Scope { get; set; } = "";
        public string Address { get; set; } = "";
        public string State { get; set; } = "";
    }

    private sealed class MailboxRow
    {
        public string ScopePath { get; set; } = "";
        public string Settings { get; set; } = "";
        public string? LastOutcome { get; set; }
        public long? LastReadAt { get; set; }
        public string? LeaseHolder { get; set; }
        public long? LeaseUntil { get; set; }
        public long UpdatedAt { get; set; }

        public BounceMailbox ToMailbox(Func<string, byte[]?> secret)
        {
            var scope = Herald.Scopes.ScopePath.Parse(ScopePath);
            return new BounceMailbox(scope, JsonSerializer.Deserialize<BounceMailboxSettings>(Settings, Json)!)
            {
                UserName = secret(SecretNames.BounceMailboxUserName(ScopePath)) is { } user ? new EncryptedSecret(user) : null,
                Password = secret(SecretNames.BounceMailboxPassword(ScopePath)) is { } password ? new EncryptedSecret(password) : null,
                LastOutcome = LastOutcome,
                LastReadAt = LastReadAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null,
            };
        }
    }
}
