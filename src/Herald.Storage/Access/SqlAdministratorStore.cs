using Dapper;
using Herald.Access;
using Herald.Scopes;
using Herald.Storage.Database;

namespace Herald.Storage.Access;

public sealed class SqlAdministratorStore(HeraldDatabase database) : IAdministratorStore
{
    public async Task<IReadOnlyList<Administrator>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<Row>("SELECT * FROM administrators ORDER BY name").ConfigureAwait(false);
        return rows.Select(r => r.ToAdministrator()).ToArray();
    }

    public async Task<(Administrator Administrator, string PasswordHash)?> FindAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<Row>("SELECT * FROM administrators WHERE name = @name", new { name }).ConfigureAwait(false);
        return row is null ? null : (row.ToAdministrator(), row.PasswordHash);
    }

    public Task<bool> CreateAsync(Administrator administrator, string passwordHash, CancellationToken cancellationToken) =>
        InsertAsync(administrator, passwordHash, onlyIfNone: false, cancellationToken);

    public Task<bool> CreateFirstAsync(Administrator administrator, string passwordHash, CancellationToken cancellationToken) =>
        InsertAsync(administrator, passwordHash, onlyIfNone: true, cancellationToken);

    private async Task<bool> InsertAsync(Administrator administrator, string passwordHash, bool onlyIfNone, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Serialized: two set-up links used at once on two nodes create one administrator, not two.
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var exists = await connection.ExecuteScalarAsync<long>(
            onlyIfNone ? "SELECT COUNT(*) FROM administrators" : "SELECT COUNT(*) FROM administrators WHERE name = @name",
            new { name = administrator.Name }, write.Transaction).ConfigureAwait(false);
        if (exists > 0)
        {
            return false;
        }

        await connection.ExecuteAsync(
            "INSERT INTO administrators (name, scope_path, password_hash, failed_attempts, locked_until, created_at) VALUES (@name, @scope, @hash, 0, NULL, @created)",
            new { name = administrator.Name, scope = administrator.Scope.Value, hash = passwordHash, created = administrator.CreatedAt.ToUnixTimeMilliseconds() },
            write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<bool> SetPasswordAsync(string name, string passwordHash, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE administrators SET password_hash = @passwordHash, failed_attempts = 0, locked_until = NULL WHERE name = @name",
            new { name, passwordHash }).ConfigureAwait(false) > 0;
    }

    public async Task<bool> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM administrators WHERE name = @name", new { name }).ConfigureAwait(false) > 0;
    }

    public async Task RecordFailureAsync(string name, DateTimeOffset now, int maxFailures, DateTimeOffset lockUntil, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // One statement, so that concurrent failures all count. A lock-out that has run out starts
        // the count again at this failure.
        await connection.ExecuteAsync(
            """
            UPDATE administrators SET
                failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= @now THEN 1 ELSE failed_attempts + 1 END,
                locked_until = CASE
                    WHEN locked_until IS NOT NULL AND locked_until <= @now THEN NULL
                    WHEN failed_attempts + 1 >= @maxFailures THEN @lockUntil
                    ELSE locked_until END
            WHERE name = @name
            """,
            new { name, now = now.ToUnixTimeMilliseconds(), maxFailures, lockUntil = lockUntil.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task RecordSuccessAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            "UPDATE administrators SET failed_attempts = 0, locked_until = NULL WHERE name = @name AND (failed_attempts <> 0 OR locked_until IS NOT NULL)",
            new { name }).ConfigureAwait(false);
    }

    private sealed class Row
    {
        public string Name { get; set; } = "";
        public string ScopePath { get; set; } = "";
        public string PasswordHash { get; set; } = "";
        public long FailedAttempts { get; set; }
        public long? LockedUntil { get; set; }
        public long CreatedAt { get; set; }

        public Administrator ToAdministrator() => new(
            Name, Scopes.ScopePath.Parse(ScopePath), DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), (int)FailedAttempts,
            LockedUntil is { } until ? DateTimeOffset.FromUnixTimeMilliseconds(until) : null);
    }
}
