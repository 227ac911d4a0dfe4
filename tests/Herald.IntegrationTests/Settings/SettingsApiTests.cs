using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Settings;

/// <summary>
/// <c>/api/v1/settings/outgoing</c> and <c>/api/v1/connections</c> through a real <c>herald
/// serve</c>, with keys made by the CLI, checked against what the CLI then shows: the API says
/// what Core decided, in problem details, and a refusal stores nothing.
/// </summary>
public sealed class SettingsApiTests : IAsyncLifetime
{
    private OutboxNode _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // / sends through 127.0.0.1:9 (nothing delivers in these tests) with a stored password.
        _node = await OutboxNode.StartAsync(9);
        var password = await _node.Cli.RunWithInputAsync("farm-password\n", "smtp", "set", "--security", "starttls-required", "--username", "farm-mailer", "--password-stdin");
        Assert.True(password.ExitCode == 0, password.ToString());
    }

    [Fact]
    public async Task A_scope_administrator_cannot_repoint_the_farms_connection_or_take_its_password_along()
    {
        using var hrAdmin = _node.Server.Client(await _node.KeyAsync("/hr", "admin"));

        // Finding 1 (confirmed on 2728b51): this rewrote the connection of every scope, password kept.
        using var response = await hrAdmin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { connection = "default", server = "attacker.example" }, Ct);

        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, body);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var show = (await OutboxNode.MustAsync(_node.Cli, "smtp", "show", "--scope", "/")).Output;
        Assert.Contains("server             127.0.0.1:9", show, StringComparison.Ordinal);
        Assert.Contains("password set", show, StringComparison.Ordinal);
        Assert.DoesNotContain("attacker.example", (await OutboxNode.MustAsync(_node.Cli, "smtp", "show", "--scope", "/hr")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_administrator_of_a_look_alike_scope_cannot_reach_the_other_scopes_connection()
    {
        await OutboxNode.MustAsync(_node.Cli, "scope", "add", "/hr/payroll");
        await OutboxNode.MustAsync(_node.Cli, "scope", "add", "/hr.payroll");
        await OutboxNode.MustAsync(_node.Cli, "smtp", "set", "--scope", "/hr/payroll", "--server", "payroll.example.org");
        using var lookAlike = _node.Server.Client(await _node.KeyAsync("/hr.payroll", "admin"));

        // Finding 2 (confirmed on 2728b51): both scopes' own connections were named 'hr.payroll'.
        using var response = await lookAlike.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr.payroll", new { server = "attacker.example" }, Ct);

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync(Ct));
        Assert.Contains("server             payroll.example.org:25", (await OutboxNode.MustAsync(_node.Cli, "smtp", "show", "--scope", "/hr/payroll")).Output, StringComparison.Ordinal);
        Assert.Contains("server             attacker.example:25", (await OutboxNode.MustAsync(_node.Cli, "smtp", "show", "--scope", "/hr.payroll")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_connection_starts_from_the_same_defaults_in_the_api_the_cli_and_the_console()
    {
        using var rootAdmin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        Assert.Equal(0, (await _node.Cli.RunWithInputAsync("root's long password\n", "admin", "create", "--name", "root", "--scope", "/")).ExitCode);

        using var created = await rootAdmin.PutAsJsonAsync("api/v1/connections/bare?scope=/", new { server = "bare.example.org" }, Ct);
        var api = JsonDocument.Parse(await created.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("connection");
        await OutboxNode.MustAsync(_node.Cli, "smtp", "connection", "set", "cli-bare", "--server", "cli.example.org");
        var cli = JsonDocument.Parse(await rootAdmin.GetStringAsync(new Uri("api/v1/connections/cli-bare?scope=/", UriKind.Relative), Ct)).RootElement;
        using var console = await ConsoleBrowser.SignInAsync(_node.Server, "root", "root's long password");
        var form = await console.GetStringAsync("/connections/edit");

        var defaults = (api.GetProperty("port").GetInt32(), api.GetProperty("security").GetString(), api.GetProperty("authentication").GetString(), api.GetProperty("connectionLimit").GetInt32());
        Assert.Equal((25, "starttls-when-available", "anonymous", 4), defaults);
        Assert.Equal(defaults, (cli.GetProperty("port").GetInt32(), cli.GetProperty("security").GetString(), cli.GetProperty("authentication").GetString(), cli.GetProperty("connectionLimit").GetInt32()));
        Assert.Contains("name=\"port\" value=\"25\"", form, StringComparison.Ordinal);
        Assert.Matches("<option value=\"starttls-when-available\" selected", form);
        Assert.Matches("name=\"auth\" value=\"anonymous\" checked", form);
        Assert.Contains("name=\"connectionLimit\" value=\"4\"", form, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connections_ehlo_name_is_set_through_the_api_and_a_name_that_is_not_fully_qualified_is_refused_naming_the_field()
    {
        using var rootAdmin = _node.Server.Client(await _node.KeyAsync("/", "admin"));

        using var bare = await rootAdmin.PutAsJsonAsync("api/v1/connections/greet?scope=/", new { server = "smtp.example.org", ehloName = "vm" }, Ct);
        using var qualified = await rootAdmin.PutAsJsonAsync("api/v1/connections/greet?scope=/", new { server = "smtp.example.org", ehloName = "Relay.Example.org" }, Ct);
        var stored = JsonDocument.Parse(await rootAdmin.GetStringAsync(new Uri("api/v1/connections/greet?scope=/", UriKind.Relative), Ct)).RootElement;

        Assert.Equal(HttpStatusCode.UnprocessableEntity, bare.StatusCode);
        var problem = await bare.Content.ReadAsStringAsync(Ct);
        Assert.Contains("ehloName", problem, StringComparison.Ordinal);
        Assert.Contains("is not a fully qualified domain name", problem, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, qualified.StatusCode);
        Assert.Equal("relay.example.org", stored.GetProperty("ehloName").GetString());
    }

    [Fact]
    public async Task Kerberos_is_set_through_the_api_by_an_administrator_of_the_root_and_refused_to_a_scope_administrator()
    {
        var keytab = Path.Combine(_node.Cli.DataDirectory, "herald.keytab");
        await File.WriteAllBytesAsync(keytab, [5, 2, 0, 0], Ct);
        var body = new
        {
            server = "exch01.corp.example.com",
            port = 587,
            security = "starttls-required",
            auth = "kerberos",
            username = "svc-herald",
            kerberos = new { realm = "CORP.EXAMPLE.COM", keytab },
        };
        using var hrAdmin = _node.Server.Client(await _node.KeyAsync("/hr", "admin"));
        using var refused = await hrAdmin.PutAsJsonAsync("api/v1/connections/exchange?scope=/hr", body, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("only administrators of / choose them", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);

        using var rootAdmin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        using var saved = await rootAdmin.PutAsJsonAsync("api/v1/connections/exchange?scope=/", body, Ct);
        var savedBody = await saved.Content.ReadAsStringAsync(Ct);
        Assert.True(saved.StatusCode == HttpStatusCode.OK, savedBody);
        var connection = JsonDocument.Parse(savedBody).RootElement.GetProperty("connection");
        Assert.Equal("kerberos", connection.GetProperty("authentication").GetString());
        var kerberos = connection.GetProperty("kerberos");
        Assert.Equal("svc-herald@CORP.EXAMPLE.COM", kerberos.GetProperty("principal").GetString());
        Assert.Equal("SMTPSVC/exch01.corp.example.com@CORP.EXAMPLE.COM", kerberos.GetProperty("servicePrincipal").GetString());
        Assert.Equal(keytab, kerberos.GetProperty("keytab").GetString());
        Assert.Contains("GSSAPI (Kerberos)", (await OutboxNode.MustAsync(_node.Cli, "smtp", "connection", "show", "exchange")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connections_are_listed_read_changed_and_deleted_by_their_owners_administrators()
    {
        using var hrAdmin = _node.Server.Client(await _node.KeyAsync("/hr", "admin"));
        using var financeAdmin = _node.Server.Client(await _node.KeyAsync("/finance", "admin"));

        using var created = await hrAdmin.PutAsJsonAsync("api/v1/connections/Relay?scope=/hr", new
        {
            server = "relay.hr.example.org",
            port = 465,
            security = "implicit-tls",
            username = "hr-relay",
            password = "never-returned-1",
            connectTimeoutSeconds = 5,
            commandTimeoutSeconds = 20,
            trustThumbprint = new string('A', 64),
        }, Ct);
        var createdBody = await created.Content.ReadAsStringAsync(Ct);
        Assert.True(created.StatusCode == HttpStatusCode.OK, createdBody);
        Assert.DoesNotContain("never-returned-1", createdBody, StringComparison.Ordinal);
        var connection = JsonDocument.Parse(createdBody).RootElement.GetProperty("connection");
        Assert.Equal("/hr:relay", connection.GetProperty("qualified").GetString());
        Assert.True(connection.GetProperty("passwordSet").GetBoolean());
        Assert.Equal(5, connection.GetProperty("connectTimeoutSeconds").GetInt32());
        Assert.Equal("pinned-thumbprint", connection.GetProperty("trust").GetString());

        var listed = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/connections", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["/:default", "/hr:relay"], listed.EnumerateArray().Select(c => c.GetProperty("qualified").GetString()));
        Assert.Equal([false, true], listed.EnumerateArray().Select(c => c.GetProperty("editable").GetBoolean()));
        var financeSees = JsonDocument.Parse(await financeAdmin.GetStringAsync(new Uri("api/v1/connections", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["/:default"], financeSees.EnumerateArray().Select(c => c.GetProperty("qualified").GetString()));

        // Another scope's connection is not there for them; the farm's is not theirs to change.
        Assert.Equal(HttpStatusCode.NotFound, (await financeAdmin.GetAsync(new Uri("api/v1/connections/relay?scope=/hr", UriKind.Relative), Ct)).StatusCode);
        using var financeChange = await financeAdmin.PutAsJsonAsync("api/v1/connections/relay?scope=/hr", new { port = 2525 }, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, financeChange.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await hrAdmin.DeleteAsync(new Uri("api/v1/connections/default?scope=/", UriKind.Relative), Ct)).StatusCode);

        using var used = await hrAdmin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { connection = "relay" }, Ct);
        Assert.Equal(HttpStatusCode.OK, used.StatusCode);
        using var inUse = await hrAdmin.DeleteAsync(new Uri("api/v1/connections/relay?scope=/hr", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Conflict, inUse.StatusCode);
        Assert.Contains("is used by /hr", await inUse.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);

        using var back = await hrAdmin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { connection = "/:default" }, Ct);
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await hrAdmin.DeleteAsync(new Uri("api/v1/connections/relay?scope=/hr", UriKind.Relative), Ct)).StatusCode);
        var gone = await _node.Cli.RunAsync("smtp", "connection", "show", "relay", "--scope", "/hr");
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("No SMTP connection named 'relay' belongs to /hr.", gone.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_settings_answer_422_naming_each_field_and_store_nothing()
    {
        using var admin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var before = (await OutboxNode.MustAsync(_node.Cli, "smtp", "show")).Output;

        using var response = await admin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/", new { port = 70000, from = "not an address", security = "none" }, Ct);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal("The settings are not valid. Nothing was saved.", problem.GetProperty("detail").GetString());
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["from", "port", "security"], fields);
        Assert.Equal(before, (await OutboxNode.MustAsync(_node.Cli, "smtp", "show")).Output);
    }

    [Fact]
    public async Task A_sender_key_reads_and_changes_no_settings()
    {
        using var sender = _node.Server.Client(await _node.KeyAsync("/", "sender"));

        Assert.Equal(HttpStatusCode.Forbidden, (await sender.GetAsync(new Uri("api/v1/settings/outgoing?scope=/", UriKind.Relative), Ct)).StatusCode);
        Assert.Equal("[]", await sender.GetStringAsync(new Uri("api/v1/connections", UriKind.Relative), Ct));
        using var test = await sender.PostAsJsonAsync("api/v1/settings/test-email?scope=/", new { to = new[] { "a@example.org" } }, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, test.StatusCode);
    }

    public async ValueTask DisposeAsync() => await _node.DisposeAsync();
}
