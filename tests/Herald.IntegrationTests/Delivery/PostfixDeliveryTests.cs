using System.Security.Cryptography.X509Certificates;
using System.Text;
using Herald.Delivery;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using MimeKit;

namespace Herald.IntegrationTests.Delivery;

/// <summary>
/// <c>herald smtp set</c> then <c>herald test-email</c> against real Postfix; what is checked is
/// what Postfix delivered (the bytes in the recipient's Maildir) and what the administrator saw.
/// </summary>
public sealed class PostfixDeliveryTests(PostfixFixture postfix) : IDisposable
{
    private readonly HeraldCommandLine _herald = new() { Environment = { ["HERALD_CREDENTIAL_KEY"] = "integration test passphrase" } };

    private async Task ConfigureAsync(params string[] flags)
    {
        var result = await _herald.RunWithInputAsync(postfix.SaslPassword + "\n", ["smtp", "set", "--from", "herald@example.org", .. flags]);
        Assert.True(result.ExitCode == 0, result.ToString());
    }

    private Task<CliResult> TestEmailAsync(string to, params string[] more) =>
        _herald.RunAsync(["test-email", "--to", to, .. more]);

    private static MimeMessage Parse(byte[] raw) => MimeMessage.Load(new MemoryStream(raw));

    /// <summary>Proves a refused message never arrived: a later message on the same Postfix has
    /// been delivered, and the refused recipient's mailbox is still empty.</summary>
    private async Task AssertNothingDeliveredAsync(string address)
    {
        var control = PostfixFixture.NewRecipient("control");
        using var other = new HeraldCommandLine();
        Assert.Equal(0, (await other.RunAsync("smtp", "set", "--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "none", "--from", "herald@example.org")).ExitCode);
        Assert.Equal(0, (await other.RunAsync("test-email", "--to", control)).ExitCode);
        await postfix.WaitForMessageAsync(control);
        Assert.Empty(postfix.Delivered(address));
    }

    [Theory]
    [InlineData("iso-8859-1", "Grüße aus Köln", "Schöne Grüße,\ndie Ablage ist fast voll.")]
    [InlineData("iso-2022-jp", "会議の通知", "明日の会議は十時からです。\nよろしくお願いします。")]
    [InlineData("shift_jis", "容量の警告", "サイトの容量が残りわずかです。")]
    [InlineData("utf-8", "Ünïcödé ✓", "Body with emoji 📬 and accents é.")]
    public async Task Anonymous_delivery_carries_from_reply_to_charset_and_body_bytes(string charset, string subject, string body)
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "none",
            "--from-name", "Herald Alerts", "--reply-to", "help@example.org", "--charset", charset);

        var result = await TestEmailAsync(to, "--subject", subject, "--body", body);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{to}: sent: 250 2.0.0 Ok: queued as", result.Output, StringComparison.Ordinal);
        var delivered = Parse(await postfix.WaitForMessageAsync(to));
        var from = Assert.Single(delivered.From.Mailboxes);
        Assert.Equal(("Herald Alerts", "herald@example.org"), (from.Name, from.Address));
        Assert.Equal("help@example.org", Assert.Single(delivered.ReplyTo.Mailboxes).Address);
        Assert.Equal(subject, delivered.Subject);
        // RFC 3834: a vacation responder does not answer a test.
        Assert.Equal("auto-generated", delivered.Headers["Auto-Submitted"]);
        var part = Assert.IsType<TextPart>(delivered.Body);
        Assert.Equal(charset, part.ContentType.Charset, ignoreCase: true);
        using var octets = new MemoryStream();
        part.Content!.DecodeTo(octets, TestContext.Current.CancellationToken);
        // The octets in the scope's charset; line ends as stored in the Maildir (LF), which no
        // charset here uses inside a character.
        Assert.Equal(Encoding.GetEncoding(charset).GetBytes(body), octets.ToArray().Where(b => b != (byte)'\r').ToArray().AsSpan().TrimEnd((byte)'\n').ToArray());
    }

    [Fact]
    public async Task A_server_that_refuses_names_that_are_not_fully_qualified_accepts_heralds_greeting()
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.StrictHeloPort}", "--security", "none");

        var result = await TestEmailAsync(to);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"{to}: sent: 250", result.Output, StringComparison.Ordinal);
        var delivered = Parse(await postfix.WaitForMessageAsync(to));
        // Postfix writes the greeting into its Received header: the node's qualified name, or the
        // sender's domain on a machine whose own name is bare.
        var greeting = EhloName.Automatically("herald@example.org");
        Assert.True(EhloName.IsQualified(greeting), greeting);
        Assert.StartsWith($"from {greeting} (", delivered.Headers[HeaderId.Received], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_greets_with_the_name_its_administrator_set_and_a_bare_name_is_refused_with_a_sentence()
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.StrictHeloPort}", "--security", "none", "--ehlo-name", "Relay.Example.NET.");

        var bare = await _herald.RunAsync("smtp", "set", "--ehlo-name", "vm");
        var shown = await _herald.RunAsync("smtp", "show");
        var result = await TestEmailAsync(to);

        Assert.NotEqual(0, bare.ExitCode);
        Assert.Contains("EHLO name 'vm' is not a fully qualified domain name", bare.Error, StringComparison.Ordinal);
        Assert.Contains("ehlo name", shown.Output, StringComparison.Ordinal);
        Assert.Contains("relay.example.net", shown.Output, StringComparison.Ordinal);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("from relay.example.net (", Parse(await postfix.WaitForMessageAsync(to)).Headers[HeaderId.Received], StringComparison.Ordinal);

        var automatic = await _herald.RunAsync("smtp", "set", "--ehlo-name", "");
        Assert.True(automatic.ExitCode == 0, automatic.ToString());
        Assert.Contains("automatic", (await _herald.RunAsync("smtp", "show")).Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("login")]
    public async Task Starttls_with_sasl_authentication_delivers_and_the_transcript_hides_the_password(string mechanism)
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.StartTlsAuthPort}", "--security", "starttls-required",
            "--trust-ca", postfix.Pki("ca.pem"), "--auth", mechanism, "--username", postfix.SaslUser, "--password-stdin");

        var result = await TestEmailAsync(to);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("STARTTLS", result.Output, StringComparison.Ordinal);
        Assert.Contains($"AUTH {mechanism.ToUpperInvariant()}", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(postfix.SaslPassword, result.Output + result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(postfix.SaslPassword)), result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{postfix.SaslUser}\0{postfix.SaslPassword}")), result.Output, StringComparison.Ordinal);
        Assert.Equal("herald@example.org", Parse(await postfix.WaitForMessageAsync(to)).From.Mailboxes.Single().Address);
    }

    [Fact]
    public async Task Wrong_password_names_the_servers_reply_and_sends_nothing()
    {
        var to = PostfixFixture.NewRecipient();
        var set = await _herald.RunWithInputAsync("not-the-password\n", "smtp", "set", "--from", "herald@example.org", "--server", "127.0.0.1",
            "--port", $"{postfix.StartTlsAuthPort}", "--security", "starttls-required", "--trust-ca", postfix.Pki("ca.pem"),
            "--auth", "plain", "--username", postfix.SaslUser, "--password-stdin");
        Assert.Equal(0, set.ExitCode);

        var result = await TestEmailAsync(to);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"The server refused authentication as '{postfix.SaslUser}'", result.Error, StringComparison.Ordinal);
        Assert.Contains("535", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", result.Output + result.Error, StringComparison.Ordinal);
        await AssertNothingDeliveredAsync(to);
    }

    [Fact]
    public async Task Starttls_required_sends_nothing_when_the_server_lacks_starttls()
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "starttls-required");

        var result = await TestEmailAsync(to);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("does not offer STARTTLS and this connection requires it", result.Error, StringComparison.Ordinal);
        Assert.Contains("not sent (temporary failure)", result.Output, StringComparison.Ordinal);
        await AssertNothingDeliveredAsync(to);
    }

    [Fact]
    public async Task Starttls_when_available_sends_in_the_clear_when_the_server_lacks_starttls()
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "starttls-when-available");

        var result = await TestEmailAsync(to);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("STARTTLS", result.Output, StringComparison.Ordinal);
        await postfix.WaitForMessageAsync(to);
    }

    [Fact]
    public async Task Implicit_tls_with_authentication_delivers()
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.ImplicitTlsPort}", "--security", "implicit-tls",
            "--trust-ca", postfix.Pki("ca.pem"), "--auth", "any", "--username", postfix.SaslUser, "--password-stdin");

        var result = await TestEmailAsync(to);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("smtps://", result.Output, StringComparison.Ordinal);
        await postfix.WaitForMessageAsync(to);
    }

    [Fact]
    public async Task A_server_requiring_a_client_certificate_accepts_a_valid_one()
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.ClientCertificatePort}", "--security", "starttls-required",
            "--trust-ca", postfix.Pki("ca.pem"), "--client-cert", postfix.Pki("client.pem"));

        var result = await TestEmailAsync(to);

        Assert.True(result.ExitCode == 0, result.ToString());
        await postfix.WaitForMessageAsync(to);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("client-untrusted.pem")]
    public async Task A_server_requiring_a_client_certificate_refuses_a_missing_or_untrusted_one(string? certificate)
    {
        var to = PostfixFixture.NewRecipient();
        string[] client = certificate is null ? [] : ["--client-cert", postfix.Pki(certificate)];
        await ConfigureAsync(["--server", "127.0.0.1", "--port", $"{postfix.ClientCertificatePort}", "--security", "starttls-required",
            "--trust-ca", postfix.Pki("ca.pem"), .. client]);

        var result = await TestEmailAsync(to);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Not sent", result.Error + result.Output, StringComparison.Ordinal);
        await AssertNothingDeliveredAsync(to);
    }

    [Theory]
    [InlineData("client-dsa.pem", "has a DSA key, which is not accepted")]
    [InlineData("client-nokey.pem", "has no private key")]
    [InlineData("client-serverauth.pem", "without clientAuth")]
    [InlineData("client-keyencipherment.pem", "without digitalSignature")]
    public async Task Unusable_client_certificates_are_refused_at_configuration_time(string file, string reason)
    {
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.ClientCertificatePort}");

        var result = await _herald.RunAsync("smtp", "set", "--client-cert", postfix.Pki(file));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
        Assert.Contains("client certificate (none)", (await _herald.RunAsync("smtp", "show")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ecdsa_client_certificate_is_accepted_too()
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.ClientCertificatePort}", "--security", "starttls-required",
            "--trust-ca", postfix.Pki("ca.pem"), "--client-cert", postfix.Pki("client-ecdsa.pem"));

        var result = await TestEmailAsync(to);

        Assert.True(result.ExitCode == 0, result.ToString());
        await postfix.WaitForMessageAsync(to);
    }

    [Theory]
    [InlineData("system", "is not trusted by this system")]
    [InlineData("other-ca.pem", "does not chain to the pinned CA")]
    public async Task An_untrusted_server_certificate_is_refused_and_nothing_is_sent(string trust, string reason)
    {
        var to = PostfixFixture.NewRecipient();
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.StartTlsAuthPort}", "--security", "starttls-required",
            "--trust-ca", trust == "system" ? "system" : postfix.Pki(trust), "--auth", "plain", "--username", postfix.SaslUser, "--password-stdin");

        var result = await TestEmailAsync(to);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("The TLS handshake with 127.0.0.1", result.Error, StringComparison.Ordinal);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
        await AssertNothingDeliveredAsync(to);
    }

    [Fact]
    public async Task A_server_certificate_pinned_by_thumbprint_is_trusted()
    {
        var to = PostfixFixture.NewRecipient();
        using var server = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(postfix.Pki("server.pem"), TestContext.Current.CancellationToken));
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.StartTlsAuthPort}", "--security", "starttls-required",
            "--trust-thumbprint", server.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256),
            "--auth", "plain", "--username", postfix.SaslUser, "--password-stdin");

        var result = await TestEmailAsync(to);

        Assert.True(result.ExitCode == 0, result.ToString());
        await postfix.WaitForMessageAsync(to);
    }

    [Fact]
    public async Task Each_recipient_gets_its_own_result()
    {
        var good = PostfixFixture.NewRecipient("good");
        var rejected = PostfixFixture.NewRecipient("reject");
        var deferred = PostfixFixture.NewRecipient("defer");
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "none");

        var result = await _herald.RunAsync("test-email", "--to", good, "--to", rejected, "--to", deferred);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"{good}: sent: 250", result.Output, StringComparison.Ordinal);
        Assert.Contains($"{rejected}: not sent (permanent failure): 550 5.1.1", result.Output, StringComparison.Ordinal);
        Assert.Contains($"{deferred}: not sent (temporary failure): 450 4.2.0", result.Output, StringComparison.Ordinal);
        Assert.Contains("Sent to 1 of 3 recipients", result.Error, StringComparison.Ordinal);
        var delivered = Parse(await postfix.WaitForMessageAsync(good));
        Assert.Equal(3, delivered.To.Mailboxes.Count());
        Assert.Empty(postfix.Delivered(rejected));
        Assert.Empty(postfix.Delivered(deferred));
    }

    [Fact]
    public async Task A_child_scope_overrides_the_global_settings_and_falls_back_when_they_are_deleted()
    {
        await ConfigureAsync("--server", "127.0.0.1", "--port", $"{postfix.PlainPort}", "--security", "none", "--from-name", "Global");
        Assert.Equal(0, (await _herald.RunAsync("scope", "add", "/hr")).ExitCode);
        Assert.Equal(0, (await _herald.RunAsync("smtp", "set", "--scope", "/hr", "--from", "hr@example.org", "--from-name", "HR", "--reply-to", "hr-help@example.org")).ExitCode);

        var first = PostfixFixture.NewRecipient();
        Assert.Equal(0, (await TestEmailAsync(first, "--scope", "/hr")).ExitCode);
        var overridden = Parse(await postfix.WaitForMessageAsync(first));
        Assert.Equal(("HR", "hr@example.org"), (overridden.From.Mailboxes.Single().Name, overridden.From.Mailboxes.Single().Address));
        Assert.Equal("hr-help@example.org", overridden.ReplyTo.Mailboxes.Single().Address);

        Assert.Equal(0, (await _herald.RunAsync("smtp", "reset", "--scope", "/hr")).ExitCode);
        var second = PostfixFixture.NewRecipient();
        Assert.Equal(0, (await TestEmailAsync(second, "--scope", "/hr")).ExitCode);
        var inherited = Parse(await postfix.WaitForMessageAsync(second));
        Assert.Equal(("Global", "herald@example.org"), (inherited.From.Mailboxes.Single().Name, inherited.From.Mailboxes.Single().Address));
        Assert.Empty(inherited.ReplyTo.Mailboxes);
    }

    public void Dispose() => _herald.Dispose();
}
