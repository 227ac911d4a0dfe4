using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

namespace Herald.IntegrationTests.Delivery;

/// <summary><c>herald test-email</c> through a connection reserved for tagged nodes, from a
/// machine with and without those tags, against smtp-sink.</summary>
public sealed class TestEmailNodeTests
{
    [Fact]
    public async Task A_test_email_goes_only_from_a_node_that_may_use_the_connection_and_otherwise_says_which_nodes_can()
    {
        using var sink = SmtpSink.Start();
        using var herald = new HeraldCommandLine { Environment = { ["HERALD_CREDENTIAL_KEY"] = "node tags test passphrase" } };
        var set = await herald.RunAsync("smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none", "--from", "herald@example.org", "--node-tags", "dmz");
        Assert.True(set.ExitCode == 0, set.ToString());

        var untagged = await herald.RunAsync("test-email", "--to", "first@example.org");
        herald.Environment["HERALD_NODE_TAGS"] = "internal, DMZ";
        var tagged = await herald.RunAsync("test-email", "--to", "second@example.org");

        Assert.NotEqual(0, untagged.ExitCode);
        Assert.Contains("SMTP connection /:default is used only by nodes tagged dmz", untagged.Output + untagged.Error, StringComparison.Ordinal);
        Assert.Contains("has no tags", untagged.Output + untagged.Error, StringComparison.Ordinal);
        Assert.True(tagged.ExitCode == 0, tagged.ToString());
        var received = await sink.WaitForAsync(1, TimeSpan.FromSeconds(30));
        Assert.Equal(["second@example.org"], received.SelectMany(m => m.Recipients));
    }
}
