using System.Text.Json;
using Herald.Relay;

namespace Herald.IntegrationTests.Relay;

/// <summary>The relay against real clients from Debian's packages: swaks, Postfix's smtp-source,
/// nmap's smtp-open-relay probes and testssl.sh.</summary>
public sealed class RelayExternalClientTests
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Swaks_sends_over_starttls_with_auth_and_pipelining()
    {
        await using var relay = await RelayHarness.StartAsync();
        relay.Gate.Rules = new RelayAuthRules(Required: true, AllowedWithoutTls: false);

        var (exit, output) = await ExternalTool.RunAsync("swaks", ["--server", $"127.0.0.1:{relay.Port}", "--tls", "--pipeline",
            "--auth", "LOGIN", "--auth-user", "app", "--auth-password", "s3cret pass",
            "--from", "app@example.org", "--to", "someone@herald.test", "--header", "Subject: from swaks", "--body", "swaks body"], ToolTimeout);

        Assert.True(exit == 0, output);
        var accepted = Assert.Single(relay.Gate.Accepted);
        Assert.Equal(("app", true), (accepted.Session.AuthenticatedAs, accepted.Session.Tls));
        Assert.Equal(new RelayEnvelope("app@example.org", accepted.Envelope.Recipients, false, false), accepted.Envelope);
        Assert.Equal(["someone@herald.test"], accepted.Envelope.Recipients);
        Assert.Contains("swaks body\r\n", System.Text.Encoding.ASCII.GetString(accepted.Data), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Smtp_source_delivers_every_message_over_parallel_sessions()
    {
        await using var relay = await RelayHarness.StartAsync();

        var (exit, output) = await ExternalTool.RunAsync("/usr/sbin/smtp-source", ["-s", "4", "-m", "20", "-d", "-l", "1024",
            "-f", "source@example.org", "-t", "sink@herald.test", $"127.0.0.1:{relay.Port}"], ToolTimeout);

        Assert.True(exit == 0, output);
        Assert.Equal(20, relay.Gate.Accepted.Count);
        Assert.All(relay.Gate.Accepted, m => Assert.Equal(["sink@herald.test"], m.Envelope.Recipients));
    }

    /// <summary>nmap tries 16 ways to relay to its own domain (nmap.scanme.org) through the
    /// relay, whose gate accepts only herald.test. The script runs only on a port nmap knows as
    /// SMTP: -sV identifies the relay's port from its greeting.</summary>
    [Fact]
    public async Task Nmap_smtp_open_relay_finds_no_open_relay()
    {
        await using var relay = await RelayHarness.StartAsync();

        var (exit, output) = await ExternalTool.RunAsync("nmap", ["-Pn", "-n", "-sV", "--version-light", "-p", $"{relay.Port}", "--script", "smtp-open-relay",
            "--script-args", "smtp-open-relay.ip=127.0.0.1", "127.0.0.1"], ToolTimeout);

        Assert.True(exit == 0, output);
        Assert.True(output.Contains("Server doesn't seem to be an open relay, all tests failed", StringComparison.Ordinal), output);
        Assert.NotEmpty(relay.Gate.SendersChecked);
        Assert.Empty(relay.Gate.Accepted);
        // The % hack, bang paths and quoted local parts were refused before the gate was asked.
        Assert.NotEmpty(relay.Gate.RecipientsChecked);
        Assert.DoesNotContain(relay.Gate.RecipientsChecked, r => r.IndexOfAny(['%', '!', '"']) >= 0);
    }

    [Fact]
    public async Task Testssl_finds_no_weak_protocol_or_cipher()
    {
        await using var relay = await RelayHarness.StartAsync();
        var json = Path.Combine(Directory.CreateTempSubdirectory("herald-testssl-").FullName, "result.json");

        var (_, output) = await ExternalTool.RunAsync("testssl", ["--quiet", "--warnings", "off", "--color", "0", "--openssl-timeout", "10",
            "--starttls", "smtp", "-p", "-s", "--jsonfile", json, $"127.0.0.1:{relay.Port}"], ToolTimeout);

        var findings = JsonDocument.Parse(await File.ReadAllTextAsync(json, TestContext.Current.CancellationToken)).RootElement.EnumerateArray()
            .ToDictionary(f => f.GetProperty("id").GetString()!, f => f.GetProperty("finding").GetString()!);
        foreach (var weak in new[] { "SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA" })
        {
            Assert.True(findings.TryGetValue(weak, out var finding) && finding.StartsWith("not offered", StringComparison.Ordinal), $"{weak}: {finding}\n{output}");
        }

        Assert.StartsWith("offered", findings["TLS1_2"], StringComparison.Ordinal);
        Assert.StartsWith("offered", findings["TLS1_3"], StringComparison.Ordinal);
    }
}
