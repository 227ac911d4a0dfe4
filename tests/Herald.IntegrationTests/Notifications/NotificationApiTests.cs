using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Storage.Database;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The events and rules endpoints through a real <c>herald serve</c>.</summary>
public sealed class NotificationApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Events_are_stored_before_202_duplicates_are_reported_and_bad_fields_are_named()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var hrSender = node.Server.Client(await node.KeyAsync("/hr", "sender"));

        using var one = await hrSender.PostAsJsonAsync("api/v1/events", new
        {
            id = "doc-1", type = "item.changed", scope = "/hr", resourcePath = "/Shared Documents/policy.docx", actor = "alice",
            title = "Policy changed", link = "https://portal.example.com/policy", data = new { status = "approved" },
        }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, one.StatusCode);

        using var batch = await hrSender.PostAsJsonAsync("api/v1/events", new
        {
            events = new object[]
            {
                new { id = "doc-1", type = "item.changed", scope = "/hr", title = "again" },
                new { id = "build-7", type = "acme.build-finished", scope = "/hr", resourcePath = "/pipelines/build/", title = "Build 7" },
            },
        }, Ct);
        var reply = JsonDocument.Parse(await batch.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        Assert.Equal(["doc-1"], reply.GetProperty("duplicates").EnumerateArray().Select(d => d.GetString()));

        using var bad = await hrSender.PostAsJsonAsync("api/v1/events", new
        {
            events = new object[]
            {
                new { id = "ok", type = "item.added", scope = "/hr", title = "fine" },
                new { id = "x", type = "Item Added", scope = "/hr", title = "t", resourcePath = "no-slash", data = new[] { 1 } },
            },
        }, Ct);
        var problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("errors");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        Assert.Equal(["events[1].data", "events[1].resourcePath", "events[1].type"], problem.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

        using var otherScope = await hrSender.PostAsJsonAsync("api/v1/events", new { id = "f-1", type = "item.added", scope = "/finance", title = "t" }, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, otherScope.StatusCode);

        var database = HeraldDatabases.Open(null, node.Cli.DataDirectory);
        await using var connection = await database.OpenAsync(Ct);
        // Stored as posted (the trailing '/' of a resource path dropped); the running engine may
        // already have matched them (state 'done'), which is no concern of this test.
        var stored = (await connection.QueryAsync<(string Id, string Title, string ResourcePath)>(
            "SELECT id, title, resource_path FROM notification_events ORDER BY id")).ToArray();
        Assert.Equal([("build-7", "Build 7", "/pipelines/build"), ("doc-1", "Policy changed", "/Shared Documents/policy.docx")], stored);
    }

    [Fact]
    public async Task Rules_are_for_administrators_of_their_scope_and_name_bad_recipients()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var hrSender = node.Server.Client(await node.KeyAsync("/hr", "sender"));
        using var financeAdmin = node.Server.Client(await node.KeyAsync("/finance", "admin"));
        var rule = new
        {
            id = "failures", scope = "/hr", name = "Pipeline failures", eventTypes = new[] { "pipeline.failed" },
            conditions = new[] { new { field = "branch", @operator = "in", values = new[] { "main", "release" } } },
            recipients = new[] { "ops@example.com", "group:release-team", "user:alice" },
        };

        using var bySender = await hrSender.PostAsJsonAsync("api/v1/rules", rule, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, bySender.StatusCode);
        using var bad = await hrAdmin.PostAsJsonAsync("api/v1/rules", new { id = "bad", scope = "/hr", recipients = new[] { "ops@example.com", "team:x", "not an address" } }, Ct);
        var errors = JsonDocument.Parse(await bad.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("errors");
        Assert.Equal(["recipients[1]", "recipients[2]"], errors.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        // A rule's users and groups must be in the directory, as the console and the CLI say too.
        using var nobody = await hrAdmin.PostAsJsonAsync("api/v1/rules", rule, Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, nobody.StatusCode);
        var missing = JsonDocument.Parse(await nobody.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("errors");
        Assert.Equal(["recipients[1]", "recipients[2]"], missing.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        using (var root = node.Server.Client(await node.KeyAsync("/", "admin")))
        {
            (await root.PutAsJsonAsync("api/v1/users/alice", new { name = "Alice", email = "alice@example.com" }, Ct)).EnsureSuccessStatusCode();
            (await root.PutAsJsonAsync("api/v1/groups/release-team", new { name = "Release team", members = new[] { "user:alice" } }, Ct)).EnsureSuccessStatusCode();
        }

        using var created = await hrAdmin.PostAsJsonAsync("api/v1/rules", rule, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var again = await hrAdmin.PostAsJsonAsync("api/v1/rules", rule, Ct);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var listed = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/rules", UriKind.Relative), Ct)).RootElement;
        var only = Assert.Single(listed.EnumerateArray());
        Assert.Equal(["ops@example.com", "group:release-team", "user:alice"], only.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("in", only.GetProperty("conditions")[0].GetProperty("operator").GetString());
        Assert.Empty(JsonDocument.Parse(await financeAdmin.GetStringAsync(new Uri("api/v1/rules", UriKind.Relative), Ct)).RootElement.EnumerateArray());

        // Its test mails a sample of its first type to its recipients, with a subject that reads as one.
        using var tested = await hrAdmin.PostAsync(new Uri("api/v1/rules/failures/test", UriKind.Relative), null, Ct);
        Assert.True(tested.IsSuccessStatusCode, await tested.Content.ReadAsStringAsync(Ct));
        var sample = (await sink.WaitForAsync(1, TimeSpan.FromSeconds(60)))[0].ToMimeMessage();
        Assert.Equal("Pipeline failed: sample (test of rule 'Pipeline failures')", sample.Subject);
        Assert.StartsWith("Pipeline sample (test of rule 'Pipeline failures') failed\n", sample.TextBody, StringComparison.Ordinal);

        // Another scope's rule answers as one that does not exist.
        using var foreignDelete = await financeAdmin.DeleteAsync(new Uri("api/v1/rules/failures", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, foreignDelete.StatusCode);
        using var deleted = await hrAdmin.DeleteAsync(new Uri("api/v1/rules/failures", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await hrAdmin.GetAsync(new Uri("api/v1/rules/failures", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }
}
