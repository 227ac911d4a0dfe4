namespace Herald.Credentials;

/// <summary>Ciphertext sealed with the application credential key. Printing it never shows its
/// bytes, so a stray log line or exception message cannot leak even the ciphertext.</summary>
public sealed record EncryptedSecret(byte[] Ciphertext)
{
    public override string ToString() => "(encrypted secret)";

    public bool Equals(EncryptedSecret? other) =>
        other is not null && Ciphertext.AsSpan().SequenceEqual(other.Ciphertext);

    public override int GetHashCode() => Ciphertext.Length;
}
