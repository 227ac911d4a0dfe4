using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Dapper;
using Herald.Storage.Database;
using Herald.Testing;

namespace Herald.Tests.Cli;

/// <summary><c>herald smtp set|show|reset</c> against a real SQLite data directory.</summary>
public sealed class SmtpCommandTests : IDisposable
{
    private const string Password = "p4ss-w0rd-never-shown";
    private readonly HeraldCommandLine _herald = new();

    public SmtpCommandTests() => _herald.Environment["HERALD_CREDENTIAL_KEY"] = "a test passphrase for this node";

    private async Task<string> ShowAsync(string scope = "/")
    {
        var show = await _herald.RunAsync("smtp", "show", "--scope", scope);
        Assert.True(show.ExitCode == 0, show.ToString());
        return show.Output;
    }

    private async Task ConfigureRootAsync()
    {
        var set = await _herald.RunWithInputAsync(Password + "\n",
            "smtp", "set", "--server", "smtp.example.org", "--port", "587", "--security", "starttls-required",
            "--from", "herald@example.org", "--from-name", "Herald", "--reply-to", "help@example.org",
            "--auth", "plain,login", "--username", "alice", "--password-stdin");
        Assert.True(set.ExitCode == 0, set.ToString());
    }

    [Fact]
    public async Task A_mailbox_account_other_than_from_is_told_it_needs_send_as_rights_and_a_matching_one_is_not()
    {
        var other = await _herald.RunWithInputAsync(Password + "\n",
            "smtp", "set", "--server", "smtp.office365.com", "--port", "587", "--security", "starttls-required",
            "--from", "alerts@example.org", "--username", "svc-mailer@example.org", "--password-stdin");
        var hr = await _herald.RunAsync("scope", "add", "/hr");
        var hrFrom = await _herald.RunAsync("smtp", "set", "--scope", "/hr", "--from", "svc-mailer@Example.org");

        Assert.True(other.ExitCode == 0, other.ToString());
        Assert.Contains(
            "Scope / sends as alerts@example.org but SMTP connection /:default signs in as svc-mailer@example.org: that account needs 'Send As' rights for alerts@example.org",
            other.Output + other.Error, StringComparison.Ordinal);
        Assert.True(hr.ExitCode == 0 && hrFrom.ExitCode == 0, hrFrom.ToString());
        Assert.DoesNotContain("Send As", hrFrom.Output + hrFrom.Error, StringComparison.Ordinal);
    }

    public static TheoryData<string[], string> BadInput => new()
    {
        { ["--scope", "/nowhere", "--from", "a@example.org"], "Scope '/nowhere' does not exist" },
        { ["--port", "0"], "Port 0 is out of range" },
        { ["--port", "70000"], "Port 70000 is out of range" },
        { ["--port", "many"], "Port 'many' is not a whole number" },
        { ["--from", "not-an-address"], "'not-an-address' is not a valid email address" },
        { ["--reply-to", "x@"], "'x@' is not a valid email address" },
        { ["--charset", "klingon-8"], "Unknown character set 'klingon-8'" },
        { ["--security", "tls-maybe"], "'tls-maybe' is not one of: none, starttls-when-available" },
        { ["--auth", "plain,rot13", "--username", "bob"], "Unknown SASL mechanism 'rot13'" },
        { ["--server", "bad host name"], "'bad host name' is not a valid server name" },
        { ["--client-cert", "/nonexistent/cert.pem"], "does not exist" },
        { ["--impersonation", "sometimes"], "'sometimes' is not one of: never, allowed" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public async Task Bad_input_exits_nonzero_with_a_clear_sentence_and_saves_nothing(string[] flags, string sentence)
    {
        await ConfigureRootAsync();
        var before = await ShowAsync();

        var result = await _herald.RunAsync(["smtp", "set", .. flags]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(sentence, result.Error, StringComparison.Ordinal);
        Assert.Contains("Nothing was saved", result.Error, StringComparison.Ordinal);
        Assert.Equal(before, await ShowAsync());
    }

    [Fact]
    public async Task Storing_a_password_without_a_credential_key_is_refused()
    {
        _herald.Environment.Clear();

        var result = await _herald.RunWithInputAsync(Password + "\n", "smtp", "set", "--server", "smtp.example.org", "--username", "alice", "--password-stdin");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("No credential key is set", result.Error, StringComparison.Ordinal);
        var show = await _herald.RunAsync("smtp", "show");
        Assert.Contains("connection         (none)", show.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Port_defaults_to_25()
    {
        Assert.Equal(0, (await _herald.RunAsync("smtp", "set", "--server", "smtp.example.org")).ExitCode);

        Assert.Contains("server             smtp.example.org:25", await ShowAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_never_prints_the_password_and_says_one_is_set()
    {
        await ConfigureRootAsync();

        var show = await ShowAsync();

        Assert.DoesNotContain(Password, show, StringComparison.Ordinal);
        Assert.Contains("PLAIN/LOGIN as alice, password set", show, StringComparison.Ordinal);
        var database = await File.ReadAllBytesAsync(Path.Combine(_herald.DataDirectory, SqliteDatabase.FileName), TestContext.Current.CancellationToken);
        Assert.DoesNotContain(Password, System.Text.Encoding.Latin1.GetString(database), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Credentials_left_out_are_kept_and_anonymous_removes_them()
    {
        await ConfigureRootAsync();

        Assert.Equal(0, (await _herald.RunAsync("smtp", "set", "--connection-limit", "2", "--from", "alerts@example.org")).ExitCode);
        var kept = await ShowAsync();
        Assert.Contains("connection limit   2", kept, StringComparison.Ordinal);
        Assert.Contains("as alice, password set", kept, StringComparison.Ordinal);

        Assert.Equal(0, (await _herald.RunAsync("smtp", "set", "--auth", "anonymous")).ExitCode);
        Assert.Contains("authentication     anonymous", await ShowAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await CountSecretsAsync());
    }

    [Theory]
    [InlineData("--server", "smtp.attacker.example", "its server changed from smtp.example.org:587 to smtp.attacker.example:587")]
    [InlineData("--port", "2525", "its server changed from smtp.example.org:587 to smtp.example.org:2525")]
    [InlineData("--security", "implicit-tls", null)]
    public async Task A_stored_password_goes_only_to_the_server_it_was_entered_for(string flag, string value, string? dropped)
    {
        await ConfigureRootAsync();

        var moved = await _herald.RunAsync("smtp", "set", flag, value);

        Assert.True(moved.ExitCode == 0, moved.ToString());
        var show = await ShowAsync();
        if (dropped is null)
        {
            // Stronger security (required TLS either way) is no move: the password stays.
            Assert.Contains("as alice, password set", show, StringComparison.Ordinal);
            Assert.Equal(1, await CountSecretsAsync());
        }
        else
        {
            Assert.Contains($"The stored password of /:default was dropped because {dropped}", moved.Output, StringComparison.Ordinal);
            Assert.Contains("as alice, password not set", show, StringComparison.Ordinal);
            Assert.Equal(0, await CountSecretsAsync());
        }
    }

    [Fact]
    public async Task A_new_server_keeps_a_password_given_with_it()
    {
        await ConfigureRootAsync();

        var moved = await _herald.RunWithInputAsync("an0ther-secret\n", "smtp", "set", "--server", "smtp2.example.org", "--password-stdin");

        Assert.True(moved.ExitCode == 0, moved.ToString());
        Assert.DoesNotContain("dropped", moved.Output, StringComparison.Ordinal);
        Assert.Contains("as alice, password set", await ShowAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("starttls-when-available")]
    public async Task A_password_is_never_configured_for_an_unencrypted_channel_unless_allowed(string security)
    {
        await ConfigureRootAsync();
        var before = await ShowAsync();

        var refused = await _herald.RunAsync("smtp", "set", "--security", security);

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains($"Security {security} could send the password of /:default unencrypted", refused.Error, StringComparison.Ordinal);
        Assert.Equal(before, await ShowAsync());

        var allowed = await _herald.RunWithInputAsync(Password + "\n", "smtp", "set", "--security", security, "--allow-plaintext-auth", "true", "--password-stdin");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Contains($"security           {security} (password allowed unencrypted)", await ShowAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Child_scope_overrides_and_reset_falls_back_to_the_parent()
    {
        await ConfigureRootAsync();
        Assert.Equal(0, (await _herald.RunAsync("scope", "add", "/hr")).ExitCode);
        Assert.Equal(0, (await _herald.RunAsync("smtp", "set", "--scope", "/hr", "--from", "hr@example.org", "--charset", "iso-8859-1")).ExitCode);

        var child = await ShowAsync("/hr");
        Assert.Contains("from               hr@example.org  (set here)", child, StringComparison.Ordinal);
        Assert.Contains("charset            iso-8859-1  (set here)", child, StringComparison.Ordinal);
        Assert.Contains("connection         /:default  (inherited from /)", child, StringComparison.Ordinal);
        Assert.Contains("reply-to           help@example.org  (inherited from /)", child, StringComparison.Ordinal);

        Assert.Equal(0, (await _herald.RunAsync("smtp", "reset", "--scope", "/hr")).ExitCode);
        var reverted = await ShowAsync("/hr");
        Assert.Contains("from               herald@example.org  (inherited from /)", reverted, StringComparison.Ordinal);
        Assert.Contains("charset            utf-8  (default)", reverted, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_child_scope_can_use_its_own_connection()
    {
        await ConfigureRootAsync();
        await _herald.RunAsync("scope", "add", "/finance");

        var set = await _herald.RunAsync("smtp", "set", "--scope", "/finance", "--server", "mail.finance.example.org", "--security", "implicit-tls", "--port", "465");

        Assert.Equal(0, set.ExitCode);
        var show = await ShowAsync("/finance");
        Assert.Contains("SMTP connection /finance:default", show, StringComparison.Ordinal);
        Assert.Contains("mail.finance.example.org:465", show, StringComparison.Ordinal);
        Assert.Contains("authentication     anonymous", show, StringComparison.Ordinal);
        Assert.Contains("smtp.example.org:587", await ShowAsync("/"), StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadCertificates => new()
    {
        { "no-key", "has no private key" },
        { "server-auth-only", "without clientAuth (1.3.6.1.5.5.7.3.2)" },
        { "key-encipherment-only", "Key Usage extension without digitalSignature" },
        { "expired", "expired on" },
    };

    [Theory]
    [MemberData(nameof(BadCertificates))]
    public async Task Unusable_client_certificates_are_refused_when_configured(string kind, string reason)
    {
        await ConfigureRootAsync();
        var before = await ShowAsync();
        var path = Path.Combine(_herald.DataDirectory, kind + ".pem");
        await File.WriteAllTextAsync(path, MakeCertificatePem(kind), TestContext.Current.CancellationToken);

        var result = await _herald.RunAsync("smtp", "set", "--client-cert", path);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
        Assert.Equal(before, await ShowAsync());
    }

    [Fact]
    public async Task A_valid_ecdsa_client_certificate_is_stored_sealed_and_shown_by_subject()
    {
        await ConfigureRootAsync();
        var path = Path.Combine(_herald.DataDirectory, "good.pem");
        await File.WriteAllTextAsync(path, MakeCertificatePem("good"), TestContext.Current.CancellationToken);

        var result = await _herald.RunAsync("smtp", "set", "--client-cert", path);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("client certificate CN=herald-client", await ShowAsync(), StringComparison.Ordinal);
        Assert.Equal(2, await CountSecretsAsync());
    }

    private async Task<long> CountSecretsAsync()
    {
        await using var connection = await new SqliteDatabase(_herald.DataDirectory).OpenAsync(TestContext.Current.CancellationToken);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM secrets");
    }

    private static string MakeCertificatePem(string kind)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=herald-client", key, HashAlgorithmName.SHA256);
        var usage = kind == "key-encipherment-only" ? X509KeyUsageFlags.KeyEncipherment : X509KeyUsageFlags.DigitalSignature;
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, critical: true));
        var purpose = kind == "server-auth-only" ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2";
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(purpose)], critical: false));
        var notAfter = kind == "expired" ? DateTimeOffset.UtcNow.AddDays(-1) : DateTimeOffset.UtcNow.AddYears(1);
        using var certificate = request.CreateSelfSigned(notAfter.AddYears(-2), notAfter);
        var pem = certificate.ExportCertificatePem() + "\n";
        return kind == "no-key" ? pem : pem + key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    [Fact]
    public async Task Kerberos_is_set_with_a_keytab_and_show_says_mechanism_principal_and_realm()
    {
        var keytab = Path.Combine(_herald.DataDirectory, "herald.keytab");
        // A keytab's header (format 5.2); the keys are never read by Herald itself.
        await File.WriteAllBytesAsync(keytab, [5, 2, 0, 0], TestContext.Current.CancellationToken);

        var set = await _herald.RunAsync("smtp", "set", "--server", "exch01.corp.example.com", "--port", "587", "--security", "starttls-required",
            "--auth", "kerberos", "--username", "svc-herald", "--realm", "CORP.EXAMPLE.COM", "--keytab", keytab);
        Assert.True(set.ExitCode == 0, set.ToString());

        var show = await ShowAsync();
        Assert.Contains("GSSAPI (Kerberos)", show, StringComparison.Ordinal);
        Assert.Contains("svc-herald@CORP.EXAMPLE.COM", show, StringComparison.Ordinal);
        Assert.Contains("CORP.EXAMPLE.COM", show, StringComparison.Ordinal);
        Assert.Contains("SMTPSVC/exch01.corp.example.com@CORP.EXAMPLE.COM (the default)", show, StringComparison.Ordinal);
        Assert.Contains($"keytab {keytab}", show, StringComparison.Ordinal);

        var missing = await _herald.RunAsync("smtp", "set", "--keytab", "/nonexistent/herald.keytab");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("/nonexistent/herald.keytab does not exist on this node", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ntlm_user_names_are_shown_as_user_and_domain_and_other_forms_are_refused()
    {
        var set = await _herald.RunWithInputAsync(Password + "\n", "smtp", "set", "--server", "exch01.corp.example.com", "--port", "587",
            "--security", "starttls-required", "--auth", "ntlm", "--username", "svc-herald@corp.example.com", "--password-stdin");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Contains("user svc-herald, domain corp.example.com", await ShowAsync(), StringComparison.Ordinal);

        var bad = await _herald.RunAsync("smtp", "set", "--username", @"CORP\");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains(@"is not an NTLM account: write DOMAIN\user or user@domain", bad.Error, StringComparison.Ordinal);
    }

    public void Dispose() => _herald.Dispose();
}
