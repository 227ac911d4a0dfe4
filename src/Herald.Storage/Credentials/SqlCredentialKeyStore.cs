using Dapper;
using Herald.Credentials;
using Herald.Storage.Database;

namespace Herald.Storage.Credentials;

public sealed class SqlCredentialKeyStore(HeraldDatabase database, TimeProvider time) : ICredentialKeyStore
{
    public async Task<KeyParameters?> GetKeyParametersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<(byte[] Salt, long Iterations, byte[] CheckValue)?>(
            "SELECT salt, iterations, check_value FROM credential_key WHERE id = 1").ConfigureAwait(false);
        return row is { } r ? new KeyParameters(r.Salt, (int)r.Iterations, r.CheckValue) : null;
    }

    public async Task<KeyParameters> InitializeKeyParametersAsync(KeyParameters parameters, CancellationToken cancellationToken)
    {
        await using (var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false))
        {
            // Two nodes starting together: the first insert wins and both use its parameters.
            await connection.ExecuteAsync(
                """
                INSERT INTO credential_key (id, salt, iterations, check_value, updated_at) VALUES (1, @Salt, @Iterations, @CheckValue, @now)
                ON CONFLICT (id) DO NOTHING
                """,
                new { parameters.Salt, parameters.Iterations, parameters.CheckValue, now = time.GetUtcNow().ToUnixTimeMilliseconds() }).ConfigureAwait(false);
        }

        return (await GetKeyParametersAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<RotationOutcome> RotateKeyAsync(
        KeyParameters current, KeyParameters replacement, Func<string, EncryptedSecret, EncryptedSecret?> reseal, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var write = await database.BeginSerializedWriteAsync(connection, cancellationToken).ConfigureAwait(false);
        var transaction = write.Transaction;
        var stored = await connection.QuerySingleOrDefaultAsync<byte[]>(
            "SELECT check_value FROM credential_key WHERE id = 1", transaction: transaction).ConfigureAwait(false);
        if (stored is null || !stored.AsSpan().SequenceEqual(current.CheckValue))
        {
            return new RotationOutcome(0, null, ParametersChanged: false);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var secrets = (await connection.QueryAsync<(string Name, byte[] Ciphertext)>(
            "SELECT name, ciphertext FROM secrets ORDER BY name", transaction: transaction).ConfigureAwait(false)).ToArray();
        foreach (var (name, ciphertext) in secrets)
        {
            if (reseal(name, new EncryptedSecret(ciphertext)) is not { } resealed)
            {
                // Leaving without commit rolls back everything re-sealed so far.
                return new RotationOutcome(0, name, ParametersChanged: false);
            }

            await connection.ExecuteAsync(
                "UPDATE secrets SET ciphertext = @ciphertext, updated_at = @now WHERE name = @name",
                new { name, ciphertext = resealed.Ciphertext, now }, transaction).ConfigureAwait(false);
        }

        await connection.ExecuteAsync(
            "UPDATE credential_key SET salt = @Salt, iterations = @Iterations, check_value = @CheckValue, updated_at = @now WHERE id = 1",
            new { replacement.Salt, replacement.Iterations, replacement.CheckValue, now }, transaction).ConfigureAwait(false);
        await write.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new RotationOutcome(secrets.Length, null, ParametersChanged: true);
    }
}
