using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Testing;
using Microsoft.Data.Sqlite;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Notifications;

/// <summary>
/// Rules and subscriptions tested before they are saved, through the doors an administrator uses
/// (the API, <c>herald rule test --draft</c>, the console's "Test before saving"): a sample goes
/// to each recipient now, the answer shown is the server's own for each, and nothing is stored.
/// </summary>
public sealed class TestBeforeSavingTests(PostfixFixture postfix)
{
    private const string Password = "root's long password";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_draft_rule_and_subscription_tested_through_the_api_are_accepted_per_recipient_and_nothing_is_stored()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        await MustAsync(await admin.PutAsJsonAsync("api/v1/users/alice", new { name = "Alice", email = "alice@example.org", timeZone = "UTC", language = "en" }, Ct), HttpStatusCode.Created);
        await MustAsync(await admin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:alice", level = "view" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);

        var rule = await TestedAsync(admin, "api/v1/rules/test", new
        {
            scope = "/hr", name = "Failed builds", eventTypes = new[] { "pipeline.failed" }, recipients = new[] { "ops@example.org", "user:alice" },
        });
        Assert.Equal(2, rule.GetProperty("reached").GetInt32());
        Assert.Equal(["alice@example.org", "ops@example.org"], Accepted(rule).Order(StringComparer.Ordinal));

        var subscription = await TestedAsync(admin, "api/v1/subscriptions/test", new { scope = "/hr", owner = "user:alice", name = "HR daily", frequency = "daily", at = "08:00" });
        Assert.Equal(["alice@example.org"], Accepted(subscription));

        // What smtp-sink received is what each reply was about: three samples, one per recipient.
        var received = await sink.WaitForAsync(3, TimeSpan.FromSeconds(30));
        Assert.Equal(["alice@example.org", "alice@example.org", "ops@example.org"], received.Select(m => Assert.Single(m.Recipients)).Order(StringComparer.Ordinal));
        Assert.Contains(received, m => (m.ToMimeMessage().Subject ?? "").Contains("test of rule 'Failed builds'", StringComparison.Ordinal));
        Assert.Contains(received, m => (m.ToMimeMessage().Subject ?? "").StartsWith("Daily summary of HR daily", StringComparison.Ordinal));

        // Nothing stored: no rule, no subscription, no outbox row.
        Assert.Equal((0, 0, 0), await CountsAsync(node.Cli.DataDirectory));
    }

    [Fact]
    public async Task A_draft_rule_tested_from_the_cli_against_postfix_shows_postfixs_refusal_for_one_recipient_and_acceptance_for_the_other()
    {
        using var herald = new HeraldCommandLine();
        Assert.Equal(0, (await herald.RunAsync("smtp", "set", "--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "none", "--from", "herald@example.org")).ExitCode);
        var accepted = PostfixFixture.NewRecipient("ok");
        var refused = PostfixFixture.NewRecipient("reject");

        var result = await herald.RunAsync("rule", "test", "--draft", "--name", "On call", "--type", "pipeline.failed", "--to", accepted, "--to", refused);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("Test of rule: 2 recipient(s) reached now.", result.Output, StringComparison.Ordinal);
        Assert.Contains($"{accepted}: accepted: 250 2.0.0 Ok: queued as", result.Output, StringComparison.Ordinal);
        Assert.Matches($"{refused}: refused: 550 5\\.1\\.1 .*{refused}", result.Output);
        Assert.Contains("herald: Accepted for 1 of 2 recipient(s).", result.Error, StringComparison.Ordinal);
        Assert.Contains("test of rule 'On call'", System.Text.Encoding.UTF8.GetString(await postfix.WaitForMessageAsync(accepted)), StringComparison.Ordinal);
        Assert.Empty(postfix.Delivered(refused));
        Assert.Equal((0, 0, 0), await CountsAsync(herald.DataDirectory));
    }

    [Fact]
    public async Task A_draft_with_a_bad_field_is_refused_naming_the_field_and_sends_nothing()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));

        using var rule = await admin.PostAsJsonAsync("api/v1/rules/test", new { scope = "/hr", name = "Nobody", recipients = new[] { "user:nobody" } }, Ct);
        using var subscription = await admin.PostAsJsonAsync("api/v1/subscriptions/test", new { scope = "/hr", owner = "user:alice", frequency = "hourly" }, Ct);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, rule.StatusCode);
        var ruleErrors = JsonDocument.Parse(await rule.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("errors");
        Assert.Equal("There is no user:nobody in the directory.", ruleErrors.GetProperty("recipients[0]")[0].GetString());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, subscription.StatusCode);
        Assert.True(JsonDocument.Parse(await subscription.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("errors").TryGetProperty("frequency", out _));
        Assert.Empty(sink.Received());
    }

    [Fact]
    public async Task An_administrator_of_one_scope_cannot_test_a_draft_in_another()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var hr = node.Server.Client(await node.KeyAsync("/hr", "admin"));

        using var response = await hr.PostAsJsonAsync("api/v1/rules/test", new { scope = "/finance", name = "Elsewhere", recipients = new[] { "ops@example.org" } }, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("may not manage the rules of scope /finance", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Empty(sink.Received());
    }

    [Fact]
    public async Task The_consoles_test_before_saving_shows_the_servers_answer_per_recipient_and_saves_nothing()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        Assert.Equal(0, (await node.Cli.RunWithInputAsync(Password + "\n", "admin", "create", "--name", "root", "--scope", "/")).ExitCode);
        using var console = await ConsoleBrowser.SignInAsync(node.Server, "root", Password);

        using var posted = await console.PostAsync(
            "/rules/edit", "/rules/edit?handler=TestDraft", ("name", "Console draft"), ("scope", "/hr"), ("eventTypes", "item.changed"), ("addresses", "ops@example.org"));

        var page = await posted.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Contains("Accepted for 1 of 1 recipient.", page, StringComparison.Ordinal);
        Assert.Matches("<code>ops@example.org</code></td>\\s*<td data-label=\"Outcome\"><span class=\"badge badge-good\">accepted</span></td>\\s*<td data-label=\"Server reply\"><code class=\"wrap\">250 ", page);
        Assert.Equal(["ops@example.org"], Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(30))).Recipients);
        Assert.Equal((0, 0, 0), await CountsAsync(node.Cli.DataDirectory));
    }

    private static async Task<JsonElement> TestedAsync(HttpClient admin, string route, object draft) =>
        JsonDocument.Parse(await MustAsync(await admin.PostAsJsonAsync(route, draft, Ct), HttpStatusCode.OK)).RootElement;

    /// <summary>The recipients the server accepted, each reply being the server's 250.</summary>
    private static string[] Accepted(JsonElement tested) =>
        tested.GetProperty("recipients").EnumerateArray().Select(r =>
        {
            Assert.Equal("accepted", r.GetProperty("outcome").GetString());
            Assert.StartsWith("250 ", r.GetProperty("reply").GetString(), StringComparison.Ordinal);
            return r.GetProperty("address").GetString()!;
        }).ToArray();

    /// <summary>Rules, subscriptions and outbox messages in the node's database.</summary>
    private static async Task<(long Rules, long Subscriptions, long Messages)> CountsAsync(string dataDirectory)
    {
        await using var db = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "herald.db")};Mode=ReadOnly");
        return (await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notification_rules"),
            await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM subscriptions"),
            await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM messages"));
    }
}
