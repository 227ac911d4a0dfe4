using System.Net.Http.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>The failing-connection banner, on a node of its own so that the other tests' pages stay clean.</summary>
public sealed class BannerTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task A_connection_that_cannot_start_tls_raises_a_banner_on_every_page_and_the_mail_stays_queued()
    {
        using var cli = ConsoleFixture.NodeCommandLine();

        // smtp-sink offers no STARTTLS: a connection that requires it must not send, and must say so.
        var port = fixture.Sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, (await cli.RunAsync("smtp", "set", "--server", "127.0.0.1", "--port", port, "--security", "starttls-required", "--from", "alerts@example.org")).ExitCode);
        Assert.Equal(0, (await cli.RunWithInputAsync(ConsoleFixture.Password, "admin", "create", "--name", "banner-admin")).ExitCode);
        var key = (await cli.RunAsync("apikey", "create", "--scope", "/", "--role", "sender")).Output.Trim().Split('\n')[^1].Trim();
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, ConsoleFixture.Environment);
        using (var http = server.Client(key))
        {
            using var response = await http.PostAsJsonAsync(new Uri("api/v1/messages", UriKind.Relative),
                new { scope = "/", to = new[] { "someone@example.org" }, subject = "Needs TLS", text = "Never in the clear." }, TestContext.Current.CancellationToken);
            response.EnsureSuccessStatusCode();
        }

        var page = await fixture.NewPageAsync(server);
        await page.GotoAsync("/signin");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("banner-admin");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await ConsoleFixture.WaitForAsync(async () =>
        {
            await page.GotoAsync("/queue");
            return await page.Locator(".banner").CountAsync() == 1;
        });

        foreach (var path in new[] { "/", "/settings", "/connections", "/relay", "/queue" })
        {
            await page.GotoAsync(path);
            await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Mail is not going out through an SMTP connection.");
            await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("default");
        }

        await page.GotoAsync("/");
        await ConsoleFixture.ScreenshotAsync(page, "banner");
        Assert.Matches(@"1 deferred\s+Needs TLS", (await cli.RunAsync("queue", "list", "--state", "deferred")).Output);
        Assert.DoesNotContain(fixture.Sink.Received(), m => m.ToMimeMessage().Subject == "Needs TLS");
    }
}
