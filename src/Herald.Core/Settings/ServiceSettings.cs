namespace Herald.Settings;

/// <summary>Settings of the whole service (one value for every node and the CLI), by name.</summary>
public interface IServiceSettingsStore
{
    Task<string?> GetAsync(string name, CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="value"/>, or removes the setting when it is null.</summary>
    Task SetAsync(string name, string? value, DateTimeOffset now, CancellationToken cancellationToken);
}
