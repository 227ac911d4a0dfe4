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
    public async Task An_access_request_puts_the_requester_in_Reply_To_when_impersonation_is_not_allowed()
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.ConfiguredSenderOnly);
        var sent = await RequestAccessAsync(h);

        var mime = sent.Mime;
        Assert.Equal("herald@example.org", Assert.Single(mime.From.Mailboxes).Address);
        Assert.Null(mime.Sender);
        Assert.Equal("dana@example.com", Assert.Single(mime.ReplyTo.Mailboxes).Address);
        Assert.Equal("herald@example.org", sent.EnvelopeSender);
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

    private static async Task<StoredNotification> RequestAccessAsync(NotificationHarness h)
    {
        h.Directory.AddUser("admin");
        h.Directory.AddUser("dana");
        h.Directory.Grant("/hr", Principal.User("admin"), AccessLevel.Admin);
        var (engine, _, _) = h.Node("node-a");

        await h.Events.AddAsync([NotificationHarness.Event("req-1", EventTypes.AccessRequested, "/hr", "/Shared Documents", actor: "dana", title: "Dana asks for access")], Ct);
        await engine.RunOnceAsync(Ct);

        var sent = Assert.Single(await h.OutboxAsync());
        Assert.Equal("admin@example.com", sent.Address);
        Assert.Equal("notification", sent.Source);
        return sent;
    }
}
