using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.IntegrationTests.Storage;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Explain;

/// <summary>
/// "Why did (or didn't) this person get it?" as an administrator asks it: a real <c>herald serve</c>
/// on SQLite or PostgreSQL, Postfix's smtp-sink as the smart host, one event reaching eight
/// candidates for every reason there is, explained through the API and the CLI.
/// </summary>
public sealed class ExplainEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task One_event_reaching_eight_candidates_is_explained_for_each_through_the_api_and_the_cli(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine, migrate: false);
        using var sink = SmtpSink.Start();
        await using var node = await StartAsync(sink, db);
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        var entry = await EightCandidatesAsync(root);

        await PostEventAsync(admin, "doc-4711");
        var received = await sink.WaitForAsync(2, TimeSpan.FromSeconds(60));
        Assert.Equal(["alice@example.org", "erin@example.org"], received.Select(m => Assert.Single(m.Recipients)).Order(StringComparer.Ordinal));

        // Delivered: alice's explanation names her message as sent, with the sink's reply.
        var explanation = await WaitForAsync(admin, "doc-4711", e => Candidates(e).Any(c => c.UserId == "alice" && c.State == "sent"));
        var byWho = Candidates(explanation).ToLookup(c => c.UserId ?? c.Address);
        Assert.Equal(8, Candidates(explanation).Count);
        Assert.Equal(
            ["actor", "already-reached", "digest", "mailed", "mailed", "no-view", "opted-out", "suppressed"],
            Candidates(explanation).Select(c => c.Outcome).Order(StringComparer.Ordinal));
        Assert.StartsWith("Mailed through subscription 'Alice' (s-alice): message ", byWho["alice"].Single().Reason, StringComparison.Ordinal);
        Assert.Contains(", sent (", byWho["alice"].Single().Reason, StringComparison.Ordinal);
        Assert.Equal("Not mailed: no View on /hr (subscription 'Bob' (s-bob)).", byWho["bob"].Single().Reason);
        Assert.Equal("Not mailed: opted out of subscription 'Team' (s-team).", byWho["carol"].Single().Reason);
        Assert.Equal("Not mailed: the event's actor, and subscription 'Team' (s-team) leaves the actor out.", byWho["dave"].Single().Reason);
        Assert.Equal("mailed", byWho["erin"].Single().Outcome);
        Assert.Equal("Not mailed again through rule 'Ops' (r-ops): already reached through subscription 'Team' (s-team).", byWho["erin@example.org"].Single().Reason);
        Assert.StartsWith($"Not sent (subscription 'Team' (s-team)): Suppressed: gina@example.org is on the suppression list of /hr since ", byWho["gina"].Single().Reason, StringComparison.Ordinal);
        Assert.EndsWith($"(hard-bounce, source DSN; entry {entry}).", byWho["gina"].Single().Reason, StringComparison.Ordinal);
        Assert.Equal("suppressed", byWho["gina"].Single().State);
        Assert.Matches(@"^Waiting for the daily digest of subscription 'Hank daily' \(s-hank\), window ending \d{4}-\d\d-\d\d 08:00 UTC\.$", byWho["hank"].Single().Reason);

        // One person, by address or by user id.
        var gina = await ExplainAsync(admin, "doc-4711", "gina@EXAMPLE.org");
        Assert.Equal(["suppressed"], Candidates(gina).Select(c => c.Outcome));

        // The CLI says the same, on the node's data.
        var all = (await OutboxNode.MustAsync(node.Cli, "explain", "event", "doc-4711", "--scope", "/hr")).Output;
        Assert.Contains("Event doc-4711 of /hr (item.changed: Policy 4711), fanned out ", all, StringComparison.Ordinal);
        Assert.Contains("subscription 'Team' (s-team), immediate", all, StringComparison.Ordinal);
        Assert.Contains("subscription 'Hank daily' (s-hank), daily", all, StringComparison.Ordinal);
        Assert.Contains("rule 'Ops' (r-ops), immediate", all, StringComparison.Ordinal);
        Assert.Contains("Candidates: 2 mailed, 1 no-view, 1 opted-out, 1 actor, 1 already-reached, 1 suppressed, 1 digest", all, StringComparison.Ordinal);
        foreach (var c in Candidates(explanation))
        {
            Assert.Contains($"{c.Outcome}  {c.Reason.Split(": message ")[0]}", all, StringComparison.Ordinal);
        }

        var carol = (await OutboxNode.MustAsync(node.Cli, "explain", "event", "doc-4711", "--scope", "/hr", "--user", "carol")).Output;
        Assert.Contains("carol@example.org (carol)  opted-out  Not mailed: opted out of subscription 'Team' (s-team).", carol, StringComparison.Ordinal);
        Assert.DoesNotContain("alice@example.org", carol, StringComparison.Ordinal);

        // The scope's email turned off: the next event's candidates were dropped, and say so.
        await MustAsync(await admin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { enabled = false }, Ct), HttpStatusCode.OK);
        await PostEventAsync(admin, "doc-4712");
        var dropped = await WaitForAsync(admin, "doc-4712", _ => true);
        Assert.Equal("Email is turned off for scope /hr.", dropped.GetProperty("disabled").GetString());
        var alice = Candidates(dropped).Single(c => c.UserId == "alice");
        Assert.Equal(("scope-disabled", "Dropped (subscription 'Alice' (s-alice)): email of the scope is turned off: Email is turned off for scope /hr."), (alice.Outcome, alice.Reason));
        Assert.Equal("scope-disabled", Candidates(dropped).Single(c => c.UserId == "hank").Outcome);
        var cliDropped = (await OutboxNode.MustAsync(node.Cli, "explain", "event", "doc-4712", "--scope", "/hr", "--user", "alice@example.org")).Output;
        Assert.Contains("Email of the scope was turned off: Email is turned off for scope /hr.", cliDropped, StringComparison.Ordinal);
        Assert.Contains("alice@example.org (alice)  scope-disabled  Dropped (subscription 'Alice' (s-alice))", cliDropped, StringComparison.Ordinal);
        Assert.Equal(2, sink.Received().Count);
    }

    [Fact]
    public async Task Another_scopes_administrator_a_lookalike_scope_and_a_sender_find_no_such_event_and_bad_recipients_are_refused_clearly()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, null, cli => OutboxNode.MustAsync(cli, "scope", "add", "/hr2"));
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using (var root = node.Server.Client(await node.KeyAsync("/", "admin")))
        {
            await EightCandidatesAsync(root);
        }

        await PostEventAsync(admin, "doc-4711");
        await WaitForAsync(admin, "doc-4711", _ => true);

        foreach (var (scope, role) in new[] { ("/hr2", "admin"), ("/finance", "admin"), ("/hr", "sender") })
        {
            using var other = node.Server.Client(await node.KeyAsync(scope, role));
            using var response = await other.GetAsync(new Uri("api/v1/events/doc-4711/explain?scope=%2Fhr", UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync(Ct);
            Assert.Contains("No event 'doc-4711' in scope /hr that you may see.", body, StringComparison.Ordinal);
            Assert.DoesNotContain("alice", body, StringComparison.Ordinal);
        }

        using (var missing = await admin.GetAsync(new Uri("api/v1/events/doc-9999/explain?scope=%2Fhr", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        // Longer than a request line may be: the server refuses it before any of Herald's code reads it.
        using (var huge = await admin.GetAsync(new Uri($"api/v1/events/doc-4711/explain?scope=%2Fhr&recipient={new string('a', 100_000)}", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.RequestUriTooLong, huge.StatusCode);
        }

        foreach (var (recipient, message) in new[]
        {
            (new string('a', 2_000), "A recipient is a user id or an email address of at most 254 characters."),
            ("alice; DROP TABLE event_candidates", "'alice; DROP TABLE event_candidates' is neither a user id nor an email address."),
        })
        {
            using var bad = await admin.GetAsync(new Uri($"api/v1/events/doc-4711/explain?scope=%2Fhr&recipient={Uri.EscapeDataString(recipient)}", UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            var errors = JsonDocument.Parse(await bad.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("errors");
            Assert.Equal(message, errors.GetProperty("recipient")[0].GetString());
        }

        var cli = await node.Cli.RunAsync("explain", "event", "doc-4711", "--scope", "/hr", "--user", "not a user");
        Assert.Equal(1, cli.ExitCode);
        Assert.Contains("--user: 'not a user' is neither a user id nor an email address.", cli.Error, StringComparison.Ordinal);
    }

    internal sealed record Candidate(string Address, string? UserId, string Outcome, string Reason, string? State);

    internal static IReadOnlyList<Candidate> Candidates(JsonElement explanation) =>
        [.. explanation.GetProperty("candidates").EnumerateArray().Select(c => new Candidate(
            c.GetProperty("address").GetString()!,
            c.GetProperty("userId").GetString(),
            c.GetProperty("outcome").GetString()!,
            c.GetProperty("reason").GetString()!,
            c.TryGetProperty("delivery", out var d) && d.ValueKind == JsonValueKind.Object ? d.GetProperty("state").GetString() : null))];

    internal static async Task<OutboxNode> StartAsync(SmtpSink sink, TestDatabase db)
    {
        var environment = new Dictionary<string, string> { ["HERALD_Notifications__PollInterval"] = "00:00:00.100" };
        if (db.Url is { } url)
        {
            environment["HERALD_DATABASE"] = url;
        }

        return await OutboxNode.StartAsync(sink.Port, environment);
    }

    /// <summary>In /hr, everyone an event changed by dave reaches or not: alice subscribed (mailed);
    /// bob subscribed, then lost View; the team's subscription (leaving the actor out) with carol
    /// opted out, dave the actor, erin mailed, gina suppressed; hank's daily subscription; a rule
    /// naming erin's address again. Returns the suppression entry's id.</summary>
    internal static async Task<string> EightCandidatesAsync(HttpClient rootAdmin)
    {
        string[] people = ["alice", "bob", "carol", "dave", "erin", "gina", "hank"];
        await MustAsync(await rootAdmin.PostAsJsonAsync("api/v1/directory/import", new
        {
            users = people.Select(id => new { id, name = id, email = $"{id}@example.org", timeZone = "UTC", language = "en" }),
            groups = new[] { new { id = "team", name = "Team", delivery = "members", members = new[] { "user:carol", "user:dave", "user:erin", "user:gina" } } },
        }, Ct), HttpStatusCode.OK);
        foreach (var principal in new[] { "user:alice", "user:bob", "group:team", "user:hank" })
        {
            await MustAsync(await rootAdmin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal, level = "view" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
        }

        foreach (var subscription in new object[]
        {
            new { id = "s-alice", scope = "/hr", owner = "user:alice", name = "Alice" },
            new { id = "s-bob", scope = "/hr", owner = "user:bob", name = "Bob" },
            new { id = "s-team", scope = "/hr", owner = "group:team", name = "Team", excludeActor = true },
            new { id = "s-hank", scope = "/hr", owner = "user:hank", name = "Hank daily", frequency = "daily", at = "08:00" },
        })
        {
            await MustAsync(await rootAdmin.PostAsJsonAsync("api/v1/subscriptions", subscription, Ct), HttpStatusCode.Created);
        }

        // Bob subscribed while he could see /hr, and has lost View since.
        await MustAsync(await rootAdmin.DeleteAsync(new Uri("api/v1/access?scope=%2Fhr&principal=user:bob", UriKind.Relative), Ct), HttpStatusCode.OK, HttpStatusCode.NoContent);
        await MustAsync(await rootAdmin.PostAsJsonAsync("api/v1/rules", new { id = "r-ops", scope = "/hr", name = "Ops", recipients = new[] { "erin@example.org" } }, Ct), HttpStatusCode.Created);
        await MustAsync(await rootAdmin.PutAsync(new Uri("api/v1/subscriptions/s-team/opt-outs/carol", UriKind.Relative), null, Ct), HttpStatusCode.NoContent);
        var entry = JsonDocument.Parse(await MustAsync(
            await rootAdmin.PostAsJsonAsync("api/v1/suppressions", new { scope = "/hr", address = "gina@example.org", reason = "hard-bounce", source = "DSN" }, Ct), HttpStatusCode.Created)).RootElement;
        return entry.GetProperty("id").GetString()!;
    }

    internal static async Task PostEventAsync(HttpClient producer, string id) =>
        await MustAsync(await producer.PostAsJsonAsync("api/v1/events", new
        {
            id, type = "item.changed", scope = "/hr", resourcePath = "/docs/policy.docx", actor = "dave", title = "Policy " + id[4..],
        }, Ct), HttpStatusCode.Accepted);

    internal static async Task<JsonElement> ExplainAsync(HttpClient admin, string id, string? recipient = null)
    {
        var query = recipient is null ? "" : $"&recipient={Uri.EscapeDataString(recipient)}";
        return JsonDocument.Parse(await admin.GetStringAsync(new Uri($"api/v1/events/{id}/explain?scope=%2Fhr{query}", UriKind.Relative), Ct)).RootElement;
    }

    /// <summary>The explanation once the event is fanned out and <paramref name="until"/> holds.</summary>
    internal static async Task<JsonElement> WaitForAsync(HttpClient admin, string id, Func<JsonElement, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var response = await admin.GetAsync(new Uri($"api/v1/events/{id}/explain?scope=%2Fhr", UriKind.Relative), Ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var explanation = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
                if (until(explanation))
                {
                    return explanation;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"No explanation of {id} as expected: {response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
            await Task.Delay(100, Ct);
        }
    }
}
