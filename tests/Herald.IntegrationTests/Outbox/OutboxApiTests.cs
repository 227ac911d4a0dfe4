using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;

namespace Herald.IntegrationTests.Outbox;

/// <summary>The submission API against a real <c>herald serve</c> and a real <c>smtp-sink</c>.</summary>
public sealed class OutboxApiTests : IAsyncLifetime
{
    private SmtpSink _sink = null!;
    private OutboxNode _node = null!;

    public async ValueTask InitializeAsync()
    {
        _sink = SmtpSink.Start();
        _node = await OutboxNode.StartAsync(_sink.Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        _sink.Dispose();
    }

    private static object Minimal(string scope = "/", string to = "a@example.org", string subject = "Hello") =>
        new { scope, to = new[] { to }, subject, text = "Line one\nline two\rline three\r\n" };

    [Fact]
    public async Task A_minimal_message_is_accepted_and_reaches_the_sink_with_crlf_line_ends_and_its_message_id()
    {
        using var http = _node.Server.Client(await _node.KeyAsync("/", "sender"));

        var id = await OutboxNode.SendAsync(http, Minimal());

        var received = Assert.Single(await _sink.WaitForAsync(1, TimeSpan.FromSeconds(30)));
        Assert.Equal("herald@example.org", received.Sender);
        Assert.Equal(["a@example.org"], received.Recipients);
        for (var i = 0; i < received.Data.Length; i++)
        {
            Assert.False(received.Data[i] == (byte)'\n' && (i == 0 || received.Data[i - 1] != (byte)'\r'), $"bare LF at byte {i}");
            Assert.False(received.Data[i] == (byte)'\r' && (i + 1 == received.Data.Length || received.Data[i + 1] != (byte)'\n'), $"bare CR at byte {i}");
        }

        var details = await OutboxNode.WaitForAsync(http, id, state => state == "sent");
        Assert.Equal(received.ToMimeMessage().MessageId, details.GetProperty("messageIdHeader").GetString()!.Trim('<', '>'));
        Assert.StartsWith("250", OutboxNode.Recipients(details).Single().GetProperty("lastReply").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_without_a_valid_key_are_refused_with_401()
    {
        using var anonymous = _node.Server.Client();
        using var forged = _node.Server.Client("hrk_0123456789ab_forged-secret");

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("api/v1/messages", Minimal(), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.PostAsJsonAsync("api/v1/messages", Minimal(), TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(new Uri("metrics", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task A_revoked_key_stops_working()
    {
        var key = await _node.KeyAsync("/", "sender");
        using var http = _node.Server.Client(key);
        await OutboxNode.SendAsync(http, Minimal());

        await OutboxNode.MustAsync(_node.Cli, "apikey", "revoke", key.Split('_')[1]);
        await Task.Delay(TimeSpan.FromSeconds(6), TestContext.Current.CancellationToken); // keys are cached for five seconds

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("api/v1/messages", Minimal(), TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task A_sender_key_for_hr_cannot_send_into_finance_read_its_messages_or_change_settings()
    {
        var ct = TestContext.Current.CancellationToken;
        using var hrSender = _node.Server.Client(await _node.KeyAsync("/hr", "sender"));
        using var rootAdmin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var financeMessage = await OutboxNode.SendAsync(rootAdmin, Minimal("/finance"));
        var hrMessage = await OutboxNode.SendAsync(hrSender, Minimal("/hr"));

        using var send = await hrSender.PostAsJsonAsync("api/v1/messages", Minimal("/finance"), ct);
        Assert.Equal(HttpStatusCode.Forbidden, send.StatusCode);
        Assert.Contains("may not send into scope /finance", await send.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        using var batch = await hrSender.PostAsJsonAsync("api/v1/messages/batch", new { messages = new[] { Minimal("/hr"), Minimal("/finance") } }, ct);
        Assert.Equal(HttpStatusCode.Forbidden, batch.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await hrSender.GetAsync(new Uri($"api/v1/messages/{financeMessage}", UriKind.Relative), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await hrSender.GetAsync(new Uri($"api/v1/messages/{hrMessage}", UriKind.Relative), ct)).StatusCode);
        // A scope named and not held is refused (403), as every door refuses it.
        Assert.Equal(HttpStatusCode.Forbidden, (await hrSender.GetAsync(new Uri("api/v1/messages?scope=/finance", UriKind.Relative), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await hrSender.GetAsync(new Uri("api/v1/messages", UriKind.Relative), ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await hrSender.PostAsync(new Uri($"api/v1/messages/{hrMessage}/cancel", UriKind.Relative), null, ct)).StatusCode);
        using var settings = await hrSender.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { from = "evil@example.org" }, ct);
        Assert.Equal(HttpStatusCode.Forbidden, settings.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await hrSender.GetAsync(new Uri("metrics", UriKind.Relative), ct)).StatusCode);
        var show = await _node.Cli.RunAsync("smtp", "show", "--scope", "/hr");
        Assert.Contains("from               herald@example.org  (inherited from /)", show.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_hr_administrator_sees_and_changes_only_hr()
    {
        var ct = TestContext.Current.CancellationToken;
        using var hrAdmin = _node.Server.Client(await _node.KeyAsync("/hr", "admin"));
        await OutboxNode.SendAsync(hrAdmin, Minimal("/hr", subject: "for hr"));

        var listed = JsonDocument.Parse(await hrAdmin.GetStringAsync(new Uri("api/v1/messages?scope=/hr", UriKind.Relative), ct)).RootElement;
        Assert.Equal("for hr", Assert.Single(listed.EnumerateArray()).GetProperty("subject").GetString());
        using var finance = await hrAdmin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/finance", new { from = "x@example.org" }, ct);
        Assert.Equal(HttpStatusCode.Forbidden, finance.StatusCode);
        using var own = await hrAdmin.PutAsJsonAsync("api/v1/settings/outgoing?scope=/hr", new { from = "hr@example.org", server = "smtp.hr.example.org", port = 587, security = "starttls-required", username = "hr-mailer", password = "never-returned" }, ct);
        var body = await own.Content.ReadAsStringAsync(ct);
        Assert.True(own.StatusCode == HttpStatusCode.OK, body);
        Assert.Contains("\"from\":{\"value\":\"hr@example.org\",\"definedAt\":\"/hr\"}", body, StringComparison.Ordinal);
        Assert.DoesNotContain("never-returned", body, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Injections => new()
    {
        { """{"scope":"/","to":["a@example.org"],"subject":"Hi\r\nBcc: victim@example.org","text":"x"}""", "subject" },
        { """{"scope":"/","to":["a@example.org"],"subject":"Hi","text":"x","headers":{"X-Ticket":"1\nBcc: victim@example.org"}}""", "headers[X-Ticket]" },
        { """{"scope":"/","to":["a@example.org"],"subject":"Hi","text":"x","headers":{"Bcc":"victim@example.org"}}""", "headers[Bcc]" },
        { """{"scope":"/","to":["a@example.org"],"subject":"Hi","text":"x","attachments":[{"fileName":"a.txt\r\nBcc: v@example.org","content":"eA=="}]}""", "attachments[0].fileName" },
        { """{"scope":"/","to":["a@example.org","not an address"],"subject":"Hi","text":"x"}""", "to[1]" },
        { """{"scope":"/","to":["a@example.org"],"subject":"Hi","text":"x","attachments":[null]}""", "attachments[0]" },
        { """{"scope":"/","to":["a@example.org",null],"subject":"Hi","text":"x"}""", "to[1]" },
        { """{"scope":"/","to":["a@example.org"],"cc":[null],"subject":"Hi","text":"x"}""", "cc[0]" },
        { """{"scope":"/","to":["a@example.org"],"subject":"Hi","text":"x","headers":{"X-Ticket":null}}""", "headers[X-Ticket]" },
        { """{"scope":"/","to":["a@example.org"],"subject":"Hi"}""", "text" },
        { """{"scope":"/nowhere","to":["a@example.org"],"subject":"Hi","text":"x"}""", "scope" },
        { """{"scope":"/","from":"ceo@example.org","to":["a@example.org"],"subject":"Hi","text":"x"}""", "from" },
    };

    [Theory]
    [MemberData(nameof(Injections))]
    public async Task Invalid_messages_get_422_naming_the_field_and_nothing_is_stored(string json, string field)
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = _node.Server.Client(await _node.KeyAsync("/", "admin"));

        using var response = await http.PostAsync(new Uri("api/v1/messages", UriKind.Relative), new StringContent(json, System.Text.Encoding.UTF8, "application/json"), ct);

        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _), body);
        Assert.Equal("[]", await http.GetStringAsync(new Uri("api/v1/messages", UriKind.Relative), ct));
    }

    [Fact]
    public async Task A_repeated_idempotency_key_returns_the_original_message_and_sends_once()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = _node.Server.Client(await _node.KeyAsync("/", "sender"));
        async Task<JsonElement> PostAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/messages") { Content = JsonContent.Create(Minimal()) };
            request.Headers.Add("Idempotency-Key", "order-1234");
            using var response = await http.SendAsync(request, ct);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement;
        }

        var first = await PostAsync();
        var second = await PostAsync();

        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.False(first.GetProperty("duplicate").GetBoolean());
        Assert.True(second.GetProperty("duplicate").GetBoolean());
        await OutboxNode.WaitForAsync(http, first.GetProperty("id").GetString()!, s => s == "sent");
        await Task.Delay(1000, ct);
        Assert.Single(_sink.Received());
    }

    [Fact]
    public async Task A_batch_is_accepted_whole_and_more_than_1000_messages_are_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = _node.Server.Client(await _node.KeyAsync("/", "sender"));

        using var accepted = await http.PostAsJsonAsync("api/v1/messages/batch",
            new { messages = Enumerable.Range(0, 3).Select(i => Minimal(to: $"b{i}@example.org")).ToArray() }, ct);
        using var tooMany = await http.PostAsJsonAsync("api/v1/messages/batch",
            new { messages = Enumerable.Range(0, 1001).Select(i => Minimal()).ToArray() }, ct);

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal(3, JsonDocument.Parse(await accepted.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("messages").GetArrayLength());
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooMany.StatusCode);
        Assert.Equal(3, (await _sink.WaitForAsync(3, TimeSpan.FromSeconds(30))).Count);
    }

    [Fact]
    public async Task A_batch_with_a_null_entry_is_refused_naming_the_entry_and_nothing_is_sent()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = _node.Server.Client(await _node.KeyAsync("/", "sender"));

        using var refused = await http.PostAsync("api/v1/messages/batch", new StringContent(
            $$"""{"messages":[{{JsonSerializer.Serialize(Minimal(to: "null-neighbour@example.org"))}},null]}""", Encoding.UTF8, "application/json"), ct);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var errors = JsonDocument.Parse(await refused.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty("messages[1]", out _), errors.ToString());
        Assert.False(errors.TryGetProperty("messages[0]", out _), errors.ToString());
        using var list = await _node.Server.Client(await _node.KeyAsync("/", "admin")).GetAsync("api/v1/messages/?recipient=null-neighbour@example.org", ct);
        Assert.Equal("[]", (await list.Content.ReadAsStringAsync(ct)).Trim());
    }

    [Fact]
    public async Task With_impersonation_never_from_fromName_and_replyTo_are_refused_with_422_naming_the_policy_and_nothing_is_stored()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var asks = new (string Field, object Message)[]
        {
            ("from", new { scope = "/hr", from = "ceo@example.org", to = new[] { "a@example.org" }, subject = "Hi", text = "x" }),
            ("fromName", new { scope = "/hr", fromName = "The CEO", to = new[] { "a@example.org" }, subject = "Hi", text = "x" }),
            ("replyTo", new { scope = "/hr", replyTo = "attacker@example.net", to = new[] { "a@example.org" }, subject = "Hi", text = "x" }),
        };

        foreach (var (field, message) in asks)
        {
            using var response = await http.PostAsJsonAsync("api/v1/messages", message, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{field}: {(int)response.StatusCode} {body}");
            var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
            Assert.Contains("impersonation policy 'never'", errors.GetProperty(field)[0].GetString(), StringComparison.Ordinal);
        }

        Assert.Equal("[]", await http.GetStringAsync(new Uri("api/v1/messages?scope=/", UriKind.Relative), ct));
    }

    [Fact]
    public async Task With_impersonation_allowed_from_is_the_user_and_sender_and_envelope_are_the_configured_address()
    {
        await OutboxNode.MustAsync(_node.Cli, "smtp", "set", "--impersonation", "allowed", "--from-name", "Herald");
        using var http = _node.Server.Client(await _node.KeyAsync("/", "sender"));
        await Task.Delay(2500, TestContext.Current.CancellationToken); // the server reads settings at most every two seconds

        await OutboxNode.SendAsync(http, new { scope = "/", from = "alice@example.org", fromName = "Alice", to = new[] { "b@example.org" }, subject = "Access request", text = "Please." });

        var received = Assert.Single(await _sink.WaitForAsync(1, TimeSpan.FromSeconds(30)));
        var mime = received.ToMimeMessage();
        Assert.Equal(("Alice", "alice@example.org"), (mime.From.Mailboxes.Single().Name, mime.From.Mailboxes.Single().Address));
        Assert.Equal("herald@example.org", mime.Sender?.Address);
        Assert.Equal("herald@example.org", received.Sender);
    }
}
