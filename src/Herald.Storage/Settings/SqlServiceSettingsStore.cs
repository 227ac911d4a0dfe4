using Dapper;
using Herald.Settings;
using Herald.Storage.Database;

namespace Herald.Storage.Settings;

public sealed class SqlServiceSettingsStore(HeraldDatabase database) : IServiceSettingsStore
{
    public async Task<string?> GetAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<string?>("SELECT value FROM service_settings WHERE name = @name", new { name }).ConfigureAwait(false);
    }

    public async Task SetAsync(string name, string? value, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(
            value is null
                ? "DELETE FROM service_settings WHERE name = @name"
                : "INSERT INTO service_settings (name, value, updated_at) VALUES (@name, @value, @now) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            new { name, value, now = now.ToUnixTimeMilliseconds() }).ConfigureAwait(false);
    }
}
