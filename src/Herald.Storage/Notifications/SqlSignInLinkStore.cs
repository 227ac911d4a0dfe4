using Dapper;
using Herald.Notifications.SelfService;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

/// <summary>Sign-in link requests and links (migration 0022). The limits are counted and the
/// request stored in one serialized write, so that requests racing on several nodes cannot
/// together pass a limit; a link is used by one conditional UPDATE, so exactly one of two nodes
/// that race on it signs somebody in.</summary>
public sealed class SqlSignInLinkStore(HeraldDatabase database) : ISignInLinkStore
{
    public async Task<bool> AddRequestAsync(SignInLinkRequest request, DateTimeOffset since, int perAddress, int perClient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var counts = await connection.QuerySingleAsync<(long ForAddress, long FromClient)>(
            """
            SELECT (SELECT COUNT(*) FROM sign_in_links WHERE address = @address AND requested_at >= @since),
                   (SELECT COUNT(*) FROM sign_in_links WHERE client = @client AND requested_at >= @since)
            """,
            new { address = request.Address, client = request.Client, since = since.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
        if (counts.ForAddress >= perAddress || counts.FromClient >= perClient)
        {
            return false;
        }

        await connection.ExecuteAsync(
            "INSERT INTO sign_in_links (id, address, client, requested_at, state) VALUES (@id, @address, @client, @at, 'requested')",
            new { id = request.Id, address = request.Address, client = request.Client, at = request.RequestedAt.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<IReadOnlyList<SignInLinkRequest>> ClaimAsync(int most, DateTimeOffset now, DateTimeOffset until, CancellationToken cancellationToken)
    {
        const string Waiting = """
            SELECT id FROM sign_in_links
            WHERE state = 'requested' AND (claimed_until IS NULL OR claimed_until < @now)
            ORDER BY requested_at LIMIT @most
            """;
        var sql = database.Engine == "postgres"
            ? $"""
               UPDATE sign_in_links AS s SET claimed_until = @until
               FROM ({Waiting} FOR UPDATE SKIP LOCKED) AS w WHERE s.id = w.id
               RETURNING s.id, s.address, s.client, s.requested_at
               """
            : $"""
               UPDATE sign_in_links SET claimed_until = @until WHERE id IN ({Waiting})
               RETURNING id, address, client, requested_at
               """;
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var rows = (await connection.QueryAsync<(string Id, string Address, string Client, long RequestedAt)>(
            sql, new { most, now = now.ToUnixTimeMilliseconds(), until = until.ToUnixTimeMilliseconds() }, write.Transaction).ConfigureAwait(false)).ToArray();
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(r => r.RequestedAt).Select(r => new SignInLinkRequest(r.Id, r.Address, r.Client, DateTimeOffset.FromUnixTimeMilliseconds(r.RequestedAt)))];
    }

    public async Task CompleteAsync(string id, SignInLinkOutcome outcome, string? userId, string? tokenHash, DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        var state = outcome switch
        {
            SignInLinkOutcome.Sent => "sent",
            SignInLinkOutcome.NoUser => "no-user",
            _ => "failed",
        };
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            """
            UPDATE sign_in_links SET state = @state, claimed_until = NULL, user_id = @userId, token_hash = @tokenHash, expires_at = @expires
            WHERE id = @id AND state = 'requested'
            """,
            new { id, state, userId, tokenHash, expires = expiresAt?.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task ReleaseAsync(string id, DateTimeOffset retryAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Claimable again once retryAt has passed (the claim takes rows whose claim ran out).
        await connection.ExecuteAsync(
            "UPDATE sign_in_links SET claimed_until = @until WHERE id = @id AND state = 'requested'",
            new { id, until = retryAt.ToUnixTimeMilliseconds() - 1 }).ConfigureAwait(false);
    }

    public async Task<string?> FindUnusedAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.QuerySingleOrDefaultAsync<string?>(
            "SELECT user_id FROM sign_in_links WHERE token_hash = @tokenHash AND used_at IS NULL AND expires_at > @now",
            new { tokenHash, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task<string?> ConsumeAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // One statement: of two uses racing on any nodes, one finds used_at still NULL.
        return await connection.QuerySingleOrDefaultAsync<string?>(
            """
            UPDATE sign_in_links SET used_at = @now
            WHERE token_hash = @tokenHash AND used_at IS NULL AND expires_at > @now
            RETURNING user_id
            """,
            new { tokenHash, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }

    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(
            "DELETE FROM sign_in_links WHERE requested_at < @before", new { before = before.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }
}
