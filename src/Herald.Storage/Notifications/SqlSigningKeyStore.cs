using Dapper;
using Herald.Notifications.Unsubscribe;
using Herald.Storage.Database;

namespace Herald.Storage.Notifications;

public sealed class SqlSigningKeyStore(HeraldDatabase database) : ISigningKeyStore
{
    public async Task<byte[]> GetOrCreateAsync(string purpose, byte[] candidate, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // The first node to insert wins; every other node (and this one, next time) reads its key.
        await connection.ExecuteAsync(
            "INSERT INTO signing_keys (purpose, key_material, created_at) VALUES (@purpose, @material, @now) ON CONFLICT (purpose) DO NOTHING",
            new { purpose, material = Convert.ToBase64String(candidate), now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        var stored = await connection.ExecuteScalarAsync<string>(
            "SELECT key_material FROM signing_keys WHERE purpose = @purpose", new { purpose }).ConfigureAwait(false);
        return Convert.FromBase64String(stored!);
    }
}
