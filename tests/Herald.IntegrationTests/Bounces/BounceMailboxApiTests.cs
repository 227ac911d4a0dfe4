using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Bounces;

/// <summary>
/// The bounce mailbox's API door on a real <c>herald serve</c>: what a client sends, what it sees
/// back, and what another scope's administrator cannot touch. The rules are
/// <c>BounceMailboxService</c>'s; these tests show the door translates them faithfully.
/// </summary>
public sealed class BounceMailboxApiTests(PostfixFixture postfix)
{
    private const string UserName = "bounce-reader-7f3k";
    private const string Password = "pw-never-shown-9q2x";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_mailbox_set_through_the_api_never_returns_its_user_name_or_password_only_that_they_are_set()
    {
        await using var node = await StartAsync();
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));

        using var created = await admin.PutAsJsonAsync(Mailbox("/hr"), Body("hr.example.org"), Ct);
        var createdText = await created.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var changed = await admin.PutAsJsonAsync(Mailbox("/hr"), new { folder = "Bounces" }, Ct);
        var changedText = await changed.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);

        var shownText = await admin.GetStringAsync(Mailbox("/hr"), Ct);
        foreach (var text in new[] { createdText, changedText, shownText })
        {
            Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(UserName, text, StringComparison.Ordinal);
        }

        var shown = JsonDocument.Parse(shownText).RootElement;
        Assert.Equal("/hr", shown.GetProperty("scope").GetString());
        Assert.Equal("imap", shown.GetProperty("protocol").GetString());
        Assert.Equal("127.0.0.1", shown.GetProperty("host").GetString());
        Assert.Equal(9, shown.GetProperty("port").GetInt32());
        Assert.Equal("none", shown.GetProperty("security").GetString());
        Assert.Equal("hr.example.org", shown.GetProperty("domain").GetString());
        Assert.Equal("Bounces", shown.GetProperty("folder").GetString());
        Assert.Equal("set", shown.GetProperty("userName").GetString());
        Assert.Equal("set", shown.GetProperty("password").GetString());

        // The CLI sees the same mailbox the API saved.
        var cli = await OutboxNode.MustAsync(node.Cli, "bounce-mailbox", "show", "--scope", "/hr");
        Assert.Contains("imap://127.0.0.1:9 (none, trust system, folder Bounces)  bounce domain hr.example.org  user name set, password set", cli.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, cli.Output, StringComparison.Ordinal);

        using var removed = await admin.DeleteAsync(Mailbox("/hr"), Ct);
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        using var gone = await admin.GetAsync(Mailbox("/hr"), Ct);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task A_scope_administrator_cannot_reach_another_or_a_lookalike_scopes_mailbox_and_nothing_changes()
    {
        await using var node = await StartAsync();
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        using var hr = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        foreach (var scope in new[] { "/finance", "/hrx" })
        {
            using var set = await root.PutAsJsonAsync(Mailbox(scope), Body(scope.TrimStart('/') + ".example.org"), Ct);
            Assert.Equal(HttpStatusCode.Created, set.StatusCode);
        }

        foreach (var scope in new[] { "/finance", "/hrx" })
        {
            var before = await root.GetStringAsync(Mailbox(scope), Ct);
            using var get = await hr.GetAsync(Mailbox(scope), Ct);
            using var put = await hr.PutAsJsonAsync(Mailbox(scope), new { domain = "taken.example.org", password = "another" }, Ct);
            using var read = await hr.PostAsync(new Uri($"api/v1/bounce-mailbox/read?scope={Uri.EscapeDataString(scope)}", UriKind.Relative), null, Ct);
            using var delete = await hr.DeleteAsync(Mailbox(scope), Ct);
            Assert.All(new[] { get, put, read, delete }, r => Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode));
            Assert.DoesNotContain(scope.TrimStart('/') + ".example.org", await get.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
            // Not even a read was recorded: the mailbox is exactly as it was.
            Assert.Equal(before, await root.GetStringAsync(Mailbox(scope), Ct));
        }
    }

    [Theory]
    [InlineData("host", "not a host!")]
    [InlineData("port", 70000)]
    [InlineData("security", "tls-please")]
    [InlineData("protocol", "smtp")]
    public async Task A_malformed_field_is_refused_with_422_naming_it_and_nothing_is_saved(string field, object value)
    {
        await using var node = await StartAsync();
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        var body = new Dictionary<string, object>
        {
            ["protocol"] = "imap", ["host"] = "127.0.0.1", ["security"] = "none", ["domain"] = "hr.example.org", ["userName"] = UserName, ["password"] = Password,
            [field] = value,
        };

        using var response = await admin.PutAsJsonAsync(Mailbox("/hr"), body, Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        using var shown = await admin.GetAsync(Mailbox("/hr"), Ct);
        Assert.Equal(HttpStatusCode.NotFound, shown.StatusCode);
    }

    [Fact]
    public async Task Reading_now_through_the_api_reads_the_real_mailbox_and_says_why_when_it_cannot()
    {
        using var dovecot = await DovecotMailbox.StartAsync(postfix);
        await using var node = await StartAsync();
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var set = await admin.PutAsJsonAsync(Mailbox("/hr"), new
        {
            protocol = "imap", host = "127.0.0.1", port = dovecot.ImapsPort, security = "implicit-tls", domain = "example.net",
            trustCa = await File.ReadAllTextAsync(postfix.Pki("ca.pem"), Ct), userName = "bounces", password = DovecotMailbox.Password,
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, set.StatusCode);

        var read = await ReadNowAsync(admin, "/hr");
        Assert.True(read.GetProperty("read").GetBoolean(), read.ToString());
        Assert.Equal("No new mail.", read.GetProperty("summary").GetString());

        // A wrong password: the server's refusal is the answer, and the mailbox's last outcome.
        using var wrong = await admin.PutAsJsonAsync(Mailbox("/hr"), new { password = "not-the-password" }, Ct);
        Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        var failed = await ReadNowAsync(admin, "/hr");
        Assert.False(failed.GetProperty("read").GetBoolean());
        var problem = failed.GetProperty("problem").GetString()!;
        Assert.DoesNotContain("not-the-password", failed.ToString(), StringComparison.Ordinal);
        var shown = JsonDocument.Parse(await admin.GetStringAsync(Mailbox("/hr"), Ct)).RootElement;
        Assert.Equal(problem, shown.GetProperty("lastOutcome").GetString());
    }

    private static async Task<JsonElement> ReadNowAsync(HttpClient http, string scope)
    {
        using var response = await http.PostAsync(new Uri($"api/v1/bounce-mailbox/read?scope={Uri.EscapeDataString(scope)}", UriKind.Relative), null, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement;
    }

    private static Uri Mailbox(string scope) => new($"api/v1/bounce-mailbox?scope={Uri.EscapeDataString(scope)}", UriKind.Relative);

    private static object Body(string domain) =>
        new { protocol = "imap", host = "127.0.0.1", port = 9, security = "none", domain, userName = UserName, password = Password };

    // No mail is sent in these tests: the smart host's port does not matter.
    private static Task<OutboxNode> StartAsync() =>
        OutboxNode.StartAsync(9, null, cli => OutboxNode.MustAsync(cli, "scope", "add", "/hrx"));
}
