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

    public async Task<Administrator?> FindAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<Row>("SELECT * FROM administrators WHERE name = @name", new { name }).ConfigureAwait(false);
        return row?.ToAdministrator();
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
            """
            INSERT INTO administrators (name, scope_path, password_hash, failed_attempts, locked_until, created_at, security_stamp)
            VALUES (@name, @scope, @hash, 0, NULL, @created, @stamp)
            """,
            new { name = administrator.Name, scope = administrator.Scope.Value, hash = passwordHash, created = administrator.CreatedAt.ToUnixTimeMilliseconds(), stamp = administrator.SecurityStamp },
            write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<bool> SetPasswordAsync(string name, string passwordHash, string securityStamp, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE administrators SET password_hash = @passwordHash, security_stamp = @securityStamp, failed_attempts = 0, locked_until = NULL WHERE name = @name",
            new { name, passwordHash, securityStamp }).ConfigureAwait(false) > 0;
    }

    public async Task<bool> SetScopeAsync(string name, ScopePath scope, string securityStamp, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "UPDATE administrators SET scope_path = @scope, security_stamp = @securityStamp WHERE name = @name",
            new { name, scope = scope.Value, securityStamp }).ConfigureAwait(false) > 0;
    }

    public async Task<bool> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync("DELETE FROM administrators WHERE name = @name", new { name }).ConfigureAwait(false) > 0;
    }

    public async Task<(Administrator Administrator, string PasswordHash)?> ClaimSignInAttemptAsync(
        string name, DateTimeOffset now, int maxFailures, DateTimeOffset lockUntil, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        // One statement that reads and counts: concurrent attempts queue on the row (PostgreSQL
        // re-checks the WHERE against the row as the attempt before left it; SQLite has one
        // writer), so the attempt that makes the count reach maxFailures locks, and every later
        // one finds the lock and is not checked. A lock that has run out starts again at 1.
        var row = await connection.QuerySingleOrDefaultAsync<Row>(
            """
            UPDATE administrators SET
                failed_attempts = CASE WHEN locked_until IS NULL THEN failed_attempts + 1 ELSE 1 END,
                locked_until = CASE WHEN (CASE WHEN locked_until IS NULL THEN failed_attempts + 1 ELSE 1 END) >= @maxFailures THEN @lockUntil ELSE NULL END
            WHERE name = @name AND (locked_until IS NULL OR locked_until <= @now)
            RETURNING *
            """,
            new { name, now = now.ToUnixTimeMilliseconds(), maxFailures, lockUntil = lockUntil.ToUnixTimeMilliseconds() },
            write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return row is null ? null : (row.ToAdministrator(), row.PasswordHash);
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
        public string SecurityStamp { get; set; } = "";

        public Administrator ToAdministrator() => new(
            Name, Scopes.ScopePath.Parse(ScopePath), DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), (int)FailedAttempts,
            LockedUntil is { } until ? DateTimeOffset.FromUnixTimeMilliseconds(until) : null, SecurityStamp);
    }
}
