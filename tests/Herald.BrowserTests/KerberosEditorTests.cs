using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Microsoft.Playwright;

namespace Herald.BrowserTests;

/// <summary>
/// The connection editor's Kerberos choice, in Chromium: a new connection filled in with the
/// service account's principal, realm, keytab and the server's principal is tested before saving
/// (a real KDC, Dovecot with GSSAPI, smtp-sink) and then saved; the CLI shows what was stored.
/// On a node of its own, so that the other tests' pages stay as they are.
/// </summary>
public sealed class KerberosEditorTests(ConsoleFixture fixture)
{
    [Fact]
    public async Task A_kerberos_connection_is_tested_from_the_editor_and_saved()
    {
        using var kdc = await KerberosKdc.StartAsync();
        var serviceKeytab = await kdc.AddPrincipalWithKeytabAsync("smtp/localhost", Path.Combine(kdc.Directory, "dovecot.keytab"));
        var keytab = await kdc.AddPrincipalWithKeytabAsync("svc-herald", Path.Combine(kdc.Directory, "herald.keytab"));
        using var sink = SmtpSink.Start();
        using var dovecot = await DovecotSubmission.StartWindowsAuthenticationAsync(sink.Port, serviceKeytab, "unused-ntlm-password");
        using var cli = ConsoleFixture.NodeCommandLine();

        Assert.Equal(0, (await cli.RunWithInputAsync(ConsoleFixture.Password, "admin", "create", "--name", "kerberos-admin")).ExitCode);
        // The node's krb5.conf, as /etc/krb5.conf would be.
        await using var server = await HeraldServer.StartAsync(cli.DataDirectory, new Dictionary<string, string>(ConsoleFixture.Environment) { ["KRB5_CONFIG"] = kdc.Krb5Config });

        var page = await fixture.NewPageAsync(server);
        await page.GotoAsync("/signin");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("kerberos-admin");
        await page.GetByLabel("Password", ConsoleFixture.Exact).FillAsync(ConsoleFixture.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/signin", StringComparison.Ordinal));

        await page.GotoAsync("/connections/edit?scope=%2F");
        await page.GetByLabel("Name", ConsoleFixture.Exact).FillAsync("exchange");
        await page.GetByLabel("Server", ConsoleFixture.Exact).FillAsync("localhost");
        await page.GetByLabel("Port", ConsoleFixture.Exact).FillAsync($"{dovecot.Port}");
        await page.GetByLabel("Security", ConsoleFixture.Exact).SelectOptionAsync("none");
        await page.Locator("input[name=allowPlaintextAuth]").CheckAsync();
        await page.GetByRole(AriaRole.Radio, new() { Name = "Kerberos (GSSAPI)" }).CheckAsync();
        await page.GetByLabel("User name", ConsoleFixture.Exact).FillAsync("svc-herald");
        await page.GetByLabel("Realm", ConsoleFixture.Exact).FillAsync(KerberosKdc.Realm);
        await page.GetByLabel("Service principal", ConsoleFixture.Exact).FillAsync("smtp/localhost");
        await page.GetByLabel("Keytab", ConsoleFixture.Exact).FillAsync(keytab);
        await page.GetByLabel("From", ConsoleFixture.Exact).FillAsync("mailer@example.org");
        await page.GetByLabel("To", ConsoleFixture.Exact).FillAsync("someone@example.net");
        await page.GetByLabel("Subject", ConsoleFixture.Exact).FillAsync("Tested with a Kerberos ticket");

        await page.GetByRole(AriaRole.Button, new() { Name = "Send test email" }).ClickAsync();
        var received = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(30)));
        Assert.Equal("Tested with a Kerberos ticket", received.ToMimeMessage().Subject);
        await Assertions.Expect(page.GetByRole(AriaRole.Radio, new() { Name = "Kerberos (GSSAPI)" })).ToBeCheckedAsync();
        await ConsoleFixture.ScreenshotAsync(page, "kerberos-editor");

        await page.GetByRole(AriaRole.Button, new() { Name = "Save connection" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.EndsWith("/connections/edit?scope=%2F", StringComparison.Ordinal));
        var show = await cli.RunAsync("smtp", "connection", "show", "exchange");
        Assert.Contains("GSSAPI (Kerberos)", show.Output, StringComparison.Ordinal);
        Assert.Contains("svc-herald@HERALD.TEST", show.Output, StringComparison.Ordinal);
        Assert.Contains("smtp/localhost@HERALD.TEST", show.Output, StringComparison.Ordinal);
        Assert.Contains($"keytab {keytab}", show.Output, StringComparison.Ordinal);
    }
}
