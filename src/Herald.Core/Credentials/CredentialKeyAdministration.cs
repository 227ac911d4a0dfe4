namespace Herald.Credentials;

/// <summary><c>herald key set</c> and <c>herald key rotate</c>.</summary>
public sealed class CredentialKeyAdministration(ICredentialKeyStore store, NodePassphrase node)
{
    /// <summary>Gives this node the database's key (or the database its first key) and saves it
    /// in the node's key file. Returns a sentence for the administrator; Succeeded says whether it worked.</summary>
    public async Task<(bool Succeeded, string Message)> SetAsync(string passphrase, CancellationToken cancellationToken)
    {
        if (CredentialKey.CheckPassphrase(passphrase) is { } weak)
        {
            return (false, weak);
        }

        var stored = await store.GetKeyParametersAsync(cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            using var fresh = CredentialKey.Create(passphrase);
            stored = await store.InitializeKeyParametersAsync(fresh.Parameters, cancellationToken).ConfigureAwait(false);
        }

        using var key = CredentialKey.Unlock(passphrase, stored);
        if (key is null)
        {
            return (false, "That passphrase is not this database's credential key; nothing was changed. To change the key, run 'herald key rotate' on a node that has the current one.");
        }

        node.WriteKeyFile(passphrase);
        var note = node.FromEnvironment
            ? $" Note: {NodePassphrase.EnvironmentVariable} is set in this environment and takes precedence over the file."
            : "";
        return (true, $"Credential key saved to {node.KeyFilePath} (readable by its owner only); it matches this database.{note}");
    }

    /// <summary>Re-seals every secret under a new passphrase in one transaction.</summary>
    public async Task<(bool Succeeded, string Message)> RotateAsync(CredentialVault vault, string newPassphrase, CancellationToken cancellationToken)
    {
        if (CredentialKey.CheckPassphrase(newPassphrase) is { } weak)
        {
            return (false, weak);
        }

        var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
        if (status.Key is not { } current)
        {
            return (false, status.Problem ?? "No credential key is set, so there is nothing to rotate: run 'herald key set'.");
        }

        using var next = CredentialKey.Create(newPassphrase);
        var outcome = await store.RotateKeyAsync(
            current.Parameters,
            next.Parameters,
            (name, secret) => current.TryOpen(secret, name, out var plaintext) ? next.Seal(plaintext, name) : null,
            cancellationToken).ConfigureAwait(false);

        if (outcome.UnreadableSecret is { } unreadable)
        {
            return (false, $"The secret '{unreadable}' cannot be decrypted with the current key (it was altered or sealed under another key); nothing was changed.");
        }

        if (!outcome.ParametersChanged)
        {
            return (false, "The database's credential key changed while rotating (another node rotated it); nothing was changed.");
        }

        if (node.FromEnvironment)
        {
            return (true, $"Re-encrypted {outcome.SecretsResealed} secret(s) under the new key. Set {NodePassphrase.EnvironmentVariable} to the new passphrase on every node now.");
        }

        node.WriteKeyFile(newPassphrase);
        return (true, $"Re-encrypted {outcome.SecretsResealed} secret(s) under the new key and saved it to {node.KeyFilePath}. Give every other node the new passphrase ('herald key set').");
    }
}
