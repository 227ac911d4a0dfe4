using System.Net;
using System.Net.Http.Json;
using CsCheck;

namespace Herald.IntegrationTests.Authorization;

/// <summary>
/// The same property through the HTTP API, for a sample: generated relay account names, event
/// ids and connection names, used by callers of /hr, /hr2 and /hr.x on things of the other
/// scopes. What a caller may not touch stays byte for byte as it was in the database.
/// </summary>
[Collection(MatrixGroup.Name)]
public sealed class ApiIsolationProperties(MatrixHost host)
{
    /// <summary>Names as typed: case, dots, underscores, percent signs, spaces, Unicode, and a
    /// look-alike of each (padded, upper-cased, percent-encoded).</summary>
    private static readonly Gen<string> Typed = Gen.Frequency<string>(
        (2, Gen.OneOf<string>(["scanner", "Scanner", "scan.ner", "scan_ner", "scan%20ner", "scan ner", "scänner", "doc-4711", "DOC-4711", "doc_4711"])),
        (3, Gen.Char["abcXYZ019._-% éаK"].Array[1, 16].Select(chars => new string(chars))));

    private static readonly Gen<(string Name, string LookAlike)> NameAndLookAlike = Gen.Select(Typed, Gen.Int[0, 4], (name, how) => (name, how switch
    {
        0 => " " + name,
        1 => name.ToUpperInvariant(),
        2 => Uri.EscapeDataString(name),
        3 => name + " ",
        _ => name,
    }));

    private static void Print(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static MatrixCaller Admin(string scope) => MatrixCaller.All.Single(c => c.Role == Role.Administrator && c.Scope == scope);

    private static MatrixCaller Sender(string scope) => MatrixCaller.All.Single(c => c.Role == Role.Sender && c.Scope == scope);

    [Fact]
    public async Task A_relay_account_of_another_scope_is_never_changed_by_its_name_or_a_look_alike() =>
        await NameAndLookAlike.SampleAsync(async (name, lookAlike) =>
        {
            // Stored as typed, with a placeholder hash (a PBKDF2 run per sample would be slow): the
            // doors must find it by its name, or refuse the name, and change it in neither case.
            var user = $"{name}{host.Next()}";
            await host.ExecuteAsync("INSERT INTO relay_accounts (user_name, scope_path, password_hash, created_at) VALUES (@user, '/hr2', 'placeholder', 0)", new { user });
            var stored = await host.QueryAsync("SELECT user_name, scope_path, password_hash FROM relay_accounts WHERE scope_path = '/hr2'");
            foreach (var attempt in new[] { user, lookAlike.Replace(name, user, StringComparison.Ordinal) })
            {
                using var put = await host.ApiClient(Admin("/hr")).PutAsJsonAsync($"api/v1/relay/accounts/{Uri.EscapeDataString(attempt)}", new { scope = "/hr", password = "taken-over-1" }, Ct);
                foreach (var caller in new[] { Admin("/hr"), Admin("/hr.x") })
                {
                    // A name the doors normalise (a stored name with a space around it was never
                    // made by them) may name an account of the caller's own, just made by the PUT
                    // above: what counts is that /hr2's rows are as they were.
                    using var delete = await host.ApiClient(caller).DeleteAsync(new Uri($"api/v1/relay/accounts/{Uri.EscapeDataString(attempt)}", UriKind.Relative), Ct);
                    Assert.True(
                        string.Equals(stored, await host.QueryAsync("SELECT user_name, scope_path, password_hash FROM relay_accounts WHERE scope_path = '/hr2'"), StringComparison.Ordinal),
                        $"{caller}'s DELETE of '{attempt}' ({(int)delete.StatusCode}) changed /hr2's relay account '{user}'.");
                }
            }

            Assert.Equal(stored, await host.QueryAsync("SELECT user_name, scope_path, password_hash FROM relay_accounts WHERE scope_path = '/hr2'"));
        }, writeLine: Print, iter: 20, threads: 1);

    [Fact]
    public async Task An_event_id_is_unique_within_its_scope_only() =>
        await Typed.SampleAsync(async typed =>
        {
            var id = $"{typed}{host.Next()}";
            using var first = await host.ApiClient(Sender("/")).PostAsJsonAsync("api/v1/events", Event(id, "/hr2"), Ct);
            if (first.StatusCode != HttpStatusCode.Accepted)
            {
                return; // not a valid event id
            }

            var theirs = await host.QueryAsync("SELECT id, scope_path, type, title FROM notification_events WHERE scope_path = '/hr2' AND id = @id", new { id });
            using var mine = await host.ApiClient(Sender("/hr")).PostAsJsonAsync("api/v1/events", Event(id, "/hr"), Ct);
            var answer = await mine.Content.ReadAsStringAsync(Ct);
            Assert.True(mine.StatusCode == HttpStatusCode.Accepted, answer);
            Assert.DoesNotContain("\"duplicate\":true", answer, StringComparison.Ordinal);
            Assert.NotNull(await host.QueryAsync("SELECT id FROM notification_events WHERE scope_path = '/hr' AND id = @id", new { id }));
            Assert.Equal(theirs, await host.QueryAsync("SELECT id, scope_path, type, title FROM notification_events WHERE scope_path = '/hr2' AND id = @id", new { id }));

            using var again = await host.ApiClient(Sender("/hr")).PostAsJsonAsync("api/v1/events", Event(id, "/hr"), Ct);
            Assert.Contains("\"duplicate\":true", await again.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }, writeLine: Print, iter: 40, threads: 1);

    [Fact]
    public async Task A_connection_of_another_scope_is_never_changed_by_its_name_or_a_look_alike() =>
        await NameAndLookAlike.SampleAsync(async (name, lookAlike) =>
        {
            var connection = $"{name}{host.Next()}";
            using var created = await host.Root.PutAsJsonAsync($"api/v1/connections/{Uri.EscapeDataString(connection)}?scope=%2Fhr", Seeds.ConnectionBody(host, "hr.example"), Ct);
            if (!created.IsSuccessStatusCode)
            {
                return; // not a valid connection name
            }

            var stored = await host.QueryAsync("SELECT owner_scope, short_name, host, port, rate_limit_per_minute FROM smtp_connections WHERE owner_scope = '/hr'");
            foreach (var attempt in new[] { connection, lookAlike.Replace(name, connection, StringComparison.Ordinal) })
            {
                foreach (var (caller, scope) in new[] { (Admin("/hr2"), "/hr"), (Admin("/hr.x"), "/hr"), (Admin("/hr.x"), "/hr.x"), (Admin("/hr/payroll"), "/hr") })
                {
                    var path = $"api/v1/connections/{Uri.EscapeDataString(attempt)}?scope={Uri.EscapeDataString(scope)}";
                    using var put = await host.ApiClient(caller).PutAsJsonAsync(path, new { server = "attacker.example", rateLimitPerMinute = 7 }, Ct);
                    using var delete = await host.ApiClient(caller).DeleteAsync(new Uri(path, UriKind.Relative), Ct);
                    using var settings = await host.ApiClient(caller).PutAsJsonAsync(
                        $"api/v1/settings/outgoing?scope={Uri.EscapeDataString(caller.Scope)}", new { connection = "/hr:" + attempt, server = "attacker.example" }, Ct);
                }
            }

            Assert.Equal(stored, await host.QueryAsync("SELECT owner_scope, short_name, host, port, rate_limit_per_minute FROM smtp_connections WHERE owner_scope = '/hr'"));
        }, writeLine: Print, iter: 40, threads: 1);

    private static object Event(string id, string scope) => new { id, type = "pipeline.failed", scope, resourcePath = "/builds/1", title = "Build" };
}
