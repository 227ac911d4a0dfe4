using System.Diagnostics;
using System.Net;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Storage;

namespace Herald.IntegrationTests.Outbox;

/// <summary>
/// The administrator's queue tools on deferred mail: <c>herald queue list|show|retry|cancel</c>
/// (run against the serving node's data directory) and <c>POST /api/v1/messages/{id}/retry|cancel</c>,
/// with a real <c>herald serve</c> delivering to <c>smtp-sink</c>.
/// </summary>
public sealed class QueueToolsTests
{
    private const string SinkSoftRefusal = "450 4.3.0 Error: command failed";

    /// <summary>A backoff no test waits for: a message retried within a test was retried by hand.</summary>
    private static readonly Dictionary<string, string> LongBackoff = new() { ["HERALD_Delivery__RetryDelays__0"] = "01:00:00" };

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static object Message(string to, string subject) => new { scope = "/", to = new[] { to }, subject, text = "Queue tools test." };

    private static Task<MessageView> WaitUntilFinalAsync(HttpClient http, string id) =>
        MessageView.WaitAsync(http, id, m => m.Recipients.All(r => r.State is not ("queued" or "deferred")), "no recipient pending");

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, string path)
    {
        var response = await http.PostAsync(new Uri(path, UriKind.Relative), null, Token);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(Token)}");
        return response;
    }

    [Fact]
    public async Task Queue_list_and_show_report_deferred_messages_with_their_history()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, LongBackoff);
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));
        var deferred = await OutboxNode.SendAsync(http, Message("waiting@example.org", "Waiting"));
        await MessageView.WaitAsync(http, deferred, m => m.Attempts.Count == 1, "one attempt");

        var list = await OutboxNode.MustAsync(node.Cli, "queue", "list", "--state", "deferred");
        var show = await OutboxNode.MustAsync(node.Cli, "queue", "show", deferred);
        var sent = await OutboxNode.MustAsync(node.Cli, "queue", "list", "--state", "sent");

        var line = Assert.Single(list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(deferred, line, StringComparison.Ordinal);
        Assert.Contains("1 deferred", line, StringComparison.Ordinal);
        Assert.EndsWith("Waiting", line.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains($"waiting@example.org: deferred after 1 attempt(s): {SinkSoftRefusal}", show.Output, StringComparison.Ordinal);
        Assert.Matches($@"#1 waiting@example\.org on \S+: deferred {SinkSoftRefusal}", show.Output);
        Assert.Equal("", sent.Output);
    }

    [Fact]
    public async Task Retry_sends_a_deferred_message_now_instead_of_after_its_backoff()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, LongBackoff);
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));
        var byCli = await OutboxNode.SendAsync(http, Message("cli@example.org", "Retried with the CLI"));
        var byApi = await OutboxNode.SendAsync(http, Message("api@example.org", "Retried with the API"));
        foreach (var id in new[] { byCli, byApi })
        {
            var deferred = await MessageView.WaitAsync(http, id, m => m.Attempts.Count == 1, "one attempt");
            Assert.Equal("deferred", deferred.Recipients.Single().State);
        }

        sink.Restart();
        var retried = await OutboxNode.MustAsync(node.Cli, "queue", "retry", byCli);
        using var response = await PostAsync(http, $"api/v1/messages/{byApi}/retry");

        Assert.Contains($"1 recipient(s) of {byCli} will be tried again now.", retried.Output, StringComparison.Ordinal);
        var afterApi = new MessageView(System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement);
        Assert.Contains(afterApi.Recipients.Single().State, new[] { "queued", "sent" });
        var headers = new List<string>();
        foreach (var id in new[] { byCli, byApi })
        {
            var done = await WaitUntilFinalAsync(http, id);
            Assert.Equal("sent", done.Recipients.Single().State);
            Assert.Equal(["deferred", "sent"], done.Attempts.Select(a => a.Outcome));
            headers.Add(done.MessageIdHeader.Trim('<', '>'));
        }

        Assert.Equal(headers.Order(StringComparer.Ordinal), sink.Received().Select(m => m.ToMimeMessage().MessageId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Retry_gives_an_expired_message_a_new_maximum_age_and_it_is_sent()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string> { ["HERALD_Delivery__MaximumAge"] = "00:00:03" });
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));
        var id = await OutboxNode.SendAsync(http, Message("late@example.org", "Expired, then retried"));
        var expired = await WaitUntilFinalAsync(http, id);
        Assert.Equal("expired", expired.Recipients.Single().State);

        sink.Restart();
        using var response = await PostAsync(http, $"api/v1/messages/{id}/retry");

        var sent = await WaitUntilFinalAsync(http, id);
        Assert.Equal("sent", sent.Recipients.Single().State);
        Assert.Equal(["expired", "sent"], sent.Attempts.TakeLast(2).Select(a => a.Outcome));
        Assert.True(ExpiresAt(sent) > ExpiresAt(expired), sent.ToString());
        Assert.Equal(sent.MessageIdHeader.Trim('<', '>'), Assert.Single(sink.Received()).ToMimeMessage().MessageId);

        static DateTimeOffset ExpiresAt(MessageView m) => m.Json.GetProperty("message").GetProperty("expiresAt").GetDateTimeOffset();
    }

    [Fact]
    public async Task Queue_retry_on_the_command_line_uses_the_configured_maximum_age()
    {
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string> { ["HERALD_Delivery__MaximumAge"] = "00:00:03" });
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));
        var id = await OutboxNode.SendAsync(http, Message("still-refused@example.org", "Expired, retried, expired again"));
        Assert.Equal("expired", (await WaitUntilFinalAsync(http, id)).Recipients.Single().State);

        var retried = DateTimeOffset.UtcNow;
        await OutboxNode.MustAsync(node.Cli, "queue", "retry", id);

        // Three seconds from the retry, as serve's own setting says, not the default five days:
        // the upstream still refuses, so the message expires again.
        var again = await WaitUntilFinalAsync(http, id);
        Assert.Equal("expired", again.Recipients.Single().State);
        Assert.InRange(again.Json.GetProperty("message").GetProperty("expiresAt").GetDateTimeOffset(), retried, retried.AddMinutes(1));
        Assert.Empty(sink.Received());
    }

    [Fact]
    public async Task Cancel_stops_a_deferred_message_for_good()
    {
        // Retries every second: a cancelled message that was still pending would be sent within the test.
        using var sink = SmtpSink.Start("-r", "RCPT");
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));
        var byCli = await OutboxNode.SendAsync(http, Message("cli@example.org", "Cancelled with the CLI"));
        var byApi = await OutboxNode.SendAsync(http, Message("api@example.org", "Cancelled with the API"));
        foreach (var id in new[] { byCli, byApi })
        {
            await MessageView.WaitAsync(http, id, m => m.Attempts.Count >= 1, "an attempt");
        }

        var cancelled = await OutboxNode.MustAsync(node.Cli, "queue", "cancel", byCli);
        using var response = await PostAsync(http, $"api/v1/messages/{byApi}/cancel");
        sink.Restart();

        Assert.Contains($"Cancelled 1 recipient(s) of {byCli}.", cancelled.Output, StringComparison.Ordinal);
        Assert.Contains("\"state\":\"cancelled\"", await response.Content.ReadAsStringAsync(Token), StringComparison.Ordinal);
        // Retry does not bring a cancelled recipient back.
        var retry = await node.Cli.RunAsync("queue", "retry", byCli);
        Assert.NotEqual(0, retry.ExitCode);
        Assert.Contains("has no deferred, expired or failed recipient", retry.Error, StringComparison.Ordinal);
        using var apiRetry = await PostAsync(http, $"api/v1/messages/{byApi}/retry");
        await AssertNeverSentAsync(http, sink, [byCli, byApi]);
        var list = await OutboxNode.MustAsync(node.Cli, "queue", "list", "--state", "cancelled");
        Assert.Equal(2, list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Cancel_during_an_attempt_that_then_fails_still_stops_the_message(string engine)
    {
        // The outcome of the attempt is recorded after the cancel, by SQL that differs per engine.
        await using var database = await TestDatabases.CreateAsync(engine, migrate: false);
        var environment = database.Url is { } url ? new Dictionary<string, string> { ["HERALD_DATABASE"] = url } : null;
        // -W RCPT:50: the sink holds each attempt at RCPT, so the cancel lands while the worker
        // holds the message; -v: the sink prints the commands it reads, to know when that is.
        using var sink = SmtpSink.Start("-v", "-W", "RCPT:50");
        await using var node = await OutboxNode.StartAsync(sink.Port, environment);
        using var http = node.Server.Client(await node.KeyAsync("/", "admin"));
        var id = await OutboxNode.SendAsync(http, Message("held@example.org", "Cancelled mid-attempt"));
        await WaitForAsync(() => sink.Output.Contains("MAIL FROM:<herald@example.org>", StringComparison.OrdinalIgnoreCase), "the attempt reached the sink", sink, node.Server);

        using var response = await PostAsync(http, $"api/v1/messages/{id}/cancel");
        Assert.Contains("\"state\":\"cancelled\"", await response.Content.ReadAsStringAsync(Token), StringComparison.Ordinal);
        // The sink goes down mid-transaction: the attempt ends in a temporary failure. Back up
        // without the delay, it would accept the message if it were tried again.
        sink.Restart();

        var recorded = await MessageView.WaitAsync(http, id, m => m.Attempts.Count == 1, "the interrupted attempt recorded");
        Assert.Equal("deferred", recorded.Attempts.Single().Outcome);
        Assert.Equal("cancelled", recorded.Recipients.Single().State);
        await AssertNeverSentAsync(http, sink, [id]);
    }

    /// <summary>Proves cancelled messages were not sent: a later message is delivered (the
    /// upstream accepts and the worker claims), and after more than a retry delay the cancelled
    /// ones are still cancelled and absent from the sink.</summary>
    private static async Task AssertNeverSentAsync(HttpClient http, SmtpSink sink, string[] ids)
    {
        var control = await OutboxNode.SendAsync(http, Message("control@example.org", "Control"));
        Assert.Equal("sent", (await WaitUntilFinalAsync(http, control)).Recipients.Single().State);
        await Task.Delay(TimeSpan.FromSeconds(2), Token);

        Assert.Equal(["control@example.org"], sink.Received().SelectMany(m => m.Recipients));
        foreach (var id in ids)
        {
            Assert.Equal("cancelled", (await MessageView.GetAsync(http, id)).Recipients.Single().State);
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, string what, SmtpSink sink, HeraldServer server)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"Not seen within 30 s: {what}.\nsmtp-sink:\n{sink.Output}\nherald serve:\n{server.Output}");
            }

            await Task.Delay(50, Token);
        }
    }
}
