using Herald.Testing;

namespace Herald.Tests.Cli;

/// <summary><c>herald admin</c>: console administrators from the command line, passwords from standard input only.</summary>
public sealed class AdminCommandTests : IDisposable
{
    private readonly HeraldCommandLine _herald = new();

    [Fact]
    public async Task Admin_create_reads_the_password_from_stdin_and_list_never_prints_it()
    {
        await _herald.RunAsync("scope", "add", "/hr");

        var created = await _herald.RunWithInputAsync("a long enough password\n", "admin", "create", "--name", "bob", "--scope", "/hr");
        var list = await _herald.RunAsync("admin", "list");

        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Matches(@"^bob\s+/hr\s+created ", list.Output);
        Assert.DoesNotContain("a long enough password", created.Output + created.Error + list.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_input_names_the_field_and_creates_nothing()
    {
        var shortPassword = await _herald.RunWithInputAsync("short\n", "admin", "create", "--name", "bob");
        var noScope = await _herald.RunWithInputAsync("a long enough password\n", "admin", "create", "--name", "bob", "--scope", "/nowhere");
        var noPassword = await _herald.RunAsync("admin", "create", "--name", "bob");

        Assert.Equal(1, shortPassword.ExitCode);
        Assert.Contains("password: A password is 10 to 1024 characters", shortPassword.Error, StringComparison.Ordinal);
        Assert.Contains("scope: Scope '/nowhere' does not exist", noScope.Error, StringComparison.Ordinal);
        Assert.Equal(1, noPassword.ExitCode);
        Assert.Equal("", (await _herald.RunAsync("admin", "list")).Output);
    }

    [Fact]
    public async Task Reset_password_and_remove_act_on_an_existing_administrator_only()
    {
        await _herald.RunWithInputAsync("a long enough password\n", "admin", "create", "--name", "alice");

        Assert.Equal(0, (await _herald.RunWithInputAsync("another long password\n", "admin", "reset-password", "--name", "alice")).ExitCode);
        Assert.Contains("No administrator is named 'carol'", (await _herald.RunWithInputAsync("another long password\n", "admin", "reset-password", "--name", "carol")).Error, StringComparison.Ordinal);
        Assert.Equal(0, (await _herald.RunAsync("admin", "remove", "--name", "alice")).ExitCode);
        Assert.Contains("No administrator is named 'alice'", (await _herald.RunAsync("admin", "remove", "--name", "alice")).Error, StringComparison.Ordinal);
        Assert.Equal("", (await _herald.RunAsync("admin", "list")).Output);
    }

    public void Dispose() => _herald.Dispose();
}
