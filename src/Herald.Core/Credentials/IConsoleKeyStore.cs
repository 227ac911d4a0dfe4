namespace Herald.Credentials;

/// <summary>
/// The web console's Data Protection key ring (what signs its cookies and anti-forgery tokens),
/// kept as sealed rows of the secrets table named <see cref="Settings.SecretNames.ConsoleKey"/>:
/// every node on the database reads the same ring, and <c>herald key rotate</c> re-seals it with
/// every other secret.
/// </summary>
public interface IConsoleKeyStore
{
    /// <summary>Every stored element of the ring, by its secret name.</summary>
    Task<IReadOnlyList<(string Name, EncryptedSecret Secret)>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Adds an element sealed under the key whose parameters are <paramref name="sealedUnder"/>,
    /// provided the database's key is still that one (a node started before a rotation must not
    /// add a row nobody else can open, which would also stop the next rotation). False when it
    /// is not, or when an element of that name exists; nothing is stored then.</summary>
    Task<bool> AddAsync(string name, EncryptedSecret secret, KeyParameters sealedUnder, CancellationToken cancellationToken);
}
