namespace Herald.Credentials;

/// <summary>This node's credential key as checked against the database: unlocked once per
/// process (the derivation is deliberately slow) and then used to seal and open secrets.</summary>
public sealed class CredentialVault(ICredentialKeyStore store, NodePassphrase passphrase) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private CredentialKey? _key;

    public NodePassphrase Passphrase => passphrase;

    /// <summary>The key, or why there is none. With <paramref name="initializeDatabase"/>, a
    /// database that has no key yet adopts this node's.</summary>
    public async Task<CredentialKeyStatus> GetKeyAsync(bool initializeDatabase, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_key is not null)
            {
                return CredentialKeyStatus.Ready(_key);
            }

            var stored = await store.GetKeyParametersAsync(cancellationToken).ConfigureAwait(false);
            var phrase = passphrase.Read();
            if (phrase is null)
            {
                return stored is null ? CredentialKeyStatus.NotConfigured : CredentialKeyStatus.MissingOnNode;
            }

            if (stored is null)
            {
                if (!initializeDatabase)
                {
                    return CredentialKeyStatus.NotConfigured;
                }

                if (CredentialKey.CheckPassphrase(phrase) is { } weak)
                {
                    return new CredentialKeyStatus(null, weak);
                }

                using var fresh = CredentialKey.Create(phrase);
                stored = await store.InitializeKeyParametersAsync(fresh.Parameters, cancellationToken).ConfigureAwait(false);
            }

            _key = CredentialKey.Unlock(phrase, stored);
            return _key is null ? CredentialKeyStatus.Mismatch(passphrase) : CredentialKeyStatus.Ready(_key);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _key?.Dispose();
        _gate.Dispose();
    }
}

/// <summary>A key ready for use, or the sentence that says why there is none.</summary>
public sealed record CredentialKeyStatus(CredentialKey? Key, string? Problem)
{
    public static readonly CredentialKeyStatus NotConfigured = new(null,
        $"No credential key is set: set {NodePassphrase.EnvironmentVariable} or run 'herald key set' (reading the passphrase from standard input) before storing a secret.");

    public static readonly CredentialKeyStatus MissingOnNode = new(null,
        $"This database has a credential key but this node has none: set {NodePassphrase.EnvironmentVariable} or run 'herald key set' with the passphrase every node uses.");

    public static CredentialKeyStatus Ready(CredentialKey key) => new(key, null);

    public static CredentialKeyStatus Mismatch(NodePassphrase source) => new(null,
        $"The credential key from {source.Origin} does not match this database's key (the check value differs): give every node the same passphrase; nothing was sent or changed.");
}
