using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>The Dead letters page, on a node of its own: an administrator ticks two rows and
/// presses "Retry selected"; the smart host gets exactly those two.</summary>
public sealed class DeadLetterTests(ConsoleFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Retry_selected_sends_exactly_the_two_ticked_recipients_and_leaves_the_third_a_dead_letter()
    {
        using var sink = SmtpSink.Start();
        using var cli = ConsoleFixture.NodeCommandLine();

        var port = sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, (await cli.RunAsync("smtp", "set", "--server", "127.0.0.1", "--port", port, "--security", "none", "--from", "alerts@example.org")).ExitCode);
        Assert.Equal(0, (await cli.RunWithInputAsync(ConsoleFixture.Password, "admin", "create", "--name", "dead-letter-admin")).ExitCode);
        var key = (await cli.RunAsync("apikey", "create", "--scope", "/", "--role", "admin")).Output.Trim().Split('\n')[^1].Trim();
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, ConsoleFixture.Environment);
        string id;
        using (var http = server.Client(key))
        {
            // All three suppressed as the message is stored; two entries removed afterwards.
            var entries = new List<string>();
            foreach (var address in new[] { "ann@example.org", "ben@example.org", "cat@example.org" })
            {
                using var added = await http.PostAsJsonAsync("api/v1/suppressions", new { scope = "/", address, reason = "administrator" }, Ct);
                entries.Add(JsonDocument.Parse(await added.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetString()!);
            }

            using var sent = await http.PostAsJsonAsync("api/v1/messages", new { scope = "/", to = new[] { "ann@example.org", "ben@example.org", "cat@example.org" }, subject = "Redrive me", text = "Hello." }, Ct);
            id = JsonDocument.Parse(await sent.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("id").GetString()!;
            foreach (var entry in entries.Take(2))
            {
                using var removed = await http.DeleteAsync(new Uri($"api/v1/suppressions/{entry}", UriKind.Relative), Ct);
                removed.EnsureSuccessStatusCode();
            }
        }

        var page = await fixture.NewPageAsync(server);
        await page.GotoAsync("/signin");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("dead-letter-admin");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Dead letters" }).ClickAsync();

        await page.GetByLabel($"Select ann@example.org of message {id}").CheckAsync();
        await page.GetByLabel($"Select ben@example.org of message {id}").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Retry selected" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("2 of 2 selected recipients retried.");
        await ConsoleFixture.ScreenshotAsync(page, "dead-letters");
        var received = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        Assert.Equal(["ann@example.org", "ben@example.org"], received.Recipients.Order(StringComparer.Ordinal));
        await Assertions.Expect(page.GetByLabel($"Select cat@example.org of message {id}")).ToBeVisibleAsync();
        Assert.Equal(1, await page.Locator("tbody tr").CountAsync());
    }
}
