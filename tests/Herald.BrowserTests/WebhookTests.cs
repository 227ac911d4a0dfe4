using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Webhooks;
using Herald.Testing;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>
/// A webhook endpoint Herald disables after its failure period, on a node of its own (the banner is
/// on every page). No fake clock reaches a real <c>herald serve</c>, so the endpoint gets there the
/// real way: the real webhook worker posts a message's <c>sent</c> to a receiver that is down
/// (connection refused), again every 5 s, with <c>Webhooks:DisableAfter</c> at its shortest, one
/// minute; the test waits for that minute of failures to pass.
/// </summary>
public sealed partial class WebhookTests(ConsoleFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_endpoint_failing_past_its_period_is_disabled_with_a_banner_naming_it_and_enabling_it_again_clears_the_banner_and_delivers()
    {
        using var sink = SmtpSink.Start();
        await using var receiver = await WebhookReceiver.StartAsync();
        await receiver.StopAsync();
        var environment = new Dictionary<string, string>(ConsoleFixture.Environment)
        {
            ["HERALD_Webhooks__DisableAfter"] = "00:01:00",
            ["HERALD_Webhooks__RetryDelays__0"] = "00:00:05",
            ["HERALD_Webhooks__PollInterval"] = "00:00:00.200",
        };
        using var cli = ConsoleFixture.NodeCommandLine(environment);

        var port = sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, (await cli.RunAsync("smtp", "set", "--server", "127.0.0.1", "--port", port, "--security", "none", "--from", "alerts@example.org")).ExitCode);
        Assert.Equal(0, (await cli.RunWithInputAsync(ConsoleFixture.Password, "admin", "create", "--name", "webhook-admin")).ExitCode);
        var added = await cli.RunAsync("webhook", "add", receiver.Url.AbsoluteUri, "--event", "message.recipient.sent", "--description", "ticket system");
        Assert.True(added.ExitCode == 0, added.ToString());
        receiver.Secret = added.Output.TrimEnd().Split('\n')[^1].Trim();
        var key = (await cli.RunAsync("apikey", "create", "--scope", "/", "--role", "sender")).Output.Trim().Split('\n')[^1].Trim();
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, environment);
        string message;
        using (var http = server.Client(key))
        {
            using var sent = await http.PostAsJsonAsync("api/v1/messages", new { scope = "/", to = new[] { "ann@example.org" }, subject = "Tell the tickets", text = "Hello." }, Ct);
            sent.EnsureSuccessStatusCode();
            message = JsonDocument.Parse(await sent.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetString()!;
        }

        // A minute of refused deliveries, then the next failure disables the endpoint.
        await ConsoleFixture.WaitForAsync(async () => (await cli.RunAsync("webhook", "list")).Output.Contains("  disabled", StringComparison.Ordinal), seconds: 300);

        var page = await fixture.SignedInPageAsync("webhook-admin", server);
        var banner = page.Locator(".banner");
        foreach (var path in new[] { "/", "/queue", "/webhooks" })
        {
            await page.GotoAsync(path);
            await Assertions.Expect(banner).ToContainTextAsync("A webhook is disabled: its deliveries kept failing.");
            await Assertions.Expect(banner).ToContainTextAsync($"{receiver.Url.AbsoluteUri} (/)");
            await Assertions.Expect(banner).ToContainTextAsync(DisabledReason());
        }

        await ConsoleFixture.ScreenshotAsync(page, "webhook-disabled-banner");
        await banner.GetByRole(AriaRole.Link, new() { Name = "See its log and enable it" }).ClickAsync();
        var log = page.Locator("section", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = $"Delivery log of {receiver.Url.AbsoluteUri}" }) });
        await Assertions.Expect(log).ToContainTextAsync("Scope / and below · message.recipient.sent · disabled");
        await Assertions.Expect(log.Locator(".alert-error")).ToHaveTextAsync(DisabledReason());
        await Assertions.Expect(log.GetByRole(AriaRole.Cell, new() { Name = "failed", Exact = true }).First).ToBeVisibleAsync();
        await ConsoleFixture.ScreenshotAsync(page, "webhook-disabled");
        Assert.Empty(receiver.Received);

        // The receiver is back; the administrator enables the endpoint: the banner goes, the waiting delivery arrives.
        await receiver.StartAgainAsync();
        await log.GetByRole(AriaRole.Button, new() { Name = "Enable again" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync($"The webhook to {receiver.Url.AbsoluteUri} is enabled; its waiting deliveries go out.");
        await Assertions.Expect(log).ToContainTextAsync("· enabled");
        await Assertions.Expect(log.GetByRole(AriaRole.Button, new() { Name = "Disable" })).ToBeVisibleAsync();
        await Assertions.Expect(banner).ToHaveCountAsync(0);
        var received = await receiver.WaitForAsync(r => r.Any(w => w.MessageId == message));
        // At least once: a repeat would carry the same webhook-id.
        var delivery = Assert.Single(received.DistinctBy(r => r.Id));
        Assert.True(delivery.Verified, delivery.Problem);
        Assert.Equal("message.recipient.sent", delivery.Type);
        await page.GotoAsync("/");
        await Assertions.Expect(banner).ToHaveCountAsync(0);
    }

    /// <summary>The reason Herald gives, with the failure period as configured here and the refused connection.</summary>
    private static Regex DisabledReason() => ReasonPattern();

    [GeneratedRegex(@"Disabled by Herald at \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC: no delivery succeeded for 1 minute; the last attempt: \S")]
    private static partial Regex ReasonPattern();
}
