using Herald.Testing;

namespace Herald.Tests.Cli;

/// <summary><c>herald rule …</c> and <c>herald subscription …</c> against a real SQLite data directory.</summary>
public sealed class NotificationCommandTests : IDisposable
{
    private readonly HeraldCommandLine _herald = new();

    [Fact]
    public async Task A_rule_is_added_listed_and_removed_and_a_bad_recipient_or_condition_is_named()
    {
        Assert.Equal(0, (await _herald.RunAsync("scope", "add", "/hr")).ExitCode);
        Assert.Equal(0, (await _herald.RunAsync("group", "add", "release-team", "--name", "Release team")).ExitCode);

        var bad = await _herald.RunAsync("rule", "add", "--id", "bad", "--scope", "/hr", "--to", "ops@example.com", "--to", "team:x", "--where", "status");
        var added = await _herald.RunAsync(
            "rule", "add", "--id", "failures", "--scope", "/hr", "--type", "pipeline.failed", "--where", "branch in main,release",
            "--to", "ops@example.com", "--to", "group:release-team");
        var listed = await _herald.RunAsync("rule", "list", "--scope", "/hr");
        var removed = await _herald.RunAsync("rule", "remove", "--id", "failures");
        var again = await _herald.RunAsync("rule", "remove", "--id", "failures");
        var empty = await _herald.RunAsync("rule", "list");

        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("recipients[1]", bad.Error, StringComparison.Ordinal);
        Assert.Contains("herald: conditions[0].operator: ", bad.Error, StringComparison.Ordinal);
        Assert.True(added.ExitCode == 0, added.ToString());
        Assert.Contains("failures  scope /hr  types: pipeline.failed  paths: any  where branch in main,release  to: ops@example.com, group:release-team", listed.Output, StringComparison.Ordinal);
        Assert.Equal(0, removed.ExitCode);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Equal("", empty.Output);
    }

    [Fact]
    public async Task A_subscription_with_a_bad_schedule_is_refused_with_the_field_and_nothing_is_stored()
    {
        var missingTime = await _herald.RunAsync("subscription", "add", "--id", "s1", "--owner", "user:alice", "--frequency", "daily");
        var badDay = await _herald.RunAsync("subscription", "add", "--id", "s1", "--owner", "user:alice", "--frequency", "weekly", "--at", "08:00", "--day", "someday");
        var list = await _herald.RunAsync("subscription", "list");

        Assert.Contains("at: A daily summary needs the time", missingTime.Error, StringComparison.Ordinal);
        Assert.Contains("day: A weekly summary needs the day", badDay.Error, StringComparison.Ordinal);
        Assert.Equal(0, list.ExitCode);
        Assert.Equal("", list.Output);
    }

    public void Dispose() => _herald.Dispose();
}
