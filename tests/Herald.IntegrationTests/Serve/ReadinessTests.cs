using System.Net;
using System.Text.Json;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Testing;

namespace Herald.IntegrationTests.Serve;

/// <summary><c>GET /readyz</c> of a real <c>herald serve</c>: ready when its database answers and
/// is migrated, its credential key is the database's and its workers run; 503 naming what is not.
/// And serve's JSON console log.</summary>
public sealed class ReadinessTests : IDisposable
{
    private const string Passphrase = "readiness passphrase, copper heron";
    private const string NextPassphrase = "rotated passphrase, silver otter";
    private readonly HeraldCommandLine _herald = new() { Environment = { ["HERALD_CREDENTIAL_KEY"] = Passphrase } };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _herald.Dispose();

    [Fact]
    public async Task Readyz_answers_200_on_a_healthy_node_with_each_check_and_every_worker_running()
    {
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory, _herald.Environment);

        var (status, report, body) = await ReadyzAsync(serve);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", report.GetProperty("status").GetString());
        var checks = Checks(report);
        foreach (var name in new[] { "database", "migrations", "credential key", "worker outbox delivery", "worker connection probes",
            "worker notification fan-out", "worker digests", "worker relay listeners" })
        {
            Assert.True(checks.TryGetValue(name, out var check), $"no check '{name}' in {body}");
            Assert.Equal("ok", check.Status);
        }

        Assert.Contains("matches the database's", checks["credential key"].Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(Passphrase, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_answers_503_naming_the_credential_key_once_another_node_rotated_the_databases_key()
    {
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory, _herald.Environment);
        var rotated = await _herald.RunWithInputAsync(NextPassphrase + "\n", "key", "rotate");
        Assert.True(rotated.ExitCode == 0, rotated.ToString());

        var (status, report, body) = await ReadyzAsync(serve);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("fail", report.GetProperty("status").GetString());
        var failed = Assert.Single(Checks(report), c => c.Value.Status == "fail");
        Assert.Equal("credential key", failed.Key);
        Assert.Contains("changed after this node unlocked it", failed.Value.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(Passphrase, body, StringComparison.Ordinal);
        Assert.DoesNotContain(NextPassphrase, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_answers_503_naming_the_migration_the_database_lacks()
    {
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory, _herald.Environment);
        long latest;
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_herald.DataDirectory, "herald.db")};Pooling=false"))
        {
            latest = await connection.ExecuteScalarAsync<long>("SELECT MAX(version) FROM schema_migrations");
            await connection.ExecuteAsync("DELETE FROM schema_migrations WHERE version = @latest", new { latest });
        }

        var (status, report, _) = await ReadyzAsync(serve);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var failed = Assert.Single(Checks(report), c => c.Value.Status == "fail");
        Assert.Equal("migrations", failed.Key);
        Assert.Contains($"are not applied ({latest:D4})", failed.Value.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_answers_503_naming_the_database_when_it_is_gone_and_never_shows_its_address()
    {
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        var environment = new Dictionary<string, string>(_herald.Environment) { ["HERALD_DATABASE"] = database.Url! };
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory, environment);
        var (before, _, _) = await ReadyzAsync(serve);
        var fixture = await TestContext.Current.GetFixture<PostgresFixture>();
        await using (var admin = await fixture!.Admin.OpenConnectionAsync(Ct))
        {
            await admin.ExecuteAsync($"DROP DATABASE {database.PostgresName} WITH (FORCE)");
        }

        var (status, report, body) = await ReadyzAsync(serve);

        Assert.Equal(HttpStatusCode.OK, before);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var checks = Checks(report);
        Assert.Equal("fail", checks["database"].Status);
        Assert.Contains("The postgres database does not answer", checks["database"].Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(database.Url!, body, StringComparison.Ordinal);
        Assert.DoesNotContain("postgres://", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_with_log_format_json_writes_one_json_object_per_line_and_no_secret()
    {
        const string SmtpPassword = "smtp password, violet lynx";
        using var sink = SmtpSink.Start();
        var set = await _herald.RunWithInputAsync(SmtpPassword + "\n", "smtp", "set", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none",
            "--allow-plaintext-auth", "true", "--auth", "plain", "--username", "app", "--password-stdin", "--from", "herald@example.org");
        Assert.True(set.ExitCode == 0, set.ToString());

        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory, _herald.Environment, "--log-format", "json");
        await serve.WaitForOutputAsync("Herald is listening on", TimeSpan.FromSeconds(30));
        await ReadyzAsync(serve);
        serve.Kill();

        var lines = serve.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            Assert.False(string.IsNullOrEmpty(entry.RootElement.GetProperty("Category").GetString()), line);
            Assert.False(string.IsNullOrEmpty(entry.RootElement.GetProperty("LogLevel").GetString()), line);
            Assert.True(DateTimeOffset.TryParse(entry.RootElement.GetProperty("Timestamp").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _), line);
        }

        Assert.Contains(lines, l => l.Contains("Credential key from the HERALD_CREDENTIAL_KEY environment variable matches the database", StringComparison.Ordinal));
        Assert.DoesNotContain(Passphrase, serve.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(SmtpPassword, serve.Output, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Report, string Body)> ReadyzAsync(HeraldServer serve)
    {
        using var http = serve.Client();
        using var response = await http.GetAsync(new Uri("readyz", UriKind.Relative), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(body).RootElement.Clone(), body);
    }

    private static Dictionary<string, (string Status, string Detail)> Checks(JsonElement report) =>
        report.GetProperty("checks").EnumerateArray().ToDictionary(
            c => c.GetProperty("name").GetString()!,
            c => (c.GetProperty("status").GetString()!, c.GetProperty("detail").GetString()!));
}
