using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;
using Herald.Testing;

namespace Herald.IntegrationTests.Doctor;

/// <summary><c>herald doctor</c> run as an operator runs it, against real servers: the Postfix
/// fixture's STARTTLS+AUTH listener, a Dovecot submission server with an expired certificate, a
/// port nothing listens on, and a relay endpoint another program holds.</summary>
public sealed class DoctorTests(PostfixFixture postfix) : IDisposable
{
    private const string Passphrase = "doctor checks every node twice";
    private readonly HeraldCommandLine _herald = new() { Environment = { ["HERALD_CREDENTIAL_KEY"] = Passphrase } };

    public void Dispose() => _herald.Dispose();

    [Fact]
    public async Task A_healthy_postfix_with_starttls_and_authentication_passes_every_check_and_doctor_exits_zero()
    {
        await RelayOnFreePortAsync();
        await SetConnectionAsync(postfix.SaslPassword, "--server", "127.0.0.1", "--port", $"{postfix.StartTlsAuthPort}", "--security", "starttls-required",
            "--trust-ca", postfix.Pki("ca.pem"), "--auth", "plain,login", "--username", postfix.SaslUser);

        var table = await _herald.RunAsync("doctor");
        var json = await _herald.RunAsync("doctor", "--json");

        Assert.True(table.ExitCode == 0, table.ToString());
        foreach (var check in new[] { "database", "migrations", "credential key", "clock skew", "free disk", "smtp /:default dns", "smtp /:default connect",
            "smtp /:default tls", "smtp /:default certificate", "smtp /:default ehlo", "smtp /:default auth" })
        {
            Assert.Matches($@"(?m)^{check} +OK ", table.Output);
        }

        Assert.Matches(@"(?m)^relay 127\.0\.0\.1:\d+ +OK +Free", table.Output);
        Assert.Contains($"Authenticated as '{postfix.SaslUser}'", table.Output, StringComparison.Ordinal);
        Assert.Contains("AUTH PLAIN LOGIN", table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(postfix.SaslPassword, table.Output + table.Error + json.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Passphrase, table.Output + table.Error + json.Output, StringComparison.Ordinal);

        Assert.True(json.ExitCode == 0, json.ToString());
        using var report = JsonDocument.Parse(json.Output);
        Assert.Equal("ok", report.RootElement.GetProperty("status").GetString());
        Assert.All(report.RootElement.GetProperty("checks").EnumerateArray(), c => Assert.Equal("ok", c.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task A_wrong_password_fails_the_authentication_check_and_doctor_exits_non_zero()
    {
        await RelayOnFreePortAsync();
        const string Wrong = "not-alices-password";
        await SetConnectionAsync(Wrong, "--server", "127.0.0.1", "--port", $"{postfix.StartTlsAuthPort}", "--security", "starttls-required",
            "--trust-ca", postfix.Pki("ca.pem"), "--auth", "plain", "--username", postfix.SaslUser);

        var result = await _herald.RunAsync("doctor");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches(@"(?m)^smtp /:default tls +OK ", result.Output);
        Assert.Matches(@"(?m)^smtp /:default auth +FAIL +Authentication failed: The server refused authentication as 'alice[^']*': 535", result.Output);
        Assert.Contains("1 check(s) failed: smtp /:default auth.", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_server_certificate_fails_the_certificate_check_naming_its_expiry()
    {
        await RelayOnFreePortAsync();
        var (caPem, certificatePem, keyPem, notAfter) = ExpiredCertificate();
        var caFile = Path.Combine(_herald.DataDirectory, "..", $"doctor-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(caFile, caPem, TestContext.Current.CancellationToken);
        using var dovecot = await DovecotSubmission.StartWithPasswordAsync(postfix.PlainPort, "dovecot-password", certificatePem, keyPem);
        try
        {
            await SetConnectionAsync("dovecot-password", "--server", "127.0.0.1", "--port", $"{dovecot.Port}", "--security", "starttls-required",
                "--trust-ca", caFile, "--auth", "plain", "--username", "bob");

            var result = await _herald.RunAsync("doctor");

            Assert.NotEqual(0, result.ExitCode);
            Assert.Matches(@"(?m)^smtp /:default connect +OK ", result.Output);
            Assert.Matches($@"(?m)^smtp /:default certificate +FAIL +The server's certificate expired on {notAfter:yyyy-MM-dd}", result.Output);
            Assert.Contains("CN=expired.test", result.Output, StringComparison.Ordinal);
            Assert.Matches(@"(?m)^smtp /:default tls +FAIL ", result.Output);
        }
        finally
        {
            File.Delete(caFile);
        }
    }

    [Fact]
    public async Task A_closed_port_fails_the_connect_check_and_nothing_after_it_is_tried()
    {
        await RelayOnFreePortAsync();
        var closed = LoopbackPort.Free();
        await SetConnectionAsync(null, "--server", "127.0.0.1", "--port", $"{closed}", "--security", "starttls-required");

        var result = await _herald.RunAsync("doctor", "--timeout", "5");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches(@"(?m)^smtp /:default dns +OK ", result.Output);
        Assert.Matches($@"(?m)^smtp /:default connect +FAIL +Cannot connect to 127\.0\.0\.1:{closed}: the connection was refused", result.Output);
        Assert.DoesNotMatch("(?m)^smtp /:default (tls|ehlo|auth) ", result.Output);
    }

    [Fact]
    public async Task A_connection_reserved_for_other_nodes_is_not_checked_from_this_one()
    {
        await RelayOnFreePortAsync();
        await SetConnectionAsync(null, "--server", "127.0.0.1", "--port", $"{LoopbackPort.Free()}", "--security", "none", "--node-tags", "dmz");

        var untagged = await _herald.RunAsync("doctor");
        _herald.Environment["HERALD_NODE_TAGS"] = "dmz";
        var tagged = await _herald.RunAsync("doctor");

        Assert.True(untagged.ExitCode == 0, untagged.ToString());
        Assert.Matches(@"(?m)^smtp /:default +OK +Not checked: used only by nodes tagged dmz, and this node has no tags", untagged.Output);
        Assert.NotEqual(0, tagged.ExitCode);
        Assert.Matches(@"(?m)^smtp /:default connect +FAIL ", tagged.Output);
    }

    [Fact]
    public async Task A_relay_endpoint_another_program_holds_fails_and_one_herald_serves_would_pass()
    {
        using var other = new TcpListener(IPAddress.Loopback, 0);
        other.Start();
        var port = ((IPEndPoint)other.LocalEndpoint).Port;
        await RunOkAsync("relay", "set", "--listen", $"127.0.0.1:{port}");
        await RunOkAsync("relay", "remove", "--listen", "127.0.0.1:2525");
        await SetConnectionAsync(null, "--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "none");

        var result = await _herald.RunAsync("doctor", "--timeout", "2");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches($@"(?m)^relay 127\.0\.0\.1:{port} +FAIL +The port is in use by another program \(it answers nothing\)", result.Output);
        Assert.Matches(@"(?m)^smtp /:default auth +OK +Anonymous", result.Output);
    }

    [Fact]
    public async Task Doctor_reports_an_unmigrated_database_and_leaves_it_as_it_found_it()
    {
        var first = await _herald.RunAsync("doctor");
        var second = await _herald.RunAsync("doctor");

        Assert.NotEqual(0, first.ExitCode);
        Assert.Matches(@"(?m)^database +OK ", first.Output);
        Assert.Matches(@"(?m)^migrations +FAIL +The database has no Herald schema", first.Output);
        // The doctor applied nothing: a second look finds the same.
        Assert.Matches(@"(?m)^migrations +FAIL +The database has no Herald schema", second.Output);
        Assert.DoesNotContain("smtp", first.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_postgresql_the_doctor_compares_this_nodes_clock_with_the_database_servers()
    {
        await using var database = await TestDatabases.CreateAsync(TestDatabases.Postgres);
        _herald.Environment["HERALD_DATABASE"] = database.Url!;
        await RelayOnFreePortAsync();
        await SetConnectionAsync(null, "--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "none");

        var result = await _herald.RunAsync("doctor");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"(?m)^database +OK +The postgres database answers\.", result.Output);
        Assert.Matches(@"(?m)^clock skew +OK +The database's clock is [\d.]+ m?s (ahead of|behind) this node's \(round trip [\d.]+ m?s\)\.", result.Output);
        Assert.DoesNotContain(database.Url!, result.Output + result.Error, StringComparison.Ordinal);
    }

    /// <summary>The implied relay endpoint (127.0.0.1:2525) may be another test's; one of this test's own instead.</summary>
    private async Task RelayOnFreePortAsync()
    {
        await RunOkAsync("relay", "set", "--listen", $"127.0.0.1:{LoopbackPort.Free()}");
        await RunOkAsync("relay", "remove", "--listen", "127.0.0.1:2525");
    }

    private async Task SetConnectionAsync(string? password, params string[] flags)
    {
        var result = password is null
            ? await _herald.RunAsync(["smtp", "set", "--from", "herald@example.org", .. flags])
            : await _herald.RunWithInputAsync(password + "\n", ["smtp", "set", "--from", "herald@example.org", "--password-stdin", .. flags]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private async Task RunOkAsync(params string[] args)
    {
        var result = await _herald.RunAsync(args);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    /// <summary>A CA and a server certificate for 127.0.0.1 it issued, which expired a month ago.</summary>
    private static (string CaPem, string CertificatePem, string KeyPem, DateTimeOffset NotAfter) ExpiredCertificate()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Doctor Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(now.AddYears(-1), now.AddYears(1));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=expired.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var notAfter = now.AddDays(-30);
        using var leaf = request.Create(ca, now.AddDays(-90), notAfter, RandomNumberGenerator.GetBytes(16));
        return (ca.ExportCertificatePem(), leaf.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), notAfter);
    }
}
