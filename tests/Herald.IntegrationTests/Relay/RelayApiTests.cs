using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Relay;

public sealed class RelayApiTests
{
    [Fact]
    public async Task Relay_api_names_bad_fields_keeps_scopes_apart_and_never_returns_a_password()
    {
        var ct = TestContext.Current.CancellationToken;
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var hrAdmin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        using var financeAdmin = node.Server.Client(await node.KeyAsync("/finance", "admin"));
        var listen = Uri.EscapeDataString($"127.0.0.1:{LoopbackPort.Free()}");

        using var bad = await hrAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{listen}", new { scope = "/hr", entries = new[] { "10.0.0.0/8", "10.0.0.0/99" } }, ct);
        var problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync(ct)).RootElement;
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty("entries[1]", out _), problem.ToString());

        using var saved = await hrAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{listen}", new { scope = "/hr", entries = new[] { "10.0.0.0/8" }, auth = "required" }, ct);
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        using var takeover = await financeAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{listen}", new { scope = "/finance" }, ct);
        Assert.Equal(HttpStatusCode.Forbidden, takeover.StatusCode);
        Assert.Empty(JsonDocument.Parse(await financeAdmin.GetStringAsync(new Uri("api/v1/relay/listeners", UriKind.Relative), ct)).RootElement.EnumerateArray());

        using var account = await hrAdmin.PutAsJsonAsync("api/v1/relay/accounts/scanner", new { scope = "/hr", password = "api secret 1" }, ct);
        Assert.Equal(HttpStatusCode.OK, account.StatusCode);
        var accounts = await hrAdmin.GetStringAsync(new Uri("api/v1/relay/accounts", UriKind.Relative), ct);
        Assert.Contains("\"scanner\"", accounts, StringComparison.Ordinal);
        Assert.DoesNotContain("api secret 1", accounts + await account.Content.ReadAsStringAsync(ct) + node.Server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("pbkdf2", accounts, StringComparison.Ordinal);

        using var removed = await financeAdmin.DeleteAsync(new Uri("api/v1/relay/accounts/scanner", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.Forbidden, removed.StatusCode);
        using var deleted = await hrAdmin.DeleteAsync(new Uri($"api/v1/relay/listeners/{listen}", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }
}
