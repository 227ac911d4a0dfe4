using System.Net;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Relay;

/// <summary>The console's relay pages posted to as a browser would, or as a hand-made request
/// can: what an administrator of <c>/</c> and one of <c>/hr</c> may change, read back with
/// <c>herald relay list</c> afterwards.</summary>
public sealed class RelayConsoleTests : IAsyncLifetime
{
    private const string RootPassword = "root's long password";
    private const string HrPassword = "hr's long password";

    private SmtpSink _sink = null!;
    private OutboxNode _node = null!;

    public async ValueTask InitializeAsync()
    {
        _sink = SmtpSink.Start();
        _node = await OutboxNode.StartAsync(_sink.Port, null, async cli =>
        {
            await OutboxNode.MustAsync(cli, "relay", "account", "add", "--scope", "/finance", "--user", "scanner", "--password-file", await PasswordFileAsync(cli, "finance scanner secret"));
            Assert.Equal(0, (await cli.RunWithInputAsync(RootPassword + "\n", "admin", "create", "--name", "root", "--scope", "/")).ExitCode);
            Assert.Equal(0, (await cli.RunWithInputAsync(HrPassword + "\n", "admin", "create", "--name", "hr", "--scope", "/hr")).ExitCode);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        _sink.Dispose();
    }

    [Fact]
    public async Task A_listener_form_posted_without_a_scope_never_stores_a_listener_in_root_for_a_scope_administrator()
    {
        using var hr = await ConsoleBrowser.SignInAsync(_node.Server, "hr", HrPassword);
        var listen = $"127.0.0.1:{LoopbackPort.Free()}";

        using var added = await hr.PostAsync("/relay", "/relay/listener?handler=Save", ("listen", listen), ("access", "only-list"), ("entries", "10.0.0.0/8"), ("auth", "none"));

        Assert.Equal(HttpStatusCode.Forbidden, added.StatusCode);
        Assert.Contains("only administrators of / add, move and remove them", WebUtility.HtmlDecode(await added.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)), StringComparison.Ordinal);
        Assert.DoesNotContain(listen, await RelayListAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scope_administrator_edits_the_lists_of_a_listener_of_its_scope_which_stays_where_it_is()
    {
        var listen = $"127.0.0.1:{LoopbackPort.Free()}";
        await OutboxNode.MustAsync(_node.Cli, "relay", "set", "--listen", listen, "--scope", "/hr", "--allow", "10.0.0.0/8");
        using var hr = await ConsoleBrowser.SignInAsync(_node.Server, "hr", HrPassword);

        // The page an administrator of /hr is given has no scope field to post, nor AUTH without TLS.
        var page = await hr.GetStringAsync($"/relay/listener?listen={Uri.EscapeDataString(listen)}");
        Assert.DoesNotContain("name=\"scope\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("name=\"authWithoutTls\"", page, StringComparison.Ordinal);
        using var saved = await hr.PostAsync(
            "/relay", $"/relay/listener?handler=Save&listen={Uri.EscapeDataString(listen)}",
            ("access", "only-list"), ("entries", "10.1.0.0/16\n192.0.2.7"), ("auth", "required"), ("senderDomains", ""), ("recipientDomains", "example.org"));

        Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
        var line = (await RelayListAsync()).Split('\n').Single(l => l.StartsWith(listen, StringComparison.Ordinal));
        Assert.Contains($"{listen}  scope /hr  only-list: 10.1.0.0/16, 192.0.2.7  auth required", line, StringComparison.Ordinal);
        Assert.Contains("recipient domains: example.org", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_account_name_with_a_space_before_it_cannot_move_another_scopes_account()
    {
        using var hr = await ConsoleBrowser.SignInAsync(_node.Server, "hr", HrPassword);
        var before = await AccountListAsync();

        using var posted = await hr.PostAsync("/relay", "/relay?handler=AddAccount", ("user", " scanner"), ("scope", "/hr"), ("password", "hr's takeover password"));

        // 'scanner' of /finance is, to an administrator of /hr, an account that is not there.
        Assert.Equal(HttpStatusCode.NotFound, posted.StatusCode);
        Assert.DoesNotContain("/finance", WebUtility.HtmlDecode(await posted.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)), StringComparison.Ordinal);
        Assert.Equal(before, await AccountListAsync());
        Assert.Matches(@"scanner\s+/finance\s", before);
    }

    [Fact]
    public async Task An_open_relay_is_refused_next_to_the_access_field_and_nothing_is_stored()
    {
        using var root = await ConsoleBrowser.SignInAsync(_node.Server, "root", RootPassword);
        var listen = $"0.0.0.0:{LoopbackPort.Free()}";

        using var posted = await root.PostAsync(
            "/relay/listener", "/relay/listener?handler=Save",
            ("listen", listen), ("scope", "/"), ("access", "all-except"), ("entries", ""), ("auth", "none"), ("authWithoutTls", "false"));

        Assert.Equal(HttpStatusCode.BadRequest, posted.StatusCode);
        Assert.Matches("<p class=\"field-error\" id=\"access-error\">[^<]*open relay", await posted.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.DoesNotContain(listen, await RelayListAsync(), StringComparison.Ordinal);
    }

    private async Task<string> RelayListAsync() => (await OutboxNode.MustAsync(_node.Cli, "relay", "list")).Output;

    private async Task<string> AccountListAsync() => (await OutboxNode.MustAsync(_node.Cli, "relay", "account", "list")).Output;

    private static async Task<string> PasswordFileAsync(Herald.Testing.HeraldCommandLine cli, string password)
    {
        var file = Path.Combine(cli.DataDirectory, "relay-password.txt");
        await File.WriteAllTextAsync(file, password + "\n", TestContext.Current.CancellationToken);
        return file;
    }
}
