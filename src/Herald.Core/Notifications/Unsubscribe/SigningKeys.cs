namespace Herald.Notifications.Unsubscribe;

/// <summary>Keys that sign links, one per purpose, shared by every node through the database.</summary>
public interface ISigningKeyStore
{
    /// <summary>The stored key of the purpose; when there is none yet, <paramref name="candidate"/>
    /// is stored and returned. Two nodes that race both get the one key that was stored first.</summary>
    Task<byte[]> GetOrCreateAsync(string purpose, byte[] candidate, DateTimeOffset now, CancellationToken cancellationToken);
}
