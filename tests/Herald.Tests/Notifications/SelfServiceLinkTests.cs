using System.Buffers.Text;
using Herald.Notifications;
using Herald.Notifications.SelfService;
using Herald.Notifications.Unsubscribe;
using Herald.Settings;
using Herald.Tests.Settings;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Notifications;

/// <summary>The token formats of the self-service links: a "Manage your alerts" link names one
/// user at one address and expires; an emailed sign-in link is 256 random bits, kept only as its
/// SHA-256. The integration twins follow both through a real node (SelfService tests).</summary>
public sealed class SelfServiceLinkTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private static readonly DirectoryUser Alice = new("alice", "Alice Martin", EmailAddress.Parse("alice@example.org"), "Europe/Berlin", "en");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ManageLinks Links(ISigningKeyStore keys, IDirectoryStore directory, FakeTimeProvider time)
    {
        var urls = Options.Create(new NotificationOptions { PublicBaseUrl = "https://herald.example.org/" });
        return new(keys, directory, Options.Create(new SelfServiceOptions()), new PublicUrlService(new MemoryServiceSettings(), urls, time), time);
    }

    private static string TokenOf(Uri link) => link.AbsolutePath["/me/manage/".Length..];

    private static InMemoryDirectoryStore DirectoryWith(params DirectoryUser[] users)
    {
        var directory = new InMemoryDirectoryStore();
        directory.Users.AddRange(users);
        return directory;
    }

    [Fact]
    public async Task A_manage_link_names_its_user_and_reads_back_on_another_node_until_it_expires_after_thirty_days()
    {
        var keys = new UnsubscribeLinkTests.MemoryKeys();
        var directory = DirectoryWith(Alice);
        var link = await Links(keys, directory, new FakeTimeProvider(Now)).CreateAsync(Alice, Ct);
        var token = TokenOf(link);

        Assert.StartsWith("https://herald.example.org/me/manage/", link.AbsoluteUri, StringComparison.Ordinal);
        Assert.True(Base64Url.IsValid(token) && token.Length <= ManageLinks.MaxTokenLength);
        Assert.Equal((Alice, LinkProblem.None), await Links(keys, directory, new FakeTimeProvider(Now.AddDays(30).AddSeconds(-1))).ReadAsync(token, Ct));
        Assert.Equal((null, LinkProblem.Expired), await Links(keys, directory, new FakeTimeProvider(Now.AddDays(30))).ReadAsync(token, Ct));
    }

    [Fact]
    public async Task Every_altered_byte_a_foreign_key_another_purposes_token_or_a_new_email_makes_a_manage_link_worthless()
    {
        var keys = new UnsubscribeLinkTests.MemoryKeys();
        var directory = DirectoryWith(Alice);
        var time = new FakeTimeProvider(Now);
        var links = Links(keys, directory, time);
        var bytes = Base64Url.DecodeFromChars(TokenOf(await links.CreateAsync(Alice, Ct)));

        for (var i = 0; i < bytes.Length; i++)
        {
            var altered = (byte[])bytes.Clone();
            altered[i] ^= 0x01;
            Assert.Equal((null, LinkProblem.Invalid), await links.ReadAsync(Base64Url.EncodeToString(altered), Ct));
        }

        var foreign = await Links(new UnsubscribeLinkTests.MemoryKeys(), directory, time).CreateAsync(Alice, Ct);
        Assert.Equal((null, LinkProblem.Invalid), await links.ReadAsync(TokenOf(foreign), Ct));

        // An unsubscribe token is signed under its own purpose's key: no use here.
        var unsubscribe = await new UnsubscribeLinks(keys, Options.Create(new NotificationOptions()), new PublicUrlService(new MemoryServiceSettings(), Options.Create(new NotificationOptions()), time), time)
            .CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "sub-1", "alice"), Ct);
        Assert.Equal((null, LinkProblem.Invalid), await links.ReadAsync(unsubscribe.AbsolutePath["/unsubscribe/".Length..], Ct));

        foreach (var junk in new[] { null, "", "not base64!", new string('A', ManageLinks.MaxTokenLength + 4) })
        {
            Assert.Equal((null, LinkProblem.Invalid), await links.ReadAsync(junk, Ct));
        }

        // Alice's address changes: a link sent to the old one opens nothing.
        var token = TokenOf(await links.CreateAsync(Alice, Ct));
        directory.Users[0] = Alice with { Email = EmailAddress.Parse("alice.martin@example.org") };
        Assert.Equal((null, LinkProblem.Invalid), await links.ReadAsync(token, Ct));
    }

    [Fact]
    public void A_sign_in_token_is_256_random_bits_in_base64url_and_only_its_sha256_is_kept()
    {
        var tokens = Enumerable.Range(0, 100).Select(_ => SignInLinks.NewToken()).ToArray();

        Assert.All(tokens, t => Assert.Matches("^[A-Za-z0-9_-]{43}$", t));
        Assert.Equal(32, Base64Url.DecodeFromChars(tokens[0]).Length);
        Assert.Equal(tokens.Length, tokens.Distinct(StringComparer.Ordinal).Count());
        Assert.Matches("^[0-9a-f]{64}$", SignInLinks.HashOf(tokens[0]));
        Assert.Equal(SignInLinks.HashOf(tokens[0]), SignInLinks.HashOrNull(tokens[0]));
        Assert.DoesNotContain(tokens[0], SignInLinks.HashOf(tokens[0]), StringComparison.Ordinal);
        Assert.All(new[] { null, "", "has space", "a/b", new string('A', SignInLinks.MaxTokenLength + 1) }, t => Assert.Null(SignInLinks.HashOrNull(t)));
    }

    [Fact]
    public async Task The_default_footer_carries_the_manage_link_for_a_directory_user_and_none_for_a_bare_address()
    {
        var harness = new TemplateHarness();
        var keys = new UnsubscribeLinkTests.MemoryKeys();
        var links = Links(keys, DirectoryWith(TemplateHarness.Alice.User!), new FakeTimeProvider(TemplateHarness.Now));
        var templates = new Herald.Notifications.Templates.NotificationTemplates(
            harness.Store, harness.Renderer, Options.Create(harness.Limits), new FakeTimeProvider(TemplateHarness.Now), NullLogger<Herald.Notifications.Templates.NotificationTemplates>.Instance, links);
        var notificationEvent = TemplateHarness.Event(EventTypes.ItemChanged);

        var toAlice = await templates.RenderEventAsync(notificationEvent, TemplateHarness.Alice, "the alert \"Policies\"", TemplateHarness.Unsubscribe, Ct);
        var manage = await links.CreateAsync(TemplateHarness.Alice.User!, Ct);
        Assert.Contains($"Manage your alerts: {manage.AbsoluteUri}\nUnsubscribe: {TemplateHarness.Unsubscribe.AbsoluteUri}", toAlice.Text, StringComparison.Ordinal);
        Assert.Contains($"<a href=\"{manage.AbsoluteUri}\">Manage your alerts</a>", toAlice.Html, StringComparison.Ordinal);

        var alias = new NotificationRecipient(EmailAddress.Parse("team@example.org"), null);
        var toAlias = await templates.RenderEventAsync(notificationEvent, alias, "the rule \"Team\"", TemplateHarness.Unsubscribe, Ct);
        Assert.DoesNotContain("Manage your alerts", toAlias.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("Manage your alerts", toAlias.Html, StringComparison.Ordinal);
    }
}
