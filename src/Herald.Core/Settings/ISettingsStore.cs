using Herald.Scopes;

namespace Herald.Settings;

/// <summary>Scopes, SMTP connections and each scope's own outgoing settings.</summary>
public interface ISettingsStore
{
    Task<IReadOnlyList<ScopePath>> ListScopesAsync(CancellationToken cancellationToken);

    Task<bool> ScopeExistsAsync(ScopePath scope, CancellationToken cancellationToken);

    /// <summary>Adds a scope whose parent exists; false if it already existed.</summary>
    Task<bool> AddScopeAsync(ScopePath scope, CancellationToken cancellationToken);

    /// <summary>Removes a scope that has no children, with its own settings.</summary>
    Task<bool> RemoveScopeAsync(ScopePath scope, CancellationToken cancellationToken);

    /// <summary>The scope's own settings and its ancestors', nearest first (scopes that set nothing are left out).</summary>
    Task<IReadOnlyList<ScopeOutgoingSettings>> GetOutgoingChainAsync(ScopePath scope, CancellationToken cancellationToken);

    /// <summary>Every scope's own settings (scopes that set nothing are left out).</summary>
    Task<IReadOnlyList<ScopeOutgoingSettings>> ListOutgoingAsync(CancellationToken cancellationToken);

    /// <summary>The connection with that <see cref="SmtpConnection.Id"/>, or null.</summary>
    Task<SmtpConnection?> GetConnectionAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<SmtpConnection>> ListConnectionsAsync(CancellationToken cancellationToken);

    /// <summary>Saves a scope's settings and, if given, the connection it uses, in one transaction.</summary>
    Task SaveOutgoingAsync(ScopeOutgoingSettings settings, SmtpConnection? connection, CancellationToken cancellationToken);

    /// <summary>Adds or replaces one connection (and its secrets) without touching any scope's settings.</summary>
    Task SaveConnectionAsync(SmtpConnection connection, CancellationToken cancellationToken);

    /// <summary>Replaces the sealed refresh token of an OAuth connection (the provider rotated it),
    /// only while the connection exists and the database's credential key is the one it was sealed
    /// under (<paramref name="keyCheckValue"/>); false when nothing was written.</summary>
    Task<bool> SaveRefreshTokenAsync(string id, Credentials.EncryptedSecret refreshToken, byte[] keyCheckValue, CancellationToken cancellationToken);

    /// <summary>Deletes a connection and its secrets unless a scope's own settings name it, in one
    /// transaction; returns the scopes that use it (nothing was deleted then), or none.</summary>
    Task<IReadOnlyList<ScopePath>> DeleteConnectionAsync(string id, CancellationToken cancellationToken);

    /// <summary>Deletes a scope's own settings so that it inherits everything again, and the
    /// connection with id <paramref name="ownConnection"/> if no other scope uses it.</summary>
    Task<bool> DeleteOutgoingAsync(ScopePath scope, string? ownConnection, CancellationToken cancellationToken);
}
