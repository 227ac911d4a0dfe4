using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Observability;
using Herald.IntegrationTests.Outbox;
using Herald.Testing;

namespace Herald.IntegrationTests.Bounces;

/// <summary>
/// Real bounces end to end: <c>herald serve</c> sends through the fixture's Postfix with the bounce
/// domain set to the fixture's LMTP domain, so each recipient's envelope sender is its own signed
/// bounce address there. A recipient whose local part starts with "unknown" is accepted and then
/// fails at delivery, so Postfix writes a REAL DSN to that address and delivers it itself, over
/// LMTP, into the INBOX of user "bounces" of a private Dovecot, which Herald reads over IMAP or
/// POP3 like any bounce mailbox. The test only waits for Postfix's log to say Dovecot took the
/// DSN. What the fixture's Postfix does not write (a delay notice, an ARF complaint, a DSN with a
/// forged token) are samples, APPENDed over IMAP and built on the real bounce address Postfix saw
/// as the Return-Path of a delivered message or as the DSN's recipient.
/// </summary>
public sealed class BounceMailboxTests(PostfixFixture postfix)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string> FastReads = new() { ["HERALD_Bounces__PollInterval"] = "00:00:00.500" };

    [Fact]
    public async Task A_real_postfix_dsn_read_over_imap_bounces_the_recipient_suppresses_it_and_a_forged_one_is_kept_aside()
    {
        using var dovecot = await DovecotMailbox.StartReceivingBouncesAsync(postfix, Ct);
        await using var node = await StartAsync(dovecot, "imap", dovecot.ImapsPort, "implicit-tls");
        using var admin = node.Server.Client(await node.KeyAsync("/hr", "admin"));
        var unknown = PostfixFixture.NewRecipient("unknown");

        var id = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { unknown }, subject = "Payslip", text = "Hello." });
        var dsn = await DsnDeliveredAsync(unknown);
        // The DSN Postfix wrote went to this recipient's own bounce address.
        Assert.Matches($@"^bounces\+[a-z2-7]{{47}}@{Regex.Escape(postfix.LmtpDomain)}$", dsn.BounceAddress);
        await dovecot.AppendAsync("bounces", postfix.Pki("ca.pem"), [Forged(dsn.BounceAddress)], Ct);

        var details = await OutboxNode.WaitForAsync(admin, id, state => state == "bounced");
        var recipient = Assert.Single(OutboxNode.Recipients(details));
        var reply = recipient.GetProperty("lastReply").GetString()!;
        Assert.StartsWith("DSN: failed, 5.1.1: ", reply, StringComparison.Ordinal);
        Assert.Contains($"user unknown: no mailbox {unknown[..unknown.IndexOf('@', StringComparison.Ordinal)]} here (test)", reply, StringComparison.Ordinal);
        var history = details.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()).ToArray();
        Assert.Equal(["sent", "bounced"], history);

        var suppressions = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v1/suppressions?scope=%2Fhr", UriKind.Relative), Ct)).RootElement;
        var entry = Assert.Single(suppressions.GetProperty("entries").EnumerateArray());
        Assert.Equal(unknown, entry.GetProperty("address").GetString());
        Assert.Equal("hard-bounce", entry.GetProperty("reason").GetString());
        Assert.Contains($"DSN 5.1.1 {dsn.MessageId} in bounce mailbox imap://127.0.0.1:{dovecot.ImapsPort} (scope /)", entry.GetProperty("source").GetString(), StringComparison.Ordinal);

        // The next submission to the address is suppressed: no SMTP attempt at all.
        var again = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { unknown }, subject = "Payslip 2", text = "Hello." });
        var suppressed = await OutboxNode.WaitForAsync(admin, again, state => state == "suppressed");
        Assert.Equal(0, Assert.Single(OutboxNode.Recipients(suppressed)).GetProperty("attempts").GetInt32());
        Assert.Empty(suppressed.GetProperty("attempts").EnumerateArray());
        // Postfix saw the address once: the first message, which bounced.
        Assert.Single(postfix.LogLines($": to=<{unknown}>,"));

        // The DSN was deleted; the forged one waits in Herald/Unmatched, counted.
        var counts = await WaitForCountsAsync(dovecot, c => c.GetValueOrDefault("INBOX") == 0 && c.GetValueOrDefault("Herald/Unmatched") == 1);
        Assert.Equal(1, counts["Herald/Unmatched"]);
        using var root = node.Server.Client(await node.KeyAsync("/", "admin"));
        var samples = Sample.Parse(await root.GetStringAsync(new Uri("metrics", UriKind.Relative), Ct));
        Assert.Contains(samples, s => s is { Name: "herald_bounces_total", Value: 1 } && s.Labels["outcome"] == "bounced");
        Assert.Contains(samples, s => s is { Name: "herald_bounces_total", Value: 1 } && s.Labels["outcome"] == "forged");
    }

    [Fact]
    public async Task Over_pop3_a_real_dsn_bounces_a_delay_is_only_recorded_and_a_complaint_marks_the_recipient_complained()
    {
        using var dovecot = await DovecotMailbox.StartReceivingBouncesAsync(postfix, Ct);
        await using var node = await StartAsync(dovecot, "pop3", dovecot.Pop3Port, "starttls");
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        var unknown = PostfixFixture.NewRecipient("unknown");
        var slow = PostfixFixture.NewRecipient("slow");
        var annoyed = PostfixFixture.NewRecipient("annoyed");

        var bounced = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { unknown }, subject = "A", text = "Hello." });
        var delayed = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { slow }, subject = "B", text = "Hello." });
        var complained = await OutboxNode.SendAsync(admin, new { scope = "/finance", to = new[] { annoyed }, subject = "C", text = "Hello." });
        await DsnDeliveredAsync(unknown);
        // What Postfix delivered carries the recipient's bounce address as its Return-Path.
        var slowAddress = Header(await postfix.WaitForMessageAsync(slow), "Return-Path").Trim('<', '>');
        var annoyedAddress = Header(await postfix.WaitForMessageAsync(annoyed), "Return-Path").Trim('<', '>');
        await OutboxNode.WaitForAsync(admin, delayed, state => state == "sent");
        await dovecot.AppendAsync("bounces", postfix.Pki("ca.pem"), [
            Encoding.ASCII.GetBytes(BounceSamples.Dsn(slowAddress, "delayed", "4.4.1", "smtp; 451 4.4.1 mailbox busy, still trying")),
            Encoding.ASCII.GetBytes(BounceSamples.Complaint(annoyedAddress)),
        ], Ct);

        await OutboxNode.WaitForAsync(admin, bounced, state => state == "bounced");
        var marked = await OutboxNode.WaitForAsync(admin, complained, state => state == "complained");
        var slowDetails = await WaitForHistoryAsync(admin, delayed, 2);
        Assert.Equal("sent", Assert.Single(OutboxNode.Recipients(slowDetails)).GetProperty("state").GetString());
        var delay = slowDetails.GetProperty("attempts").EnumerateArray().Last();
        Assert.Equal("sent", delay.GetProperty("outcome").GetString());
        Assert.StartsWith("DSN: delayed, 4.4.1: 451 4.4.1 mailbox busy, still trying", delay.GetProperty("reply").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("Complaint (ARF feedback report, type abuse)", Assert.Single(OutboxNode.Recipients(marked)).GetProperty("lastReply").GetString(), StringComparison.Ordinal);

        var entries = JsonDocument.Parse(await admin.GetStringAsync(new Uri("api/v1/suppressions?scope=%2F", UriKind.Relative), Ct)).RootElement
            .GetProperty("entries").EnumerateArray().Select(e => $"{e.GetProperty("scope").GetString()} {e.GetProperty("address").GetString()} {e.GetProperty("reason").GetString()}");
        Assert.Equal([$"/finance {annoyed} complaint", $"/hr {unknown} hard-bounce"], entries.Order(StringComparer.Ordinal));
        // Every report was processed, so POP3 deleted all three.
        await WaitForCountsAsync(dovecot, c => c.GetValueOrDefault("INBOX") == 0);
    }

    [Fact]
    public async Task The_mailbox_password_is_sealed_never_shown_and_a_refused_login_is_recorded_on_the_mailbox()
    {
        using var dovecot = await DovecotMailbox.StartAsync(postfix);
        using var cli = new HeraldCommandLine();
        cli.Environment["HERALD_CREDENTIAL_KEY"] = "bounce tests' passphrase";
        await OutboxNode.MustAsync(cli, "scope", "add", "/hr");
        var set = await cli.RunWithInputAsync("wrong-password-456\n",
            "bounce-mailbox", "set", "--scope", "/hr", "--protocol", "imap", "--host", "127.0.0.1", "--port", $"{dovecot.ImapsPort}",
            "--trust-ca", postfix.Pki("ca.pem"), "--domain", "example.net", "--user", "bounces", "--password-stdin");
        var read = await cli.RunAsync("bounce-mailbox", "read", "--scope", "/hr");
        var shown = await OutboxNode.MustAsync(cli, "bounce-mailbox", "show", "--scope", "/hr");

        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal(1, read.ExitCode);
        Assert.Equal($"herald: imap 127.0.0.1:{dovecot.ImapsPort} refused the user name and password.", read.Error.Trim());
        Assert.Contains("user name set, password set", shown.Output, StringComparison.Ordinal);
        Assert.Contains("refused the user name and password.", shown.Output, StringComparison.Ordinal);
        foreach (var output in new[] { set.Output, set.Error, read.Output, read.Error, shown.Output })
        {
            Assert.DoesNotContain("wrong-password-456", output, StringComparison.Ordinal);
        }

        foreach (var file in Directory.GetFiles(cli.DataDirectory, "*", SearchOption.AllDirectories))
        {
            var bytes = await File.ReadAllBytesAsync(file, Ct);
            Assert.Equal(-1, bytes.AsSpan().IndexOf("wrong-password-456"u8));
        }
    }

    [Fact]
    public async Task With_a_bounce_domain_each_recipient_gets_its_own_envelope_sender_and_a_scope_without_one_keeps_its_sender()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, FastReads, async cli =>
        {
            // A mailbox nobody answers at: reading it fails (and is logged); sending does not care.
            var set = await cli.RunWithInputAsync("secret-pass\n", "bounce-mailbox", "set", "--scope", "/hr", "--protocol", "pop3", "--host", "127.0.0.1",
                "--port", $"{LoopbackPort.Free()}", "--domain", "bounces.example.org", "--user", "bounces", "--password-stdin");
            Assert.True(set.ExitCode == 0, set.ToString());
        });
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));

        var id = await OutboxNode.SendAsync(admin, new { scope = "/hr", to = new[] { "a@example.org", "b@example.org", "c@example.org" }, subject = "Three", text = "Hello." });
        await OutboxNode.SendAsync(admin, new { scope = "/finance", to = new[] { "d@example.org", "e@example.org" }, subject = "Elsewhere", text = "Hello." });
        var received = await sink.WaitForAsync(4, TimeSpan.FromSeconds(60));
        await OutboxNode.WaitForAsync(admin, id, state => state == "sent");

        var verp = received.Where(m => m.ToMimeMessage().Subject == "Three").ToArray();
        Assert.Equal(["a@example.org", "b@example.org", "c@example.org"], verp.Select(m => Assert.Single(m.Recipients)).Order(StringComparer.Ordinal));
        Assert.All(verp, m => Assert.Matches(@"^bounces\+[a-z2-7]{47}@bounces\.example\.org$", m.Sender));
        Assert.Equal(3, verp.Select(m => m.Sender).Distinct(StringComparer.Ordinal).Count());
        // /finance has no bounce mailbox of its own or above it: one transaction, the configured sender.
        var other = Assert.Single(received, m => m.ToMimeMessage().Subject == "Elsewhere");
        Assert.Equal(("herald@example.org", 2), (other.Sender, other.Recipients.Count));
    }

    private async Task<OutboxNode> StartAsync(DovecotMailbox dovecot, string protocol, int port, string security) =>
        await OutboxNode.StartAsync(postfix.PlainPort, FastReads, async cli =>
        {
            var set = await cli.RunWithInputAsync(DovecotMailbox.Password + "\n",
                "bounce-mailbox", "set", "--scope", "/", "--protocol", protocol, "--host", "127.0.0.1", "--port", $"{port}", "--security", security,
                "--trust-ca", postfix.Pki("ca.pem"), "--domain", postfix.LmtpDomain, "--user", "bounces", "--password-stdin");
            Assert.True(set.ExitCode == 0, set.ToString());
        });

    /// <summary>Waits until Postfix's log says it delivered the DSN about <paramref name="recipient"/>
    /// to Dovecot over LMTP (so it is in the bounce mailbox), and returns what the log names: the
    /// DSN's recipient (a bounce address) and its Message-ID.</summary>
    private async Task<(string BounceAddress, string MessageId)> DsnDeliveredAsync(string recipient)
    {
        var timeout = TimeSpan.FromSeconds(60);
        var bounced = await postfix.WaitForLogLineAsync(timeout, $": to=<{recipient}>,", "status=bounced");
        var notice = await postfix.WaitForLogLineAsync(timeout, $" {QueueId(bounced)}: sender non-delivery notification: ");
        var dsn = notice[(notice.LastIndexOf(' ') + 1)..];
        var id = await postfix.WaitForLogLineAsync(timeout, $" {dsn}: message-id=<");
        var delivered = await postfix.WaitForLogLineAsync(timeout, $" {dsn}: to=<", $"[{postfix.LmtpSocket}]", "status=sent");
        return (Between(delivered, "to=<", ">"), Between(id, "message-id=<", ">"));
    }

    private static string QueueId(string logLine) => Regex.Match(logLine, @"\]: ([0-9A-F]+): ").Groups[1].Value;

    private static string Between(string text, string before, string after)
    {
        var start = text.IndexOf(before, StringComparison.Ordinal) + before.Length;
        return text[start..text.IndexOf(after, start, StringComparison.Ordinal)];
    }

    private static string Header(byte[] mime, string name)
    {
        using var message = MimeKit.MimeMessage.Load(new MemoryStream(mime));
        return message.Headers[name]?.Trim() ?? throw new InvalidOperationException($"No {name} header.");
    }

    /// <summary>A DSN to the real bounce address with one letter of its token changed.</summary>
    private static byte[] Forged(string bounceAddress)
    {
        var at = "bounces+".Length + 10;
        var forged = bounceAddress[..at] + (bounceAddress[at] == 'a' ? 'b' : 'a') + bounceAddress[(at + 1)..];
        return Encoding.ASCII.GetBytes(BounceSamples.Dsn(forged, "failed", "5.1.1", "smtp; 550 5.1.1 forged", "<forged@attacker.example>"));
    }

    private async Task<IReadOnlyDictionary<string, int>> WaitForCountsAsync(DovecotMailbox dovecot, Func<IReadOnlyDictionary<string, int>, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var counts = await dovecot.CountsAsync("bounces", postfix.Pki("ca.pem"), Ct);
            if (done(counts) || DateTime.UtcNow >= deadline)
            {
                Assert.True(done(counts), string.Join(", ", counts.Select(c => $"{c.Key}: {c.Value}")));
                return counts;
            }

            await Task.Delay(100, Ct);
        }
    }

    private static async Task<JsonElement> WaitForHistoryAsync(HttpClient http, string id, int lines)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var details = JsonDocument.Parse(await http.GetStringAsync(new Uri($"api/v1/messages/{id}", UriKind.Relative), Ct)).RootElement;
            if (details.GetProperty("attempts").GetArrayLength() >= lines || DateTime.UtcNow >= deadline)
            {
                return details;
            }

            await Task.Delay(100, Ct);
        }
    }
}
