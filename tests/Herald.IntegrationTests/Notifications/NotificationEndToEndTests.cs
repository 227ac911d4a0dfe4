using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using MimeKit;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Notifications;

/// <summary>
/// The notification engine as a producer and its users meet it: a real <c>herald serve</c>, set up
/// through its API, events posted over HTTP, and what reached Postfix's smtp-sink checked as a mail
/// client would see it.
/// </summary>
public sealed class NotificationEndToEndTests
{
    private const string Library = "/sites/hr/Shared Documents";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_user_subscribed_to_a_document_library_gets_one_email_when_a_document_changes_and_its_one_click_unsubscribe_works()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        await AddUserAsync(admin, "alice", "Alice Smith", "alice@example.org", "Europe/Berlin");
        await AddUserAsync(admin, "bob", "Bob Jones", "bob@example.org", "UTC");
        await GrantViewAsync(admin, "/hr", "user:alice");

        var subscription = await SubscribeAsync(admin, new
        {
            scope = "/hr", owner = "user:alice", name = "HR documents", pathPrefixes = new[] { Library }, eventTypes = new[] { "item.added", "item.changed" },
        });
        // Outside the library, and a change kind the subscription does not ask for: neither is mailed.
        await PostEventAsync(admin, "other-1", "item.changed", $"/sites/hr/Other/notes.docx", "Notes.docx");
        await PostEventAsync(admin, "del-1", "item.deleted", $"{Library}/old.docx", "Old.docx");
        await PostEventAsync(admin, "chg-1", "item.changed", $"{Library}/Travel policy.docx", "Travel policy.docx");

        var mail = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        var message = mail.ToMimeMessage();
        Assert.Equal(["alice@example.org"], mail.Recipients);
        Assert.Equal("herald@example.org", mail.Sender);
        Assert.Equal("Changed: Travel policy.docx", message.Subject);
        Assert.Contains("bob@example.org", message.TextBody ?? "", StringComparison.Ordinal);
        Assert.Contains("https://intranet.example.org/doc/chg-1", message.TextBody ?? "", StringComparison.Ordinal);
        Assert.Equal("List-Unsubscribe=One-Click", message.Headers["List-Unsubscribe-Post"]);
        Assert.Equal("\"Herald notifications for /hr\" <hr.notifications.example.org>", message.Headers["List-Id"]);
        Assert.Equal("auto-generated", message.Headers["Auto-Submitted"]);
        var unsubscribe = new Uri((message.Headers["List-Unsubscribe"] ?? "").Trim('<', '>'));
        Assert.Equal(node.Server.BaseAddress.Authority, unsubscribe.Authority);
        Assert.Contains(unsubscribe.AbsoluteUri, message.TextBody ?? "", StringComparison.Ordinal);

        // RFC 8058: the mail client POSTs the body below to the link, with no session or key.
        using (var anonymous = new HttpClient())
        using (var post = await anonymous.PostAsync(unsubscribe, new StringContent("List-Unsubscribe=One-Click", System.Text.Encoding.ASCII, "application/x-www-form-urlencoded"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        }

        var after = JsonDocument.Parse(await admin.GetStringAsync($"api/v1/subscriptions/{subscription}", Ct)).RootElement;
        Assert.False(after.GetProperty("enabled").GetBoolean());

        // Nothing more for Alice; a second subscriber shows that the event itself went through.
        await GrantViewAsync(admin, "/hr", "user:bob");
        await SubscribeAsync(admin, new { scope = "/hr", owner = "user:bob", name = "Everything in HR" });
        await PostEventAsync(admin, "chg-2", "item.changed", $"{Library}/Travel policy.docx", "Travel policy.docx (v2)");
        var both = await sink.WaitForAsync(2, TimeSpan.FromSeconds(60));
        Assert.Equal(["bob@example.org"], both[1].Recipients);
        Assert.Single(sink.Received(), m => m.Recipients.Contains("alice@example.org"));
    }

    [Fact]
    public async Task A_daily_subscriber_gets_one_digest_with_all_the_days_events_and_nothing_before_the_window_ends()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string> { ["HERALD_Notifications__DigestCheckInterval"] = "00:00:01" });
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        await AddUserAsync(admin, "carol", "Carol King", "carol@example.org", "UTC");
        await GrantViewAsync(admin, "/hr", "user:carol");

        // The daily window ends at the next whole minute at least 30 s away (Carol's zone is UTC),
        // so the test sees the digest go out on the real clock.
        var now = DateTimeOffset.UtcNow;
        var end = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero).AddMinutes(now.Second < 30 ? 1 : 2);
        await SubscribeAsync(admin, new
        {
            scope = "/hr", owner = "user:carol", name = "HR daily", pathPrefixes = new[] { Library }, frequency = "daily",
            at = end.ToString("HH:mm", CultureInfo.InvariantCulture),
        });
        string[] titles = ["Budget.xlsx", "Org chart.pptx", "Holidays.docx"];
        for (var i = 0; i < titles.Length; i++)
        {
            await PostEventAsync(admin, $"day-{i}", i == 1 ? "item.added" : "item.changed", $"{Library}/{titles[i]}", titles[i]);
        }

        // Nothing is mailed for a daily subscriber before the window ends.
        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        Assert.Empty(sink.Received());
        Assert.True(DateTimeOffset.UtcNow < end, "The test machine was too slow to post the events before the window ended.");

        var mail = Assert.Single(await sink.WaitForAsync(1, end - DateTimeOffset.UtcNow + TimeSpan.FromSeconds(60)));
        var message = mail.ToMimeMessage();
        Assert.Equal(["carol@example.org"], mail.Recipients);
        Assert.Equal("Daily summary of HR daily: 3 changes", message.Subject);
        Assert.All(titles, title => Assert.Contains(title, message.TextBody ?? "", StringComparison.Ordinal));
        Assert.Equal("List-Unsubscribe=One-Click", message.Headers["List-Unsubscribe-Post"]);

        // The scheduler looks every second; the window is sent once.
        await Task.Delay(TimeSpan.FromSeconds(4), Ct);
        Assert.Single(sink.Received());
    }

    [Fact]
    public async Task A_group_far_larger_than_the_nodes_delivery_room_gets_exactly_one_email_per_member_for_each_event()
    {
        // Room for 4 messages at once (2 senders): the fan-out is paced into hundreds of parts,
        // each leased to the worker as it frees room. A part lost, doubled, or room not given back
        // shows here as a member without a mail, a member with two, or a second event that stalls.
        const int members = 1200;
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port, new Dictionary<string, string> { ["HERALD_Delivery__Concurrency"] = "2" });
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        var everyone = Enumerable.Range(0, members).Select(i => $"member{i}@example.org").ToHashSet(StringComparer.Ordinal);
        await MustAsync(await admin.PostAsJsonAsync("api/v1/directory/import", new
        {
            users = Enumerable.Range(0, members).Select(i => new { id = $"m{i}", name = $"Member {i}", email = $"member{i}@example.org" }),
            groups = new[] { new { id = "staff", name = "Staff", delivery = "members", members = Enumerable.Range(0, members).Select(i => $"user:m{i}") } },
        }, Ct), HttpStatusCode.OK);
        await GrantViewAsync(admin, "/hr", "group:staff");
        await SubscribeAsync(admin, new { scope = "/hr", owner = "group:staff", name = "HR for all staff", pathPrefixes = new[] { Library } });

        await PostEventAsync(admin, "big-1", "item.changed", $"{Library}/Handbook.pdf", "Handbook.pdf");
        var first = await sink.WaitForAsync(members, TimeSpan.FromSeconds(120));
        Assert.Equal(everyone, first.Select(m => Assert.Single(m.Recipients)).ToHashSet(StringComparer.Ordinal));
        Assert.Equal(members, first.Count);

        await PostEventAsync(admin, "big-2", "item.changed", $"{Library}/Handbook.pdf", "Handbook.pdf (v2)");
        var both = await sink.WaitForAsync(2 * members, TimeSpan.FromSeconds(120));
        var second = both.Where(m => (m.ToMimeMessage().Subject ?? "").Contains("(v2)", StringComparison.Ordinal)).ToArray();
        Assert.Equal(everyone, second.Select(m => Assert.Single(m.Recipients)).ToHashSet(StringComparer.Ordinal));
        Assert.Equal(members, second.Length);

        // Nothing arrives twice later (a message both handed over and claimed would).
        await Task.Delay(TimeSpan.FromSeconds(2), Ct);
        Assert.Equal(2 * members, sink.Received().Count);
    }

    private static async Task AddUserAsync(HttpClient admin, string id, string name, string email, string timeZone) =>
        await MustAsync(await admin.PutAsJsonAsync($"api/v1/users/{id}", new { name, email, timeZone, language = "en" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);

    private static async Task GrantViewAsync(HttpClient admin, string scope, string principal) =>
        await MustAsync(await admin.PutAsJsonAsync("api/v1/access", new { scope, principal, level = "view" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);

    private static async Task<string> SubscribeAsync(HttpClient admin, object subscription)
    {
        var body = await MustAsync(await admin.PostAsJsonAsync("api/v1/subscriptions", subscription, Ct), HttpStatusCode.Created);
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
    }

    private static async Task PostEventAsync(HttpClient producer, string id, string type, string resourcePath, string title) =>
        await MustAsync(await producer.PostAsJsonAsync("api/v1/events", new
        {
            id, type, scope = "/hr", resourcePath, actor = "bob@example.org", title, link = $"https://intranet.example.org/doc/{id}",
            data = new { version = "2.0" },
        }, Ct), HttpStatusCode.Accepted);
}
