using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The directory and access-list API through a real <c>herald serve</c>.</summary>
public sealed class DirectoryApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Users_and_groups_are_written_by_a_root_administrator_read_by_any_administrator_and_bad_fields_are_named()
    {
        await using var node = await DirectoryNode.StartAsync();
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var sender = node.Server.Client(await node.KeyAsync("/", "sender"));

        using var created = await root.PutAsJsonAsync("api/v1/users/alice", new { name = "Alice", email = "alice@example.org", timeZone = "Europe/Berlin" }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var changed = await root.PutAsJsonAsync("api/v1/users/alice", new { language = "de-at" }, Ct);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        using var bad = await root.PutAsJsonAsync("api/v1/users/bob", new { name = "Bob\r\nBcc: x@example.org", email = "bob at example", timeZone = "Nowhere/City" }, Ct);
        var problem = await ProblemAsync(bad);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        Assert.Equal(["email", "name", "timeZone"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);

        using var hrWrite = await hrAdmin.PutAsJsonAsync("api/v1/users/mallory", new { name = "Mallory", email = "m@example.org" }, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, hrWrite.StatusCode);
        using var senderRead = await sender.GetAsync(new Uri("api/v1/users", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, senderRead.StatusCode);
        var alice = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/users/alice", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(("Alice", "Europe/Berlin", "de-AT"), (alice.GetProperty("name").GetString(), alice.GetProperty("timeZone").GetString(), alice.GetProperty("language").GetString()));

        using var missingMember = await root.PutAsJsonAsync("api/v1/groups/team", new { name = "Team", members = new[] { "user:alice", "user:ghost" } }, Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, missingMember.StatusCode);
        Assert.True((await ProblemAsync(missingMember)).GetProperty("errors").TryGetProperty("members[1]", out _));
        using var noAlias = await root.PutAsJsonAsync("api/v1/groups/team", new { name = "Team", delivery = "alias", members = new[] { "user:alice" } }, Ct);
        Assert.True((await ProblemAsync(noAlias)).GetProperty("errors").TryGetProperty("alias", out _));
        using var team = await root.PutAsJsonAsync("api/v1/groups/team", new { name = "Team", alias = "team@example.org", delivery = "both", members = new[] { "user:alice" } }, Ct);
        Assert.Equal(HttpStatusCode.Created, team.StatusCode);
        using var everyone = await root.PutAsJsonAsync("api/v1/groups/everyone", new { name = "Everyone", members = new[] { "group:team", "user:alice" } }, Ct);
        Assert.Equal(HttpStatusCode.Created, everyone.StatusCode);
        using var cycle = await root.PutAsJsonAsync("api/v1/groups/team", new { members = new[] { "group:everyone" } }, Ct);
        Assert.Contains("group:team → group:everyone → group:team", (await ProblemAsync(cycle)).GetProperty("errors").GetProperty("members")[0].GetString(), StringComparison.Ordinal);

        var expanded = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/groups/everyone/members?expand=true", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["alice"], expanded.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("id").GetString()));
        var direct = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/groups/everyone/members", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["user:alice", "group:team"], direct.GetProperty("members").EnumerateArray().Select(m => m.GetString()));

        using var removed = await root.DeleteAsync(new Uri("api/v1/users/alice", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        var afterRemoval = JsonDocument.Parse(await root.GetStringAsync(new Uri("api/v1/groups/everyone/members?expand=true", UriKind.Relative), Ct)).RootElement;
        Assert.Empty(afterRemoval.GetProperty("users").EnumerateArray());
        using var gone = await root.GetAsync(new Uri("api/v1/users/alice", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task An_import_is_all_or_nothing_with_errors_by_line_and_reports_counts_when_it_lands()
    {
        await using var node = await DirectoryNode.StartAsync();
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        const string Csv = "kind,id,name,email,time_zone,members,alias,delivery\n"
            + "group,payroll,Payroll team,,,user:alice user:bob,payroll@example.org,both\n"
            + "user,alice,Alice,alice@example.org,Europe/Paris,,,\n"
            + "user,bob,Bob,bob@example.org,,,,\n";

        using var badCsv = await PostAsync(root, Csv.Replace("bob@example.org", "bob@", StringComparison.Ordinal), "text/csv");
        var problem = await ProblemAsync(badCsv);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badCsv.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty("line 4.email", out _), problem.ToString());
        Assert.Equal("[]", await root.GetStringAsync(new Uri("api/v1/users", UriKind.Relative), Ct));

        using var forbidden = await PostAsync(hrAdmin, Csv, "text/csv");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var wrongType = await PostAsync(root, Csv, "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongType.StatusCode);

        using var imported = await PostAsync(root, Csv, "text/csv");
        var counts = JsonDocument.Parse(await imported.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        Assert.Equal((2, 1), (counts.GetProperty("usersAdded").GetInt32(), counts.GetProperty("groupsAdded").GetInt32()));

        using var json = await PostAsync(root, """{"users":[{"id":"bob","name":"Robert","email":"bob@example.org","language":"fr"}]}""", "application/json");
        var again = JsonDocument.Parse(await json.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal((0, 1), (again.GetProperty("usersAdded").GetInt32(), again.GetProperty("usersChanged").GetInt32()));
        var members = JsonDocument.Parse(await root.GetStringAsync(new Uri("api/v1/groups/payroll/members?expand=true", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["alice:Europe/Paris", "bob:Robert"], members.GetProperty("users").EnumerateArray()
            .Select(u => u.GetProperty("id").GetString() == "alice" ? $"alice:{u.GetProperty("timeZone").GetString()}" : $"bob:{u.GetProperty("name").GetString()}"));
    }

    [Fact]
    public async Task Access_lists_are_kept_per_scope_for_its_administrators_and_show_where_levels_are_inherited_from()
    {
        await using var node = await DirectoryNode.StartAsync();
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var financeAdmin = node.Server.Client(await node.KeyAsync("/finance", "admin"));
        using (var user = await root.PutAsJsonAsync("api/v1/users/alice", new { name = "Alice", email = "alice@example.org" }, Ct))
        using (var group = await root.PutAsJsonAsync("api/v1/groups/hr-staff", new { name = "HR staff", members = new[] { "user:alice" } }, Ct))
        {
            Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (user.StatusCode, group.StatusCode));
        }

        using var grantHr = await hrAdmin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "group:hr-staff", level = "edit" }, Ct);
        Assert.Equal(HttpStatusCode.Created, grantHr.StatusCode);
        using var grantPayroll = await hrAdmin.PutAsJsonAsync("api/v1/access", new { scope = "/hr/payroll", principal = "user:alice", level = "view" }, Ct);
        Assert.Equal(HttpStatusCode.Created, grantPayroll.StatusCode);
        using var grantRoot = await hrAdmin.PutAsJsonAsync("api/v1/access", new { scope = "/", principal = "user:alice", level = "admin" }, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, grantRoot.StatusCode);
        using var badGrant = await hrAdmin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:ghost", level = "owner" }, Ct);
        var errors = (await ProblemAsync(badGrant)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("principal", out _) && errors.TryGetProperty("level", out _), errors.ToString());

        var payroll = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/access?scope=/hr/payroll", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["user:alice view /hr/payroll"], payroll.GetProperty("entries").EnumerateArray()
            .Select(e => $"{e.GetProperty("principal").GetString()} {e.GetProperty("level").GetString()} {e.GetProperty("scope").GetString()}"));
        Assert.Equal(["user:alice view /hr/payroll False", "group:hr-staff edit /hr True"], payroll.GetProperty("effective").EnumerateArray()
            .Select(e => $"{e.GetProperty("principal").GetString()} {e.GetProperty("level").GetString()} {e.GetProperty("from").GetString()} {e.GetProperty("inherited").GetBoolean()}"));
        using var peek = await financeAdmin.GetAsync(new Uri("api/v1/access?scope=/hr", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, peek.StatusCode);

        using var revoke = await financeAdmin.DeleteAsync(new Uri("api/v1/access?scope=/hr&principal=group:hr-staff", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, revoke.StatusCode);
        using var revoked = await hrAdmin.DeleteAsync(new Uri("api/v1/access?scope=/hr&principal=group:hr-staff", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        using var again = await hrAdmin.DeleteAsync(new Uri("api/v1/access?scope=/hr&principal=group:hr-staff", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        var hr = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/access?scope=/hr", UriKind.Relative), Ct)).RootElement;
        Assert.Empty(hr.GetProperty("effective").EnumerateArray());

        var openApi = JsonDocument.Parse(await root.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct)).RootElement.GetProperty("paths");
        foreach (var path in new[] { "/api/v1/users/{id}", "/api/v1/groups/{id}/members", "/api/v1/directory/import", "/api/v1/access" })
        {
            Assert.True(openApi.TryGetProperty(path, out var described), $"{path} is not in the OpenAPI document");
            Assert.All(described.EnumerateObject(), operation => Assert.False(string.IsNullOrEmpty(operation.Value.GetProperty("summary").GetString())));
        }
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string body, string mediaType)
    {
        using var content = new StringContent(body, Encoding.UTF8, mediaType);
        return await http.PostAsync(new Uri("api/v1/directory/import", UriKind.Relative), content, Ct);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
}

/// <summary>A <c>herald serve</c> with scopes /hr, /hr/payroll and /finance, and API keys made with the CLI.</summary>
internal sealed class DirectoryNode : IAsyncDisposable
{
    private DirectoryNode(HeraldCommandLine cli, HeraldServer server)
    {
        Cli = cli;
        Server = server;
    }

    public HeraldCommandLine Cli { get; }

    public HeraldServer Server { get; }

    public static async Task<DirectoryNode> StartAsync()
    {
        var cli = new HeraldCommandLine();
        foreach (var scope in new[] { "/hr", "/hr/payroll", "/finance" })
        {
            var added = await cli.RunAsync("scope", "add", scope);
            Assert.True(added.ExitCode == 0, added.ToString());
        }

        return new DirectoryNode(cli, await HeraldServer.StartAsync(cli.DataDirectory));
    }

    public async Task<string> KeyAsync(string scope, string role)
    {
        var created = await Cli.RunAsync("apikey", "create", "--scope", scope, "--role", role);
        Assert.True(created.ExitCode == 0, created.ToString());
        return created.Output.TrimEnd().Split('\n')[^1];
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Cli.Dispose();
    }
}
