namespace Herald.Credentials;

/// <summary>The database's side of the credential key: its parameters and every sealed secret.</summary>
public interface ICredentialKeyStore
{
    Task<KeyParameters?> GetKeyParametersAsync(CancellationToken cancellationToken);

    /// <summary>Stores the parameters if the database has none yet, and returns the ones stored,
    /// which are another node's when it got there first.</summary>
    Task<KeyParameters> InitializeKeyParametersAsync(KeyParameters parameters, CancellationToken cancellationToken);

    /// <summary>In one transaction: re-seals every secret and replaces the parameters, provided
    /// the stored parameters are still <paramref name="current"/>. Nothing changes when
    /// <paramref name="reseal"/> returns null for any secret.</summary>
    Task<RotationOutcome> RotateKeyAsync(
        KeyParameters current,
        KeyParameters replacement,
        Func<string, EncryptedSecret, EncryptedSecret?> reseal,
        CancellationToken cancellationToken);
}

public sealed record RotationOutcome(int SecretsResealed, string? UnreadableSecret, bool ParametersChanged);
