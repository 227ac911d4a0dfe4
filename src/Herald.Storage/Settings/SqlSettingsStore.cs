using System.Data.Common;
using Dapper;
using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Database;

namespace Herald.Storage.Settings;

public sealed class SqlSettingsStore(HeraldDatabase database, TimeProvider time) : ISettingsStore
{
    public async Task<IReadOnlyList<ScopePath>> ListScopesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var paths = await connection.QueryAsync<string>("SELECT path FROM scopes ORDER BY path").ConfigureAwait(false);
        return paths.Select(ScopePath.Parse).ToArray();
    }

    public async Task<bool> ScopeExistsAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ScopeExistsAsync(connection, null, scope).ConfigureAwait(false);
    }

    public async Task<bool> AddScopeAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        if (await ScopeExistsAsync(connection, transaction, scope).ConfigureAwait(false))
        {
            return false;
        }

        if (scope.Parent is { } parent && !await ScopeExistsAsync(connection, transaction, parent).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"Scope {parent} does not exist; callers add parents first.");
        }

        await connection.ExecuteAsync(
            "INSERT INTO scopes (path, created_at) VALUES (@path, @now)", new { path = scope.Value, now = Now() }, transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<bool> RemoveScopeAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (scope.IsRoot)
        {
            return false;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var prefix = scope.Value + "/";
        var children = await connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM scopes WHERE substr(path, 1, @length) = @prefix", new { length = prefix.Length, prefix }, transaction).ConfigureAwait(false);
        if (children > 0)
        {
            return false;
        }

        // Its own settings go with it (ON DELETE CASCADE), and so do the connections it owns: only
        // the scope and the scopes below it (there are none) could use them.
        var owned = (await connection.QueryAsync<string>(
            "SELECT name FROM smtp_connections WHERE owner_scope = @path", new { path = scope.Value }, transaction).ConfigureAwait(false)).ToArray();
        var removed = await connection.ExecuteAsync("DELETE FROM scopes WHERE path = @path", new { path = scope.Value }, transaction).ConfigureAwait(false);
        // Its groups outlive it, in the scope above: other groups, subscriptions and access lists
        // may name them, and their members keep receiving.
        if (removed > 0 && await connection.ExecuteAsync(
            "UPDATE directory_groups SET scope_path = @parent WHERE scope_path = @path",
            new { parent = scope.Parent!.Value.Value, path = scope.Value }, transaction).ConfigureAwait(false) > 0)
        {
            await connection.ExecuteAsync("UPDATE directory_revision SET revision = revision + 1 WHERE id = 1", transaction: transaction).ConfigureAwait(false);
        }

        foreach (var id in owned)
        {
            await DeleteConnectionRowAsync(connection, transaction, id).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    public async Task<IReadOnlyList<ScopeOutgoingSettings>> GetOutgoingChainAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // The scope itself, / and every path that is a prefix of the scope's up to a '/'. (Not
        // "IN @paths": Dapper sends a list to PostgreSQL as one array parameter.)
        var rows = await connection.QueryAsync<OutgoingRow>(
            """
            SELECT * FROM outgoing_settings
            WHERE scope_path = @path OR scope_path = '/' OR substr(@path, 1, length(scope_path) + 1) = scope_path || '/'
            """,
            new { path = scope.Value }).ConfigureAwait(false);
        return rows.Select(r => r.ToSettings()).OrderByDescending(s => s.Scope.Value.Length).ToArray();
    }

    public async Task<IReadOnlyList<ScopeOutgoingSettings>> ListOutgoingAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<OutgoingRow>("SELECT * FROM outgoing_settings ORDER BY scope_path").ConfigureAwait(false);
        return rows.Select(r => r.ToSettings()).ToArray();
    }

    public async Task<SmtpConnection?> GetConnectionAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<ConnectionRow>(
            "SELECT * FROM smtp_connections WHERE name = @id", new { id }).ConfigureAwait(false);
        return row is null ? null : await WithSecretsAsync(connection, row).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<SmtpConnection>> ListConnectionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ConnectionRow>("SELECT * FROM smtp_connections ORDER BY owner_scope, short_name").ConfigureAwait(false);
        var result = new List<SmtpConnection>();
        foreach (var row in rows)
        {
            result.Add(await WithSecretsAsync(connection, row).ConfigureAwait(false));
        }

        return result;
    }

    public async Task SaveOutgoingAsync(ScopeOutgoingSettings settings, SmtpConnection? connection, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(db, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var now = Now();
        if (connection is not null)
        {
            await SaveConnectionRowAsync(db, transaction, connection, now).ConfigureAwait(false);
        }

        await db.ExecuteAsync(OutgoingRow.Upsert, OutgoingRow.From(settings, now), transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task SaveConnectionAsync(SmtpConnection connection, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(db, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var now = Now();
        await SaveConnectionRowAsync(db, transaction, connection, now).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> SaveRefreshTokenAsync(string id, EncryptedSecret refreshToken, byte[] keyCheckValue, CancellationToken cancellationToken)
    {
        await using var db = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(db, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var current = await db.QuerySingleOrDefaultAsync<byte[]>("SELECT check_value FROM credential_key WHERE id = 1", transaction: transaction).ConfigureAwait(false);
        var oauth = await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM smtp_connections WHERE name = @id AND oauth IS NOT NULL", new { id }, transaction).ConfigureAwait(false);
        if (current is null || !current.AsSpan().SequenceEqual(keyCheckValue) || oauth == 0)
        {
            return false;
        }

        await SaveSecretAsync(db, transaction, SecretNames.OAuthRefreshToken(id), refreshToken, Now()).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static async Task SaveConnectionRowAsync(DbConnection db, DbTransaction transaction, SmtpConnection connection, long now)
    {
        await db.ExecuteAsync(ConnectionRow.Upsert, ConnectionRow.From(connection, now), transaction).ConfigureAwait(false);
        var oauth = connection.Authentication.OAuth;
        var secrets = new (string Name, EncryptedSecret? Secret)[]
        {
            (SecretNames.ConnectionPassword(connection.Id), connection.Authentication.Password),
            (SecretNames.ConnectionClientCertificate(connection.Id), connection.ClientCertificate?.Pkcs12),
            (SecretNames.OAuthClientSecret(connection.Id), oauth?.ClientSecret),
            (SecretNames.OAuthClientCertificate(connection.Id), oauth?.ClientCertificate?.Pkcs12),
            (SecretNames.OAuthServiceAccountKey(connection.Id), oauth?.ServiceAccountKey),
            (SecretNames.OAuthRefreshToken(connection.Id), oauth?.RefreshToken),
        };
        foreach (var (name, secret) in secrets)
        {
            await SaveSecretAsync(db, transaction, name, secret, now).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<ScopePath>> DeleteConnectionAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var usedBy = (await connection.QueryAsync<string>(
            "SELECT scope_path FROM outgoing_settings WHERE connection_name = @id ORDER BY scope_path", new { id }, transaction).ConfigureAwait(false))
            .Select(ScopePath.Parse).ToArray();
        if (usedBy.Length == 0)
        {
            await DeleteConnectionRowAsync(connection, transaction, id).ConfigureAwait(false);
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return usedBy;
    }

    public async Task<bool> DeleteOutgoingAsync(ScopePath scope, string? ownConnection, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var removed = await connection.ExecuteAsync(
            "DELETE FROM outgoing_settings WHERE scope_path = @path", new { path = scope.Value }, transaction).ConfigureAwait(false);
        if (ownConnection is not null)
        {
            var users = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM outgoing_settings WHERE connection_name = @name", new { name = ownConnection }, transaction).ConfigureAwait(false);
            if (users == 0)
            {
                await DeleteConnectionRowAsync(connection, transaction, ownConnection).ConfigureAwait(false);
            }
        }

        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return removed > 0;
    }

    /// <summary>A connection's row and its secrets, by their exact names (the secrets table holds
    /// more than connections' secrets). Messages still waiting that were stored for it are stored
    /// for no connection from now on: they leave through whatever their scope uses when they are
    /// sent, and a claim that names the connections it takes (see the outbox's claim) still finds them.</summary>
    private static async Task DeleteConnectionRowAsync(DbConnection connection, DbTransaction transaction, string id)
    {
        foreach (var name in SecretNames.OfConnection(id))
        {
            await connection.ExecuteAsync("DELETE FROM secrets WHERE name = @name", new { name }, transaction).ConfigureAwait(false);
        }

        await connection.ExecuteAsync(
            """
            DELETE FROM smtp_connections WHERE name = @id;
            UPDATE messages SET connection_name = NULL WHERE state = 'pending' AND connection_name = @id;
            """,
            new { id },
            transaction).ConfigureAwait(false);
    }

    private static async Task<bool> ScopeExistsAsync(DbConnection connection, DbTransaction? transaction, ScopePath scope) =>
        await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM scopes WHERE path = @path", new { path = scope.Value }, transaction).ConfigureAwait(false) > 0;

    private static async Task SaveSecretAsync(DbConnection connection, DbTransaction transaction, string name, EncryptedSecret? secret, long now)
    {
        if (secret is null)
        {
            await connection.ExecuteAsync("DELETE FROM secrets WHERE name = @name", new { name }, transaction).ConfigureAwait(false);
            return;
        }

        await connection.ExecuteAsync(
            """
            INSERT INTO secrets (name, ciphertext, updated_at) VALUES (@name, @ciphertext, @now)
            ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at
            """,
            new { name, ciphertext = secret.Ciphertext, now },
            transaction).ConfigureAwait(false);
    }

    private static async Task<SmtpConnection> WithSecretsAsync(DbConnection connection, ConnectionRow row)
    {
        // By exact names (no LIKE on names): the connection's own secrets and nothing else. The
        // names are bound as separate parameters; Dapper would send a list as one array to PostgreSQL.
        var names = SecretNames.OfConnection(row.Name);
        var parameters = new DynamicParameters();
        for (var i = 0; i < names.Count; i++)
        {
            parameters.Add($"n{i}", names[i]);
        }

        var secrets = (await connection.QueryAsync<(string Name, byte[] Ciphertext)>(
                $"SELECT name, ciphertext FROM secrets WHERE name IN ({string.Join(", ", names.Select((_, i) => $"@n{i}"))})", parameters).ConfigureAwait(false))
            .ToDictionary(s => s.Name, s => new EncryptedSecret(s.Ciphertext));
        return row.ToConnection(
            secrets.GetValueOrDefault(SecretNames.ConnectionPassword(row.Name)),
            secrets.GetValueOrDefault(SecretNames.ConnectionClientCertificate(row.Name)),
            secrets.GetValueOrDefault);
    }

    private long Now() => time.GetUtcNow().ToUnixTimeMilliseconds();
}
