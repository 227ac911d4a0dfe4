using Dapper;
using Herald.Credentials;
using Herald.Settings;
using Herald.Storage.Database;

namespace Herald.Storage.Credentials;

public sealed class SqlConsoleKeyStore(HeraldDatabase database, TimeProvider time) : IConsoleKeyStore
{
    public async Task<IReadOnlyList<(string Name, EncryptedSecret Secret)>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string Name, byte[] Ciphertext)>(
            "SELECT name, ciphertext FROM secrets WHERE name >= @prefix AND name < @after ORDER BY name",
            new { prefix = SecretNames.ConsoleKeyPrefix, after = TextRange.After(SecretNames.ConsoleKeyPrefix) }).ConfigureAwait(false);
        return [.. rows.Select(r => (r.Name, new EncryptedSecret(r.Ciphertext)))];
    }

    public async Task<bool> AddAsync(string name, EncryptedSecret secret, KeyParameters sealedUnder, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(sealedUnder);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Serialized with 'herald key rotate' (which takes the same turn): the insert sees either
        // the check value from before a rotation, and the rotation then re-seals this row too, or
        // the one after it, and a row sealed under the old key is refused.
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var added = await connection.ExecuteAsync(
            """
            INSERT INTO secrets (name, ciphertext, updated_at)
            SELECT @name, @ciphertext, @now WHERE EXISTS (SELECT 1 FROM credential_key WHERE id = 1 AND check_value = @check)
            ON CONFLICT (name) DO NOTHING
            """,
            new { name, ciphertext = secret.Ciphertext, now = time.GetUtcNow().ToUnixTimeMilliseconds(), check = sealedUnder.CheckValue },
            write.Transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return added == 1;
    }
}
