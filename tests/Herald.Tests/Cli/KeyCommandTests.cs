using Herald.Testing;

namespace Herald.Tests.Cli;

public sealed class KeyCommandTests : IDisposable
{
    private readonly HeraldCommandLine _herald = new();

    [Fact]
    public async Task Key_set_writes_an_owner_only_key_file_and_a_second_passphrase_is_refused()
    {
        var set = await _herald.RunWithInputAsync("first passphrase for the farm\n", "key", "set");
        Assert.True(set.ExitCode == 0, set.ToString());
        var keyFile = Path.Combine(_herald.DataDirectory, "credential.key");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        Assert.DoesNotContain("first passphrase", set.Output + set.Error, StringComparison.Ordinal);

        var other = await _herald.RunWithInputAsync("a different passphrase of the moth\n", "key", "set");

        Assert.NotEqual(0, other.ExitCode);
        Assert.Contains("not this database's credential key", other.Error, StringComparison.Ordinal);
        Assert.Equal("first passphrase for the farm\n", await File.ReadAllTextAsync(keyFile, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Key_status_names_a_mismatching_node_key()
    {
        await _herald.RunWithInputAsync("first passphrase for the farm\n", "key", "set");
        _herald.Environment["HERALD_CREDENTIAL_KEY"] = "the wrong passphrase here";

        var status = await _herald.RunAsync("key", "status");

        Assert.NotEqual(0, status.ExitCode);
        Assert.Contains("HERALD_CREDENTIAL_KEY environment variable does not match this database's key", status.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_rotate_keeps_secrets_usable_under_the_new_key_only()
    {
        await _herald.RunWithInputAsync("first passphrase for the farm\n", "key", "set");
        await _herald.RunWithInputAsync("s3cret\n", "smtp", "set", "--server", "smtp.example.org", "--security", "starttls-required", "--username", "alice", "--password-stdin");

        var rotate = await _herald.RunWithInputAsync("second passphrase for the farm\n", "key", "rotate");

        Assert.True(rotate.ExitCode == 0, rotate.ToString());
        Assert.Contains("Re-encrypted 1 secret(s)", rotate.Output, StringComparison.Ordinal);
        Assert.Equal(0, (await _herald.RunAsync("key", "status")).ExitCode);
        _herald.Environment["HERALD_CREDENTIAL_KEY"] = "first passphrase for the farm";
        Assert.NotEqual(0, (await _herald.RunAsync("key", "status")).ExitCode);
    }

    public void Dispose() => _herald.Dispose();
}
