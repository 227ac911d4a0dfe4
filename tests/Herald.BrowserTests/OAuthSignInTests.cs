using System.Net.Http.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>
/// The authorization-code sign-in from the console, in Chromium: the OAuth 2.0 editor, "Sign in with
/// provider", the test authorization server's consent page (OpenIddict), back to Herald with the
/// refresh token stored; then that refresh token gets the tokens that send mail through Dovecot.
/// On a node of its own, so that the other tests' pages stay as they are.
/// </summary>
public sealed class OAuthSignInTests(ConsoleFixture fixture)
{
    private const string Mailbox = "helpdesk@example.org";
    private const string ClientSecret = "console-client-secret";

    [Fact]
    public async Task Signing_in_from_the_console_stores_a_refresh_token_that_later_sends_mail()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var tokens = await AuthorizationServer.StartAsync();
        using var sink = SmtpSink.Start();
        using var dovecot = await DovecotSubmission.StartAsync(tokens, sink.Port);
        using var cli = ConsoleFixture.NodeCommandLine();

        var set = await cli.RunWithInputAsync(ClientSecret + "\n", "smtp", "set", "--from", Mailbox, "--server", "127.0.0.1", "--port", $"{dovecot.Port}",
            "--security", "none", "--allow-plaintext-auth", "true", "--auth", "oauth2", "--oauth-provider", "generic", "--oauth-grant", "refresh-token",
            "--token-endpoint", tokens.TokenEndpoint, "--authorization-endpoint", tokens.AuthorizationEndpoint, "--client-id", "herald-console",
            "--username", Mailbox, "--client-secret-stdin");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal(0, (await cli.RunWithInputAsync(ConsoleFixture.Password, "admin", "create", "--name", "oauth-admin")).ExitCode);
        var key = (await cli.RunAsync("apikey", "create", "--scope", "/", "--role", "admin")).Output.Trim().Split('\n')[^1].Trim();
        // No idle sessions kept: each message shows Dovecot a token, as after a quiet spell.
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, new Dictionary<string, string>(ConsoleFixture.Environment)
        {
            ["HERALD_Delivery__IdleConnectionTimeout"] = "00:00:00",
            ["HERALD_Delivery__RetryDelays__0"] = "01:00:00",
        });
        await tokens.AddClientAsync("herald-console", ClientSecret, Mailbox, new Uri(server.BaseAddress, "connections/signin"));

        var page = await fixture.NewPageAsync(server);
        await page.GotoAsync("/signin");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("oauth-admin");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/signin", StringComparison.Ordinal));

        // The editor shows OAuth 2.0 with the provider's fields; the secret only as "set".
        await page.GotoAsync("/connections/edit?scope=%2F&name=default");
        await Assertions.Expect(page.GetByRole(AriaRole.Radio, new() { Name = "OAuth 2.0" })).ToBeCheckedAsync();
        await Assertions.Expect(page.GetByLabel("Token endpoint")).ToHaveValueAsync(tokens.TokenEndpoint.TrimEnd('/'));
        await Assertions.Expect(page.Locator("#oauth")).ToContainTextAsync("Nobody has signed in yet.");
        Assert.DoesNotContain(ClientSecret, await page.ContentAsync(), StringComparison.Ordinal);
        await ConsoleFixture.ScreenshotAsync(page, "oauth-editor");

        await page.GetByRole(AriaRole.Link, new() { Name = "Sign in with provider" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading)).ToContainTextAsync($"Allow herald-console to send mail as {Mailbox}?");
        await ConsoleFixture.ScreenshotAsync(page, "oauth-consent");
        await page.GetByRole(AriaRole.Button, new() { Name = "Allow" }).ClickAsync();

        await page.WaitForURLAsync(url => url.Contains("/connections/edit", StringComparison.Ordinal));
        await Assertions.Expect(page.Locator("body")).ToContainTextAsync($"SMTP connection /:default sends as {Mailbox} with the refresh token, stored encrypted.");
        await Assertions.Expect(page.Locator("#oauth")).ToContainTextAsync($"Signed in as {Mailbox}");
        await ConsoleFixture.ScreenshotAsync(page, "oauth-signed-in");

        // Later, the refresh token gets an access token that Dovecot accepts.
        using var http = server.Client(key);
        using var sent = await http.PostAsJsonAsync(new Uri("api/v1/messages", UriKind.Relative),
            new { scope = "/", to = new[] { "someone@example.net" }, subject = "Sent with a signed-in mailbox", text = "x" }, ct);
        sent.EnsureSuccessStatusCode();
        await sink.WaitForAsync(1, TimeSpan.FromSeconds(30));
        var message = Assert.Single(sink.Received());
        Assert.Equal("Sent with a signed-in mailbox", message.ToMimeMessage().Subject);
        Assert.Equal(Mailbox, message.Sender);

        var show = await cli.RunAsync("smtp", "show");
        Assert.Contains($"signed in as {Mailbox}", show.Output, StringComparison.Ordinal);
        Assert.Contains("(refresh token set)", show.Output, StringComparison.Ordinal);

        // The client is disabled at the authorization server and its grants revoked: the next message
        // waits, and every page says which connection fails and that someone must sign in again.
        await tokens.DisableClientAsync("herald-console");
        using (var waiting = await http.PostAsJsonAsync(new Uri("api/v1/messages", UriKind.Relative),
            new { scope = "/", to = new[] { "someone@example.net" }, subject = "Waits for a token", text = "x" }, ct))
        {
            waiting.EnsureSuccessStatusCode();
        }

        await ConsoleFixture.WaitForAsync(async () =>
        {
            await page.GotoAsync("/connections");
            return await page.Locator(".banner").CountAsync() == 1;
        });
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Mail is not going out through an SMTP connection.");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("default");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("invalid_grant");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("sign in again");
        await ConsoleFixture.ScreenshotAsync(page, "oauth-banner");
        Assert.Single(sink.Received());
    }
}
