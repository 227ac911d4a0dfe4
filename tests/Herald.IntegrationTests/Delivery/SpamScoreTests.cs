using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;

namespace Herald.IntegrationTests.Delivery;

/// <summary>
/// Every kind of mail Herald writes, as a receiving organisation's spam filter scores it: the
/// bytes smtp-sink received from a real <c>herald serve</c>, behind a Received header that names
/// Herald's greeting as an external hop (as the recipient's MX would write it), scored by Debian's
/// SpamAssassin with its local rules (<c>-L</c>: no network, so the result does not depend on
/// DNS blocklists this machine cannot reach). A score over 0.5 means Herald itself adds to the
/// chance of its mail being filtered; the rules hit are printed for every message.
/// </summary>
public sealed partial class SpamScoreTests
{
    private const double Limit = 0.5;

    private const string Library = "/sites/hr/Shared Documents";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_kind_of_mail_herald_writes_scores_at_most_half_a_point_in_spamassassin()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string> { ["HERALD_Notifications__DigestCheckInterval"] = "00:00:01" },
            "--from-name", "Contoso Notifications", "--reply-to", "it-help@example.org");
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        await MustAsync(admin.PutAsJsonAsync("api/v1/settings/public-url", new { publicUrl = "https://herald.example.org" }, Ct));
        await MustAsync(admin.PutAsJsonAsync("api/v1/users/alice", new { name = "Alice Smith", email = "alice@example.org", timeZone = "UTC", language = "en" }, Ct));
        await MustAsync(admin.PutAsJsonAsync("api/v1/users/carol", new { name = "Carol King", email = "carol@example.org", timeZone = "UTC", language = "en" }, Ct));
        await MustAsync(admin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:alice", level = "view" }, Ct));
        await MustAsync(admin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:carol", level = "view" }, Ct));

        // The daily window ends at the next whole minute at least 30 s away, on the real clock.
        var now = DateTimeOffset.UtcNow;
        var end = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero).AddMinutes(now.Second < 30 ? 1 : 2);
        await MustAsync(admin.PostAsJsonAsync("api/v1/subscriptions", new
        {
            scope = "/hr", owner = "user:carol", name = "HR documents daily", pathPrefixes = new[] { Library }, frequency = "daily",
            at = end.ToString("HH:mm", CultureInfo.InvariantCulture),
        }, Ct));
        await MustAsync(admin.PostAsJsonAsync("api/v1/subscriptions", new
        {
            scope = "/hr", owner = "user:alice", name = "HR documents", pathPrefixes = new[] { Library }, eventTypes = new[] { "item.added", "item.changed" },
        }, Ct));
        await MustAsync(admin.PostAsJsonAsync("api/v1/rules", new
        {
            id = "failures", scope = "/hr", name = "Pipeline failures", eventTypes = new[] { "pipeline.failed" }, recipients = new[] { "ops@example.org" },
        }, Ct));

        await MustAsync(admin.PostAsJsonAsync("api/v1/messages", new
        {
            scope = "/hr", to = new[] { "text@example.org" }, subject = "Your leave request for 14-18 December was approved",
            text = "Hello Dana,\n\nyour leave request for 14 to 18 December has been approved by Sam Lee.\nThe days are now in your calendar.\n\nHuman Resources",
        }, Ct));
        await MustAsync(admin.PostAsJsonAsync("api/v1/messages", new
        {
            scope = "/hr", to = new[] { "html@example.org" }, subject = "Payroll run for November completed",
            text = "The payroll run for November completed at 16:05. 412 payslips were published.\n\nPayroll team",
            html = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Payroll run for November completed</title></head>"
                + "<body><p>The payroll run for November completed at 16:05. 412 payslips were published.</p><p>Payroll team</p></body></html>",
        }, Ct));
        foreach (var (id, title) in new[] { ("budget", "Budget 2027.xlsx"), ("policy", "Travel policy.docx") })
        {
            await MustAsync(admin.PostAsJsonAsync("api/v1/events", new
            {
                id, type = "item.changed", scope = "/hr", resourcePath = $"{Library}/{title}", actor = "bob@example.org", title,
                link = $"https://intranet.example.org/sites/hr/{id}", data = new { version = "2.0" },
            }, Ct));
        }

        await MustAsync(admin.PostAsync(new Uri("api/v1/rules/failures/test", UriKind.Relative), null, Ct));
        await MustAsync(admin.PostAsJsonAsync("api/v1/settings/test-email?scope=/hr", new { to = new[] { "test@example.org" } }, Ct));

        // Two API messages, two immediate notifications to Alice, a rule test, a test email, Carol's digest.
        var received = await sink.WaitForAsync(7, end - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(90));
        var kinds = new Dictionary<string, SinkMessage>
        {
            ["API text"] = received.Single(m => m.Recipients.Contains("text@example.org")),
            ["API text and HTML"] = received.Single(m => m.Recipients.Contains("html@example.org")),
            ["immediate notification"] = received.First(m => m.Recipients.Contains("alice@example.org")),
            ["daily digest"] = received.Single(m => m.Recipients.Contains("carol@example.org")),
            ["rule test"] = received.Single(m => m.Recipients.Contains("ops@example.org")),
            ["test email"] = received.Single(m => m.Recipients.Contains("test@example.org")),
        };

        var scores = new List<(string Kind, double Score, string Rules)>();
        foreach (var (kind, message) in kinds)
        {
            var (score, rules) = await ScoreAsync(message);
            TestContext.Current.TestOutputHelper?.WriteLine($"{kind}: {score.ToString(CultureInfo.InvariantCulture)} ({rules})");
            scores.Add((kind, score, rules));
        }

        Assert.All(scores, s => Assert.True(s.Score <= Limit, $"{s.Kind} scores {s.Score.ToString(CultureInfo.InvariantCulture)}: {s.Rules}"));
    }

    /// <summary>The message as the recipient's MX stores it (its Received header on top, naming
    /// Herald's greeting and a public address), scored by <c>spamassassin -L -t</c>.</summary>
    private static async Task<(double Score, string Rules)> ScoreAsync(SinkMessage message)
    {
        Assert.False(string.IsNullOrEmpty(message.Helo), "smtp-sink did not record Herald's greeting.");
        var received = $"Received: from {message.Helo} ({message.Helo} [93.184.216.34])\r\n\tby mx.example.net (Postfix) with ESMTPS id 4Xk2Lq0Vb7z9sT\r\n\tfor <{message.Recipients[0]}>; "
            + DateTimeOffset.UtcNow.ToString("ddd, d MMM yyyy HH:mm:ss +0000", CultureInfo.InvariantCulture) + "\r\n";
        using var process = Process.Start(new ProcessStartInfo("spamassassin", ["-L", "-t", "-x"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        }) ?? throw new InvalidOperationException("spamassassin did not start (test.sh installs Debian's spamassassin).");
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        await process.StandardInput.BaseStream.WriteAsync(Encoding.ASCII.GetBytes(received), Ct);
        await process.StandardInput.BaseStream.WriteAsync(message.Data, Ct);
        process.StandardInput.Close();
        await process.WaitForExitAsync(Ct);

        var report = await output;
        var status = SpamStatus().Match(report);
        Assert.True(status.Success, $"No X-Spam-Status in spamassassin's output: {await error}");
        var rules = string.Join(", ", SpamRule().Matches(report[report.IndexOf("Content analysis details", StringComparison.Ordinal)..]).Select(m => $"{m.Groups[2].Value} {m.Groups[1].Value}"));
        return (double.Parse(status.Groups[1].Value, CultureInfo.InvariantCulture), rules.Length == 0 ? "no rule hit" : rules);
    }

    private static async Task MustAsync(Task<HttpResponseMessage> request)
    {
        using var response = await request;
        Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {await response.Content.ReadAsStringAsync(Ct)}");
    }

    [GeneratedRegex(@"^X-Spam-Status: \w+, score=(-?[0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex SpamStatus();

    [GeneratedRegex(@"^\s*(-?[0-9.]+) ([A-Z0-9_]+)\s", RegexOptions.Multiline)]
    private static partial Regex SpamRule();
}
