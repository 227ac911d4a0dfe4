using Herald.Testing;

namespace Herald.Tests.Cli;

/// <summary><c>herald relay …</c> against a real SQLite data directory, as the local operator.</summary>
public sealed class RelayCommandTests : IDisposable
{
    private readonly HeraldCommandLine _herald = new();

    [Fact]
    public async Task An_open_relay_is_refused_with_the_sentence_and_a_non_zero_exit_and_nothing_is_stored()
    {
        var open = await _herald.RunAsync("relay", "set", "--listen", "0.0.0.0:2526", "--deny", "192.0.2.7");
        var wide = await _herald.RunAsync("relay", "set", "--listen", "[::]:2526", "--allow", "::/0");

        Assert.Equal(1, open.ExitCode);
        Assert.Contains("herald: access: An anonymous listener on 0.0.0.0:2526 is reachable from other machines", open.Error, StringComparison.Ordinal);
        Assert.Contains("(an open relay)", open.Error, StringComparison.Ordinal);
        Assert.Equal(1, wide.ExitCode);
        Assert.Contains("herald: entries[0]: '::/0' admits nearly every address", wide.Error, StringComparison.Ordinal);
        var list = await _herald.RunAsync("relay", "list");
        Assert.DoesNotContain("2526", list.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_implied_default_is_listed_until_it_is_removed_and_other_listeners_leave_it_running()
    {
        Assert.Equal(0, (await _herald.RunAsync("relay", "set", "--listen", "0.0.0.0:2526", "--allow", "10.0.0.0/8", "--recipient-domain", "example.org")).ExitCode);
        Assert.Contains("127.0.0.1:2525  scope /  only-list: 127.0.0.0/8, ::1  auth none", (await _herald.RunAsync("relay", "list")).Output, StringComparison.Ordinal);

        var removed = await _herald.RunAsync("relay", "remove", "--listen", "127.0.0.1:2525");
        var again = await _herald.RunAsync("relay", "remove", "--listen", "127.0.0.1:2525");

        Assert.Equal((0, "Removed relay listener 127.0.0.1:2525.\n"), (removed.ExitCode, removed.Output));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("No such relay listener in the scopes you administer.", again.Error, StringComparison.Ordinal);
        var list = (await _herald.RunAsync("relay", "list")).Output;
        Assert.DoesNotContain("127.0.0.1:2525", list, StringComparison.Ordinal);
        Assert.Contains("0.0.0.0:2526", list, StringComparison.Ordinal);
    }

    public void Dispose() => _herald.Dispose();
}
