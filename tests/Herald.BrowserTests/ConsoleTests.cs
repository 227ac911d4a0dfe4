using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>What an administrator does in the console, in chromium, against a real herald serve:
/// each test checks what the page showed and what the database (read with the CLI) or the SMTP
/// sink holds afterwards.</summary>
public sealed partial class ConsoleTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task Testing_a_connection_before_saving_sends_to_the_sink_and_saving_keeps_the_password_hidden()
    {
        var page = await fixture.SignedInPageAsync();
        // Other tests deliver too (a rule's test notifications): the figure is what the outbox holds as sent.
        var sent = SentCount().Matches(await fixture.CliAsync("queue", "list", "--state", "sent", "--limit", "1000")).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(sent >= ConsoleFixture.DeliveredMessages, $"the outbox holds {sent} sent recipients");
        await Assertions.Expect(page.Locator(".stat-sent")).ToHaveTextAsync(sent.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // One bar per hour with deliveries (a run that crosses an hour has two); together they are the sent figure.
        var bars = await page.Locator(".chart rect.bar-sent title").AllTextContentsAsync();
        Assert.NotEmpty(bars);
        Assert.Equal(sent, bars.Sum(title => int.Parse(SentCount().Match(title).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        await ConsoleFixture.ScreenshotAsync(page, "dashboard");
        await page.GetByRole(AriaRole.Navigation, new() { Name = "Console" }).GetByRole(AriaRole.Link, new() { Name = "SMTP connections" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Add connection" }).ClickAsync();

        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("sink-test");
        await page.GetByLabel("Server", ConsoleFixture.Exact).FillAsync("127.0.0.1");
        await page.GetByLabel("Port", ConsoleFixture.Exact).FillAsync(fixture.Sink.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByLabel("Security", ConsoleFixture.Exact).SelectOptionAsync("none");
        await page.GetByLabel("From", ConsoleFixture.Exact).FillAsync("console@example.org");
        await page.GetByLabel("To", ConsoleFixture.Exact).FillAsync("inbox@example.org");
        await page.GetByLabel("Subject", ConsoleFixture.Exact).FillAsync("Console connection test 7d1c");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send test email" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Sent.");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("250");
        var received = await fixture.Sink.WaitForAsync(ConsoleFixture.DeliveredMessages + 1, TimeSpan.FromSeconds(20));
        var message = Assert.Single(received, m => m.ToMimeMessage().Subject == "Console connection test 7d1c");
        Assert.Equal(["inbox@example.org"], message.Recipients);
        Assert.Equal("console@example.org", message.Sender);
        await ConsoleFixture.ScreenshotAsync(page, "connection-test");
        // Nothing was saved by the test.
        var list = await page.Context.NewPageAsync();
        await list.GotoAsync("/connections");
        await Assertions.Expect(list.GetByRole(AriaRole.Row, new() { Name = "sink-test" })).ToHaveCountAsync(0);
        await list.CloseAsync();

        await page.GetByRole(AriaRole.Radio, new() { Name = "User name and password" }).CheckAsync();
        await page.GetByLabel("User name", ConsoleFixture.Exact).FillAsync("mailer");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync("s3cret-upstream-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save connection" }).ClickAsync();
        // Security 'none' would send the password in the clear: refused until the administrator says so.
        await Assertions.Expect(page.Locator("#security-error")).ToContainTextAsync("could send the password of /:sink-test unencrypted");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync("s3cret-upstream-password");
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "Allow the password over an unencrypted connection" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save connection" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved SMTP connection /:sink-test");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "sink-test" })).ToContainTextAsync("password set");
        await ConsoleFixture.ScreenshotAsync(page, "connections");

        await page.GetByRole(AriaRole.Link, new() { Name = "sink-test" }).ClickAsync();
        Assert.Equal("", await page.Locator("#password").InputValueAsync());
        Assert.DoesNotContain("s3cret-upstream-password", await page.ContentAsync(), StringComparison.Ordinal);
        await Assertions.Expect(page.Locator("label[for=password] .badge")).ToHaveTextAsync("set");
        await ConsoleFixture.ScreenshotAsync(page, "connection-edit");
    }

    [Fact]
    public async Task A_client_certificate_without_clientAuth_is_refused_next_to_the_field_and_nothing_is_saved()
    {
        var page = await fixture.SignedInPageAsync();
        await page.GotoAsync("/connections/edit");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("cert-test");
        await page.GetByLabel("Server", ConsoleFixture.Exact).FillAsync("127.0.0.1");
        await page.GetByLabel("Upload a certificate", ConsoleFixture.Exact).SetInputFilesAsync(new FilePayload
        {
            Name = "server-only.pem",
            MimeType = "application/x-pem-file",
            Buffer = System.Text.Encoding.ASCII.GetBytes(ServerOnlyCertificatePem()),
        });
        await page.GetByRole(AriaRole.Button, new() { Name = "Save connection" }).ClickAsync();

        var field = page.GetByLabel("Upload a certificate", ConsoleFixture.Exact);
        await Assertions.Expect(field).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator("#clientCertificate-error")).ToContainTextAsync("1.3.6.1.5.5.7.3.2");
        await ConsoleFixture.ScreenshotAsync(page, "connection-invalid");
        await page.GotoAsync("/connections");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "cert-test" })).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Root_settings_are_inherited_by_a_child_scope_until_it_overrides_and_reverts_one()
    {
        var page = await fixture.SignedInPageAsync();
        await CreateConnectionAsync(page, "outbound");
        await page.GotoAsync("/settings");
        await page.GetByLabel("SMTP connection", ConsoleFixture.Exact).SelectOptionAsync("/:outbound");
        await page.GetByLabel("From address", ConsoleFixture.Exact).FillAsync("alerts@example.org");
        await page.GetByLabel("From display name", ConsoleFixture.Exact).FillAsync("Example Alerts");
        await page.GetByLabel("Character set", ConsoleFixture.Exact).SelectOptionAsync("iso-8859-1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save settings" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved the outgoing email settings of /.");
        var root = (await fixture.CliAsync("smtp", "show", "--scope", "/"));
        Assert.Matches(ConsoleFixture.SettingLine("connection", "/:outbound", "set here"), root);
        Assert.Matches(ConsoleFixture.SettingLine("from", "alerts@example.org", "set here"), root);
        Assert.Matches(ConsoleFixture.SettingLine("charset", "iso-8859-1", "set here"), root);
        Assert.Matches(ConsoleFixture.SettingLine("reply-to", "(none)", "default"), root);

        await page.GetByRole(AriaRole.Link, new() { Name = "/hr", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("#from-origin")).ToHaveTextAsync("inherited from /");
        await Assertions.Expect(page.GetByLabel("From address", ConsoleFixture.Exact)).ToHaveValueAsync("alerts@example.org");
        await page.GetByLabel("From address", ConsoleFixture.Exact).FillAsync("not an address");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save settings" }).ClickAsync();
        await Assertions.Expect(page.Locator("#from-error")).ToContainTextAsync("From address");
        await Assertions.Expect(page.GetByLabel("From address", ConsoleFixture.Exact)).ToHaveAttributeAsync("aria-invalid", "true");
        await ConsoleFixture.ScreenshotAsync(page, "settings-invalid");
        Assert.Matches(ConsoleFixture.SettingLine("from", "alerts@example.org", "inherited from /"), (await fixture.CliAsync("smtp", "show", "--scope", "/hr")));

        await page.GetByLabel("From address", ConsoleFixture.Exact).FillAsync("hr@example.org");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save settings" }).ClickAsync();
        await Assertions.Expect(page.Locator("#from-origin")).ToHaveTextAsync("set here");
        await Assertions.Expect(page.Locator("#connection-origin")).ToHaveTextAsync("inherited from /");
        var hr = (await fixture.CliAsync("smtp", "show", "--scope", "/hr"));
        Assert.Matches(ConsoleFixture.SettingLine("from", "hr@example.org", "set here"), hr);
        Assert.Matches(ConsoleFixture.SettingLine("connection", "/:outbound", "inherited from /"), hr);
        Assert.Matches(ConsoleFixture.SettingLine("from name", "Example Alerts", "inherited from /"), hr);
        await ConsoleFixture.ScreenshotAsync(page, "settings-child");

        await page.GetByRole(AriaRole.Button, new() { Name = "Revert to inherited" }).ClickAsync();
        await Assertions.Expect(page.Locator("#from-origin")).ToHaveTextAsync("inherited from /");
        Assert.Matches(ConsoleFixture.SettingLine("from", "alerts@example.org", "inherited from /"), (await fixture.CliAsync("smtp", "show", "--scope", "/hr")));

        await page.GotoAsync("/settings?scope=%2F");
        await ConsoleFixture.ScreenshotAsync(page, "settings-root");
    }

    [Fact]
    public async Task The_queue_shows_a_deferred_message_with_the_upstream_reply_and_retry_and_cancel_change_it()
    {
        var page = await fixture.SignedInPageAsync();
        await page.GotoAsync("/queue");
        await page.GetByLabel("State", ConsoleFixture.Exact).SelectOptionAsync("deferred");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        Assert.Contains("state=deferred", page.Url, StringComparison.Ordinal);
        await ConsoleFixture.ScreenshotAsync(page, "queue");
        await page.GetByRole(AriaRole.Link, new() { Name = "Quarterly report is late" }).ClickAsync();

        var history = page.Locator(".timeline li");
        await Assertions.Expect(history).ToHaveCountAsync(1);
        await Assertions.Expect(history.First).ToContainTextAsync("deferred");
        await Assertions.Expect(history.First).ToContainTextAsync("waiting@example.org");
        await Assertions.Expect(history.First).ToContainTextAsync(new Regex(@"Upstream reply: 4\d\d"));
        await ConsoleFixture.ScreenshotAsync(page, "message");

        await page.GetByRole(AriaRole.Button, new() { Name = "Retry now" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("will be tried again now");
        // Due at once instead of after the one-minute backoff: a second attempt is recorded.
        await ConsoleFixture.WaitForAsync(async () =>
        {
            await page.ReloadAsync();
            return await history.CountAsync() >= 2;
        });

        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel delivery" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Cancelled 1 recipient(s)");
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "waiting@example.org" })).ToContainTextAsync("cancelled");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Cancel delivery" })).ToHaveCountAsync(0);
        Assert.Contains("waiting@example.org: cancelled", (await fixture.CliAsync("queue", "show", fixture.DeferredMessageId)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_relay_listener_is_saved_with_its_access_list_and_bad_entries_are_named()
    {
        var page = await fixture.SignedInPageAsync();
        await page.GotoAsync("/relay");
        await ConsoleFixture.ScreenshotAsync(page, "relay");
        await page.GetByRole(AriaRole.Link, new() { Name = "Add listener" }).ClickAsync();
        await page.GetByLabel("Listens on", ConsoleFixture.Exact).FillAsync("127.0.0.1:2599");
        await page.GetByLabel("Scope", ConsoleFixture.Exact).SelectOptionAsync("/hr");
        await page.GetByRole(AriaRole.Radio, new() { Name = "All except the list below" }).CheckAsync();
        await page.GetByLabel("The list", ConsoleFixture.Exact).FillAsync("10.9.0.0/16\nnot a network/99");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save listener" }).ClickAsync();
        await Assertions.Expect(page.Locator("#entries-error")).ToContainTextAsync("not a network/99");
        await ConsoleFixture.ScreenshotAsync(page, "relay-listener-invalid");
        Assert.DoesNotContain("2599", (await fixture.CliAsync("relay", "list")), StringComparison.Ordinal);

        await page.GetByLabel("The list", ConsoleFixture.Exact).FillAsync("10.9.0.0/16\n192.0.2.7");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save listener" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Saved relay listener 127.0.0.1:2599");
        var list = (await fixture.CliAsync("relay", "list"));
        Assert.Contains("127.0.0.1:2599", list, StringComparison.Ordinal);
        Assert.Contains("all-except", list, StringComparison.Ordinal);
        Assert.Contains("10.9.0.0/16", list, StringComparison.Ordinal);

        await page.GetByLabel("User name", ConsoleFixture.Exact).FillAsync("scanner");
        await page.GetByLabel("Scope", ConsoleFixture.Exact).SelectOptionAsync("/hr");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync("relay-account-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save account" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Row, new() { Name = "scanner" })).ToContainTextAsync("/hr");
        Assert.DoesNotContain("relay-account-password", await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Contains("scanner", (await fixture.CliAsync("relay", "account", "list")), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\b(\d+) sent\b")]
    private static partial Regex SentCount();

    private static async Task CreateConnectionAsync(IPage page, string name)
    {
        await page.GotoAsync("/connections/edit");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync(name);
        await page.GetByLabel("Server", ConsoleFixture.Exact).FillAsync("smtp.example.org");
        await page.GetByLabel("Port", ConsoleFixture.Exact).FillAsync("587");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save connection" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Saved SMTP connection /:{name}");
    }

    /// <summary>A self-signed RSA certificate with its key whose Extended Key Usage names only
    /// serverAuth: Herald must refuse it as a client certificate, saying why.</summary>
    private static string ServerOnlyCertificatePem()
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=server-only", rsa, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return certificate.ExportCertificatePem() + "\n" + rsa.ExportPkcs8PrivateKeyPem();
    }
}
