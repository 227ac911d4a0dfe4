using Dapper;
using Herald.Relay;
using Herald.Scopes;
using Herald.Storage.Database;

namespace Herald.Storage.Relay;

public sealed class SqlRelayStore(HeraldDatabase database) : IRelayStore
{
    public async Task<IReadOnlyList<RelayListenerSettings>> ListListenersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ListenerRow>("SELECT * FROM relay_listeners ORDER BY listen").ConfigureAwait(false);
        return rows.Select(r => r.ToSettings()).ToArray();
    }

    public async Task SaveListenerAsync(RelayListenerSettings listener, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(ListenerRow.Upsert, ListenerRow.From(listener, now)).ConfigureAwait(false);
    }

    public async Task RemoveListenerAsync(string listen, bool removeDefault, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync("DELETE FROM relay_listeners WHERE listen = @listen", new { listen }, write.Transaction).ConfigureAwait(false);
        if (removeDefault)
        {
            await connection.ExecuteAsync(
                "INSERT INTO relay_default_listener (id, removed_at) VALUES (1, @now) ON CONFLICT (id) DO NOTHING",
                new { now = now.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> IsDefaultListenerRemovedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM relay_default_listener").ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlyList<RelayAccount>> ListAccountsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<AccountRow>("SELECT * FROM relay_accounts ORDER BY user_name").ConfigureAwait(false);
        return rows.Select(r => r.ToAccount()).ToArray();
    }

    public async Task<RelayAccount?> FindAccountAsync(RelayUserName userName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<AccountRow>(
            "SELECT * FROM relay_accounts WHERE user_name = @userName", new { userName = userName.Value }).ConfigureAwait(false);
        return row?.ToAccount();
    }

    public async Task<bool> SaveAccountAsync(RelayAccount account, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var parameters = new { UserName = account.UserName.Value, scope = account.Scope.Value, hash = account.PasswordHash, created = account.CreatedAt.ToUnixTimeMilliseconds() };
        var updated = await connection.ExecuteAsync(
            "UPDATE relay_accounts SET scope_path = @scope, password_hash = @hash WHERE user_name = @UserName", parameters, write.Transaction).ConfigureAwait(false);
        if (updated == 0)
        {
            await connection.ExecuteAsync(
                "INSERT INTO relay_accounts (user_name, scope_path, password_hash, created_at) VALUES (@UserName, @scope, @hash, @created)",
                parameters, write.Transaction).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return updated == 0;
    }

    public async Task<bool> RemoveAccountAsync(RelayUserName userName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM relay_accounts WHERE user_name = @userName", new { userName = userName.Value }).ConfigureAwait(false) > 0;
    }

    /// <summary>A row of <c>relay_listeners</c>: lists one item per line, modes by their written names.</summary>
    private sealed class ListenerRow
    {
        public const string Upsert = """
            INSERT INTO relay_listeners (listen, scope_path, access, entries, auth, sender_domains, recipient_domains, auth_without_tls, updated_at)
            VALUES (@Listen, @ScopePath, @Access, @Entries, @Auth, @SenderDomains, @RecipientDomains, @AuthWithoutTls, @UpdatedAt)
            ON CONFLICT (listen) DO UPDATE SET scope_path = excluded.scope_path, access = excluded.access, entries = excluded.entries,
                auth = excluded.auth, sender_domains = excluded.sender_domains, recipient_domains = excluded.recipient_domains,
                auth_without_tls = excluded.auth_without_tls, updated_at = excluded.updated_at
            """;

        public string Listen { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string Access { get; set; } = "";
        public string Entries { get; set; } = "";
        public string Auth { get; set; } = "";
        public string SenderDomains { get; set; } = "";
        public string RecipientDomains { get; set; } = "";
        public long AuthWithoutTls { get; set; }
        public long UpdatedAt { get; set; }

        public static ListenerRow From(RelayListenerSettings l, DateTimeOffset now) => new()
        {
            Listen = l.Listen,
            ScopePath = l.Scope.Value,
            Access = RelayAccessModeNames.Values.NameOf(l.Access),
            Entries = string.Join('\n', l.Entries),
            Auth = RelayAuthModeNames.Values.NameOf(l.Auth),
            SenderDomains = string.Join('\n', l.SenderDomains),
            RecipientDomains = string.Join('\n', l.RecipientDomains),
            AuthWithoutTls = l.AuthWithoutTls ? 1 : 0,
            UpdatedAt = now.ToUnixTimeMilliseconds(),
        };

        public RelayListenerSettings ToSettings() => new(
            Listen, Scopes.ScopePath.Parse(ScopePath), RelayAccessModeNames.Values.Parse(Access), Split(Entries),
            RelayAuthModeNames.Values.Parse(Auth), Split(SenderDomains), Split(RecipientDomains), AuthWithoutTls != 0);

        private static string[] Split(string list) => list.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private sealed class AccountRow
    {
        public string UserName { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string PasswordHash { get; set; } = "";
        public long CreatedAt { get; set; }

        public RelayAccount ToAccount() =>
            new(RelayUserName.FromStored(UserName), Scopes.ScopePath.Parse(ScopePath), PasswordHash, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt));
    }
}
