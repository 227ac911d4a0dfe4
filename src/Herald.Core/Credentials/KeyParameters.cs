namespace Herald.Credentials;

/// <summary>What a database stores about its credential key, once: the salt and work factor of
/// the key derivation, and a check value that tells a node whether its passphrase is the right
/// one. None of it reveals the key.</summary>
public sealed record KeyParameters(byte[] Salt, int Iterations, byte[] CheckValue);
