using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using static Herald.IntegrationTests.Notifications.ApiReplies;
using static Herald.IntegrationTests.SelfService.PersonBrowser;

namespace Herald.IntegrationTests.SelfService;

/// <summary>
/// The links a person gets in real mail: a real <c>herald serve</c> sends through its outbox to
/// Postfix's smtp-sink; the links are read from the bytes received, and followed as a browser
/// would (GET shows, only the confirming POST signs in), and what the person then does is read
/// back through the API.
/// </summary>
public sealed class SelfServiceMailTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_manage_link_of_a_real_notification_shows_the_alerts_read_only_and_signs_in_only_on_confirm()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        await SetUpAliceAsync(admin);
        await MustAsync(await admin.PostAsJsonAsync("api/v1/events", new { id = "chg-1", type = "item.changed", scope = "/hr", resourcePath = "/docs/a.docx", title = "A.docx" }, Ct), HttpStatusCode.Accepted);

        var message = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60))).ToMimeMessage();
        var manage = LinkAfter(message.TextBody, "Manage your alerts: ");
        Assert.Equal(node.Server.BaseAddress.Authority, manage.Authority);
        Assert.StartsWith("/me/manage/", manage.AbsolutePath, StringComparison.Ordinal);
        Assert.Contains($"href=\"{manage.AbsoluteUri}\">Manage your alerts</a>", message.HtmlBody, StringComparison.Ordinal);
        // The unsubscribe link is still there, and still the List-Unsubscribe one.
        Assert.Equal("List-Unsubscribe=One-Click", message.Headers["List-Unsubscribe-Post"]);

        // A mail scanner opening the link: the page, read-only, and no session.
        using var scanner = Open(node.Server.BaseAddress);
        using (var opened = await scanner.GetAsync(manage, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
            var html = await opened.Content.ReadAsStringAsync(Ct);
            Assert.Contains("Continue as Alice Smith", html, StringComparison.Ordinal);
            Assert.Contains("HR documents", html, StringComparison.Ordinal);
            Assert.DoesNotContain("herald-console", string.Join(";", opened.Headers.TryGetValues("Set-Cookie", out var set) ? set : []), StringComparison.Ordinal);
        }

        Assert.False(await SignedInAsync(scanner));

        // The person confirms: signed in, on their page, and their change lands.
        using var person = Open(node.Server.BaseAddress);
        using (var confirmed = await PostFormAsync(person, manage.AbsoluteUri, null))
        {
            Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
            Assert.Equal("/me", confirmed.Headers.Location?.OriginalString);
        }

        using (var added = await PostFormAsync(person, "me", "me?handler=add",
            ("name", "Weekly HR"), ("scope", "/hr"), ("eventTypes", "item.added"), ("frequency", "weekly"), ("at", "08:30"), ("day", "monday"), ("enabled", "true")))
        {
            Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        }

        var alerts = JsonDocument.Parse(await admin.GetStringAsync("api/v1/subscriptions?owner=user:alice", Ct)).RootElement;
        var weekly = Assert.Single(alerts.EnumerateArray(), s => s.GetProperty("name").GetString() == "Weekly HR");
        Assert.Equal("weekly", weekly.GetProperty("frequency").GetString());
        Assert.Equal("monday", weekly.GetProperty("day").GetString());
    }

    [Fact]
    public async Task The_sign_in_link_arrives_through_the_outbox_works_once_and_an_unknown_address_gets_no_mail()
    {
        using var sink = SmtpSink.Start();
        await using var node = await OutboxNode.StartAsync(sink.Port);
        using var admin = node.Server.Client(await node.KeyAsync("/", "admin"));
        await SetUpAliceAsync(admin);

        using var stranger = Open(node.Server.BaseAddress);
        using (var unknown = await PostFormAsync(stranger, "signin/link", null, ("email", "nobody@example.org")))
        {
            Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
        }

        using var person = Open(node.Server.BaseAddress);
        using (var known = await PostFormAsync(person, "signin/link", null, ("email", "Alice@Example.org")))
        {
            Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        }

        var mail = Assert.Single(await sink.WaitForAsync(1, TimeSpan.FromSeconds(60)));
        Assert.Equal(["alice@example.org"], mail.Recipients);
        var message = mail.ToMimeMessage();
        Assert.Equal("Your Herald sign-in link", message.Subject);
        var link = LinkTo(message.TextBody, "/signin/link/");
        // Herald's own mail, in its queue like any other.
        var queued = JsonDocument.Parse(await admin.GetStringAsync("api/v1/messages?scope=%2F", Ct)).RootElement;
        Assert.Contains(queued.EnumerateArray(), m => m.GetProperty("subject").GetString() == "Your Herald sign-in link");

        // Opening it twice (a link preview, then the person) spends nothing.
        using var preview = Open(node.Server.BaseAddress);
        using (var peeked = await preview.GetAsync(link, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, peeked.StatusCode);
        }

        using (var used = await PostFormAsync(person, link.AbsoluteUri, null))
        {
            Assert.Equal(HttpStatusCode.Redirect, used.StatusCode);
        }

        Assert.True(await SignedInAsync(person));

        // Used: whoever else holds it gets nothing.
        using var thief = Open(node.Server.BaseAddress);
        using (var again = await PostWithTokenAsync(thief, link.AbsoluteUri, await TokenAsync(thief)))
        {
            Assert.Equal(HttpStatusCode.Gone, again.StatusCode);
        }

        Assert.False(await SignedInAsync(thief));
        using (var reopened = await thief.GetAsync(link, Ct))
        {
            Assert.Equal(HttpStatusCode.Gone, reopened.StatusCode);
        }

        // Nothing ever went to the unknown address.
        await Task.Delay(TimeSpan.FromSeconds(2), Ct);
        Assert.DoesNotContain(sink.Received(), m => m.Recipients.Contains("nobody@example.org"));
    }

    private static async Task SetUpAliceAsync(HttpClient admin)
    {
        await MustAsync(await admin.PutAsJsonAsync("api/v1/users/alice", new { name = "Alice Smith", email = "alice@example.org", timeZone = "Europe/Berlin", language = "en" }, Ct),
            HttpStatusCode.OK, HttpStatusCode.Created);
        await MustAsync(await admin.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:alice", level = "view" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
        await MustAsync(await admin.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:alice", name = "HR documents" }, Ct), HttpStatusCode.Created);
    }
}
