using Herald.Scopes;

namespace Herald.Relay;

/// <summary>
/// A relay account: a user name for SMTP AUTH on the relay, bound to a scope. It may be used on
/// the listeners of its own scope and of the scopes below it (as an administrator key of
/// <c>/hr</c> also administers <c>/hr/payroll</c>); a message still goes into the listener's
/// scope. Only a slow hash of the password is kept (<see cref="RelayPasswords"/>).
/// </summary>
public sealed record RelayAccount(RelayUserName UserName, ScopePath Scope, string PasswordHash, DateTimeOffset CreatedAt)
{
    public bool MayUse(RelayListenerSettings listener) => listener.Scope.IsSameOrDescendantOf(Scope);

    public override string ToString() => $"RelayAccount {UserName} of {Scope}";
}

/// <summary>Relay listeners (by listen endpoint), relay accounts (by user name), and whether an
/// administrator of <c>/</c> removed the implied default listener.</summary>
public interface IRelayStore
{
    Task<IReadOnlyList<RelayListenerSettings>> ListListenersAsync(CancellationToken cancellationToken);

    /// <summary>Adds or replaces the listener with that endpoint.</summary>
    Task SaveListenerAsync(RelayListenerSettings listener, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the stored listener with that endpoint (if any) and, with
    /// <paramref name="removeDefault"/>, records that the implied default is removed too; one transaction.</summary>
    Task RemoveListenerAsync(string listen, bool removeDefault, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Whether an administrator of <c>/</c> removed the implied default listener.</summary>
    Task<bool> IsDefaultListenerRemovedAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<RelayAccount>> ListAccountsAsync(CancellationToken cancellationToken);

    Task<RelayAccount?> FindAccountAsync(RelayUserName userName, CancellationToken cancellationToken);

    /// <summary>Adds the account or replaces its password and scope; true when it is new.</summary>
    Task<bool> SaveAccountAsync(RelayAccount account, CancellationToken cancellationToken);

    Task<bool> RemoveAccountAsync(RelayUserName userName, CancellationToken cancellationToken);
}
