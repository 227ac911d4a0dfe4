using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Settings;

namespace Herald.IntegrationTests.Notifications;

/// <summary>access.requested and quota.exceeded reach the scope's administrators through the real
/// mailer and outbox; the requester is in From only when the scope's impersonation policy allows it.</summary>
public sealed class AdministrativeMessageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_access_request_shows_the_requester_in_From_when_impersonation_is_allowed()
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.AllowUserFrom);
        var sent = await RequestAccessAsync(h);

        var mime = sent.Mime;
        Assert.Equal("\"User dana\" <dana@example.com>", mime.From.ToString());
        Assert.Equal("herald@example.org", mime.Sender?.Address);
        Assert.Empty(mime.ReplyTo);
        Assert.Equal("herald@example.org", sent.EnvelopeSender);
    }

    [Fact]
    public async Task Under_impersonation_never_an_access_request_keeps_the_scopes_From_and_Reply_To_and_names_the_requester_in_the_body()
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.ConfiguredSenderOnly, TestDatabases.Sqlite, configureSending: false);
        await h.ConfigureSendingAsync(ImpersonationPolicy.ConfiguredSenderOnly, replyTo: "hr-desk@example.org");
        var sent = await RequestAccessAsync(h, new HtmlTemplates());

        var mime = sent.Mime;
        Assert.Equal("herald@example.org", Assert.Single(mime.From.Mailboxes).Address);
        Assert.Null(mime.Sender);
        Assert.Equal("hr-desk@example.org", Assert.Single(mime.ReplyTo.Mailboxes).Address);
        Assert.Equal("herald@example.org", sent.EnvelopeSender);
        Assert.EndsWith("\n\nRequested by User dana <dana@example.com>\n", (mime.TextBody ?? "").ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("<p>Requested by User dana &lt;dana@example.com&gt;</p></body>", mime.HtmlBody ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_quota_warning_goes_to_every_administrator_of_the_scope_and_its_ancestors_but_not_to_viewers()
    {
        await using var h = await NotificationHarness.StartAsync();
        h.Directory.AddUser("root-admin");
        h.Directory.AddUser("hr-admin");
        h.Directory.AddUser("viewer");
        h.Directory.Grant("/", Principal.User("root-admin"), AccessLevel.Admin);
        h.Directory.Grant("/hr", Principal.User("hr-admin"), AccessLevel.Admin);
        h.Directory.Grant("/hr", Principal.User("viewer"), AccessLevel.View);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync([NotificationHarness.Event("q1", EventTypes.QuotaExceeded, "/hr/payroll", "/", title: "Storage 95% full")], Ct);
        await engine.RunOnceAsync(Ct);

        var sent = await h.OutboxAsync();
        Assert.Equal(["hr-admin@example.com", "root-admin@example.com"], sent.Select(s => s.Address));
        Assert.All(sent, s => Assert.StartsWith("<https://herald.test/unsubscribe/administrative//hr/payroll/", s.Unsubscribe, StringComparison.Ordinal));
        Assert.All(sent, s => Assert.Null(s.Mime.ReplyTo.Mailboxes.FirstOrDefault()));
    }

    private static async Task<StoredNotification> RequestAccessAsync(NotificationHarness h, INotificationTemplates? templates = null)
    {
        h.Directory.AddUser("admin");
        h.Directory.AddUser("dana");
        h.Directory.Grant("/hr", Principal.User("admin"), AccessLevel.Admin);
        var (engine, _, _) = h.Node("node-a", templates: templates);

        await h.Events.AddAsync([NotificationHarness.Event("req-1", EventTypes.AccessRequested, "/hr", "/Shared Documents", actor: "dana", title: "Dana asks for access")], Ct);
        await engine.RunOnceAsync(Ct);

        var sent = Assert.Single(await h.OutboxAsync());
        Assert.Equal("admin@example.com", sent.Address);
        Assert.Equal("notification", sent.Source);
        return sent;
    }

    /// <summary>A text and an HTML body, as the built-in templates render them.</summary>
    private sealed class HtmlTemplates : INotificationTemplates
    {
        public ValueTask<RenderedNotification> RenderEventAsync(
            NotificationEvent notificationEvent, NotificationRecipient recipient, string sourceName, Uri unsubscribe, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new RenderedNotification(notificationEvent.Title, notificationEvent.Title, $"<!DOCTYPE html><html><body><p>{notificationEvent.Title}</p></body></html>"));

        public ValueTask<RenderedNotification> RenderDigestAsync(
            Subscription subscription, IReadOnlyList<NotificationEvent> events, DigestWindow window, NotificationRecipient recipient, Uri unsubscribe, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
