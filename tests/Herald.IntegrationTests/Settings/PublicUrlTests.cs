using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Settings;

/// <summary>
/// The public URL as an administrator meets it: serve warns while links would point at a loopback
/// address, an administrator of / stores it through the API (and nobody else can), and a
/// notification the CLI queues — a rule's test — carries links that start with it, as serve's do.
/// </summary>
public sealed class PublicUrlTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_stored_public_url_starts_the_links_of_mail_queued_by_the_cli_and_only_an_administrator_of_the_root_sets_it()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        using var hr = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        await node.Server.WaitForOutputAsync("No public URL is set, so links in mail start with http://127.0.0.1:", TimeSpan.FromSeconds(30));
        var before = JsonDocument.Parse(await root.GetStringAsync(new Uri("api/v1/settings/public-url", UriKind.Relative), Ct)).RootElement;

        using var byScopeAdmin = await hr.PutAsJsonAsync("api/v1/settings/public-url", new { publicUrl = "https://evil.example.net" }, Ct);
        using var bad = await root.PutAsJsonAsync("api/v1/settings/public-url", new { publicUrl = "herald.example.org" }, Ct);
        using var set = await root.PutAsJsonAsync("api/v1/settings/public-url", new { publicUrl = "https://Herald.Example.org/" }, Ct);
        var shown = await OutboxNode.MustAsync(node.Cli, "settings", "show");

        Assert.Equal(("node", true), (before.GetProperty("source").GetString(), before.GetProperty("warning").GetString()!.Contains("loopback", StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.Forbidden, byScopeAdmin.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        Assert.Contains("publicUrl", await bad.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var stored = JsonDocument.Parse(await set.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(("https://herald.example.org", "stored", JsonValueKind.Null), (stored.GetProperty("publicUrl").GetString(), stored.GetProperty("source").GetString(), stored.GetProperty("warning").ValueKind));
        Assert.Contains("public url: https://herald.example.org (stored, used by every node)", shown.Output, StringComparison.Ordinal);

        // A rule's test is queued by the CLI process, which has no --urls of its own.
        (await root.PutAsJsonAsync("api/v1/users/alice", new { name = "Alice", email = "alice@example.com" }, Ct)).EnsureSuccessStatusCode();
        (await hr.PostAsJsonAsync("api/v1/rules", new { id = "failures", scope = "/hr", name = "Pipeline failures", eventTypes = new[] { "pipeline.failed" }, recipients = new[] { "user:alice" } }, Ct)).EnsureSuccessStatusCode();
        await OutboxNode.MustAsync(node.Cli, "rule", "test", "--id", "failures");

        var sample = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60))).ToMimeMessage();
        Assert.StartsWith("<https://herald.example.org/unsubscribe/", sample.Headers["List-Unsubscribe"], StringComparison.Ordinal);
        Assert.Contains("https://herald.example.org/unsubscribe/", sample.TextBody, StringComparison.Ordinal);
    }
}
