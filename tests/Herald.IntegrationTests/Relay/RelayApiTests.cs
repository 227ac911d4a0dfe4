using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Relay;

/// <summary>The relay's API against a real <c>herald serve</c>: listeners and accounts, as API keys
/// of different scopes see and change them.</summary>
public sealed class RelayApiTests : IAsyncLifetime
{
    private SmtpSink _sink = null!;
    private OutboxNode _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _sink = SmtpSink.Start();
        _node = await OutboxNode.StartAsync(_sink.Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        _sink.Dispose();
    }

    [Fact]
    public async Task Relay_api_names_bad_fields_keeps_scopes_apart_and_never_returns_a_password()
    {
        using var rootAdmin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        using var hrAdmin = _node.Server.Client(await _node.KeyAsync("/hr", "admin"));
        using var financeAdmin = _node.Server.Client(await _node.KeyAsync("/finance", "admin"));
        var listen = Uri.EscapeDataString($"127.0.0.1:{LoopbackPort.Free()}");

        using var bad = await rootAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{listen}", new { scope = "/hr", entries = new[] { "10.0.0.0/8", "10.0.0.0/99" } }, Ct);
        var problem = JsonDocument.Parse(await bad.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        Assert.True(problem.GetProperty("errors").TryGetProperty("entries[1]", out _), problem.ToString());

        using var saved = await rootAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{listen}", new { scope = "/hr", entries = new[] { "10.0.0.0/8" }, auth = "required" }, Ct);
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        using var edited = await hrAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{listen}", new { entries = new[] { "10.1.0.0/16" } }, Ct);
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        // /hr's listener is, to an administrator of /finance, not there.
        using var takeover = await financeAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{listen}", new { scope = "/finance" }, Ct);
        Assert.Equal(HttpStatusCode.NotFound, takeover.StatusCode);
        Assert.Empty(JsonDocument.Parse(await financeAdmin.GetStringAsync(new Uri("api/v1/relay/listeners", UriKind.Relative), Ct)).RootElement.EnumerateArray());
        using var hidden = await financeAdmin.GetAsync(new Uri($"api/v1/relay/listeners/{listen}", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);

        using var account = await hrAdmin.PutAsJsonAsync("api/v1/relay/accounts/scanner", new { scope = "/hr", password = "api secret 1" }, Ct);
        Assert.Equal(HttpStatusCode.OK, account.StatusCode);
        var accounts = await hrAdmin.GetStringAsync(new Uri("api/v1/relay/accounts", UriKind.Relative), Ct);
        Assert.Contains("\"scanner\"", accounts, StringComparison.Ordinal);
        Assert.DoesNotContain("api secret 1", accounts + await account.Content.ReadAsStringAsync(Ct) + _node.Server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("pbkdf2", accounts, StringComparison.Ordinal);

        using var removed = await financeAdmin.DeleteAsync(new Uri("api/v1/relay/accounts/scanner", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, removed.StatusCode);
        using var notRoot = await hrAdmin.DeleteAsync(new Uri($"api/v1/relay/listeners/{listen}", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, notRoot.StatusCode);
        using var deleted = await rootAdmin.DeleteAsync(new Uri($"api/v1/relay/listeners/{listen}", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Contains("scanner", (await _node.Cli.RunAsync("relay", "account", "list")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scope_administrator_cannot_take_over_the_implied_default_listener_and_storing_another_listener_keeps_it()
    {
        using var rootAdmin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        using var hrAdmin = _node.Server.Client(await _node.KeyAsync("/hr", "admin"));

        // The default belongs to /: to an administrator of /hr it is not there to take.
        using var takeover = await hrAdmin.PutAsJsonAsync("api/v1/relay/listeners/127.0.0.1%3A2525", new { scope = "/hr" }, Ct);
        Assert.Equal(HttpStatusCode.NotFound, takeover.StatusCode);
        using var another = await rootAdmin.PutAsJsonAsync(
            $"api/v1/relay/listeners/{Uri.EscapeDataString($"127.0.0.1:{LoopbackPort.Free()}")}", new { scope = "/hr", entries = new[] { "127.0.0.1" } }, Ct);
        Assert.Equal(HttpStatusCode.OK, another.StatusCode);

        // Still the default, still in /, still there for everyone: not stored, nor taken.
        var listeners = JsonDocument.Parse(await rootAdmin.GetStringAsync(new Uri("api/v1/relay/listeners", UriKind.Relative), Ct)).RootElement;
        var implied = listeners.EnumerateArray().Single(l => l.GetProperty("listen").GetString() == "127.0.0.1:2525");
        Assert.Equal(("/", false), (implied.GetProperty("scope").GetString(), implied.GetProperty("stored").GetBoolean()));
        Assert.Contains("127.0.0.1:2525  scope /  only-list", (await _node.Cli.RunAsync("relay", "list")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_open_relay_is_refused_with_422_and_nothing_is_stored()
    {
        using var rootAdmin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var listen = $"0.0.0.0:{LoopbackPort.Free()}";

        using var open = await rootAdmin.PutAsJsonAsync($"api/v1/relay/listeners/{Uri.EscapeDataString(listen)}", new { access = "all-except", entries = Array.Empty<string>() }, Ct);

        var body = await open.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, open.StatusCode);
        Assert.Contains("open relay", JsonDocument.Parse(body).RootElement.GetProperty("errors").GetProperty("access")[0].GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(listen, (await _node.Cli.RunAsync("relay", "list")).Output, StringComparison.Ordinal);
    }
}
