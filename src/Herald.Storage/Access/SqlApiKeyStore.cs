using Dapper;
using Herald.Access;
using Herald.Scopes;
using Herald.Storage.Database;

namespace Herald.Storage.Access;

public sealed class SqlApiKeyStore(HeraldDatabase database) : IApiKeyStore
{
    public async Task SaveAsync(ApiKey key, byte[] secretHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "INSERT INTO api_keys (id, secret_hash, scope_path, role, name, created_at) VALUES (@Id, @hash, @scope, @role, @Name, @created)",
            new { key.Id, hash = secretHash, scope = key.Scope.Value, role = ApiKeyRoleNames.Values.NameOf(key.Role), key.Name, created = key.CreatedAt.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task<(ApiKey Key, byte[] SecretHash)?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<Row>("SELECT * FROM api_keys WHERE id = @id", new { id }).ConfigureAwait(false);
        return row is null ? null : (row.ToKey(), row.SecretHash);
    }

    public async Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>("SELECT * FROM api_keys ORDER BY created_at").ConfigureAwait(false);
        return rows.Select(r => r.ToKey()).ToArray();
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL", new { id, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false) > 0;
    }

    private sealed class Row
    {
        public string Id { get; set; } = "";
        public byte[] SecretHash { get; set; } = [];
        public string ScopePath { get; set; } = "";
        public string Role { get; set; } = "";
        public string? Name { get; set; }
        public long CreatedAt { get; set; }
        public long? RevokedAt { get; set; }

        public ApiKey ToKey() => new(
            Id, Scopes.ScopePath.Parse(ScopePath), ApiKeyRoleNames.Values.Parse(Role), Name,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), RevokedAt is { } revoked ? DateTimeOffset.FromUnixTimeMilliseconds(revoked) : null);
    }
}
