using System.Net;
using System.Net.Http.Json;
using Herald.IntegrationTests.Fixtures;

namespace Herald.IntegrationTests.Outbox;

public sealed class DiskSpaceTests
{
    [Fact]
    public async Task When_the_disk_is_nearly_full_submissions_get_503_and_nothing_is_acknowledged()
    {
        var ct = TestContext.Current.CancellationToken;
        using var sink = SmtpSink.Start();
        // "Nearly full" is below the configured reserve; a reserve larger than any disk makes it so now.
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string> { ["HERALD_Outbox__MinimumFreeDiskBytes"] = long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));

        using var response = await http.PostAsJsonAsync("api/v1/messages", new { scope = "/", to = new[] { "a@example.org" }, subject = "s", text = "t" }, ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("nothing was accepted", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal("[]", await http.GetStringAsync(new Uri("api/v1/messages", UriKind.Relative), ct));
        Assert.Empty(sink.Received());
    }
}
