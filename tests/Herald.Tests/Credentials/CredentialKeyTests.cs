using System.Text;
using Herald.Credentials;

namespace Herald.Tests.Credentials;

public sealed class CredentialKeyTests
{
    private const string Passphrase = "correct horse battery staple";

    [Fact]
    public void Sealed_secret_opens_with_the_same_key_and_name()
    {
        using var key = CredentialKey.Create(Passphrase, iterations: 1000);
        var secret = key.Seal("s3cret-pass", "smtp-connection/default/password");

        Assert.Equal(-1, secret.Ciphertext.AsSpan().IndexOf("s3cret-pass"u8));
        Assert.True(key.TryOpen(secret, "smtp-connection/default/password", out var plaintext));
        Assert.Equal("s3cret-pass", Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public void Wrong_passphrase_is_refused_by_the_check_value()
    {
        using var key = CredentialKey.Create(Passphrase, iterations: 1000);

        Assert.Null(CredentialKey.Unlock("another passphrase entirely", key.Parameters));
        using var same = CredentialKey.Unlock(Passphrase, key.Parameters);
        Assert.NotNull(same);
    }

    [Fact]
    public void Tampered_ciphertext_is_detected()
    {
        using var key = CredentialKey.Create(Passphrase, iterations: 1000);
        var secret = key.Seal("s3cret-pass", "name");
        foreach (var index in new[] { 1, 13, secret.Ciphertext.Length - 1 })
        {
            var altered = (byte[])secret.Ciphertext.Clone();
            altered[index] ^= 0x01;
            Assert.False(key.TryOpen(new EncryptedSecret(altered), "name", out _));
        }
    }

    [Fact]
    public void Secret_moved_to_another_name_does_not_open()
    {
        using var key = CredentialKey.Create(Passphrase, iterations: 1000);
        var secret = key.Seal("s3cret-pass", "smtp-connection/a/password");

        Assert.False(key.TryOpen(secret, "smtp-connection/b/password", out _));
    }

    [Fact]
    public void Secret_sealed_under_another_key_does_not_open()
    {
        using var first = CredentialKey.Create(Passphrase, iterations: 1000);
        using var second = CredentialKey.Create(Passphrase, iterations: 1000);

        Assert.False(second.TryOpen(first.Seal("x", "name"), "name", out _));
    }

    [Fact]
    public void Printing_a_secret_never_shows_its_bytes()
    {
        using var key = CredentialKey.Create(Passphrase, iterations: 1000);
        var secret = key.Seal("s3cret-pass", "name");

        Assert.Equal("(encrypted secret)", secret.ToString());
    }

    [Fact]
    public void Short_passphrases_are_refused()
    {
        Assert.NotNull(CredentialKey.CheckPassphrase("short"));
        Assert.Null(CredentialKey.CheckPassphrase(Passphrase));
    }

    [Theory]
    [InlineData("password1234")]
    [InlineData("aaaaaaaaaaaaaaaa")]
    [InlineData("qwertyuiop12")]
    [InlineData("hunter2hunter2")]
    [InlineData("herald credential key")]
    [InlineData("Herald-Passphrase-2026")]
    public void Long_enough_but_guessable_passphrases_are_refused_with_a_sentence_that_does_not_repeat_them(string passphrase)
    {
        var problem = CredentialKey.CheckPassphrase(passphrase);

        Assert.NotNull(problem);
        Assert.StartsWith("The credential key passphrase is too easy to guess (strength ", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(passphrase, problem, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("correct horse battery staple")]
    [InlineData("w8$Lq!2vP#n9Zr")]
    [InlineData("otter lantern gravel mosaic")]
    public void Hard_to_guess_passphrases_are_accepted(string passphrase) => Assert.Null(CredentialKey.CheckPassphrase(passphrase));

    [Fact]
    public void A_huge_passphrase_is_estimated_quickly_and_a_long_repetition_is_still_refused()
    {
        Assert.NotNull(CredentialKey.CheckPassphrase(new string('a', 1_000_000)));
        Assert.Null(CredentialKey.CheckPassphrase(string.Concat(Enumerable.Range(0, 20_000).Select(i => (char)('!' + (i * 7919 % 90))))));
    }
}
