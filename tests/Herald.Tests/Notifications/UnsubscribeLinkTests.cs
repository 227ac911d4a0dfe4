using System.Buffers.Text;
using Herald.Notifications;
using Herald.Notifications.Unsubscribe;
using Herald.Scopes;
using Herald.Settings;
using Herald.Tests.Settings;
using Herald.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Notifications;

public sealed class UnsubscribeLinkTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static UnsubscribeLinks Links(ISigningKeyStore keys, FakeTimeProvider time)
    {
        var options = Options.Create(new NotificationOptions { PublicBaseUrl = "https://herald.example.org/" });
        return new(keys, options, new PublicUrlService(new MemoryServiceSettings(), options, time), time);
    }

    private static string TokenOf(Uri link) => link.AbsolutePath["/unsubscribe/".Length..];

    [Fact]
    public async Task A_link_names_its_origin_and_reads_back_on_another_node_with_the_same_key()
    {
        var keys = new MemoryKeys();
        var origin = new NotificationOrigin(NotificationSourceKind.Subscription, "sub-42", "alice");

        var link = await Links(keys, new FakeTimeProvider(Now)).CreateAsync(origin, Ct);
        var (read, problem) = await Links(keys, new FakeTimeProvider(Now.AddDays(59))).ReadAsync(TokenOf(link), Ct);

        Assert.StartsWith("https://herald.example.org/unsubscribe/", link.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal((origin, UnsubscribeTokenProblem.None), (read, problem));
        Assert.Equal(1, keys.Created);
    }

    [Fact]
    public async Task A_link_past_its_lifetime_is_refused_as_expired()
    {
        var keys = new MemoryKeys();
        var time = new FakeTimeProvider(Now);
        var links = Links(keys, time);
        var link = await links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Rule, "rule-1", "ops@example.org"), Ct);

        time.Advance(TimeSpan.FromDays(60));

        Assert.Equal((null, UnsubscribeTokenProblem.Expired), await links.ReadAsync(TokenOf(link), Ct));
    }

    [Fact]
    public async Task A_tampered_forged_or_oversized_token_is_refused()
    {
        var keys = new MemoryKeys();
        var time = new FakeTimeProvider(Now);
        var links = Links(keys, time);
        var token = TokenOf(await links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "sub-1", "alice"), Ct));
        var bytes = Base64Url.DecodeFromChars(token);
        // Another recipient in the payload, signature left as it was.
        var tampered = (byte[])bytes.Clone();
        tampered[^33] ^= 0x01;
        var forged = TokenOf(await Links(new MemoryKeys(), time).CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "sub-1", "alice"), Ct));

        Assert.Equal(UnsubscribeTokenProblem.Invalid, (await links.ReadAsync(Base64Url.EncodeToString(tampered), Ct)).Problem);
        Assert.Equal(UnsubscribeTokenProblem.Invalid, (await links.ReadAsync(forged, Ct)).Problem);
        Assert.Equal(UnsubscribeTokenProblem.Invalid, (await links.ReadAsync(token[..^2], Ct)).Problem);
        Assert.Equal(UnsubscribeTokenProblem.Invalid, (await links.ReadAsync("not a token!", Ct)).Problem);
        Assert.Equal(UnsubscribeTokenProblem.Invalid, (await links.ReadAsync(new string('A', UnsubscribeLinks.MaxTokenLength + 4), Ct)).Problem);
        Assert.Equal(UnsubscribeTokenProblem.None, (await links.ReadAsync(token, Ct)).Problem);
    }

    [Fact]
    public async Task Applying_a_link_disables_the_owners_subscription_once_and_opts_a_group_member_out()
    {
        var store = new InMemorySubscriptionStore();
        store.Add(new Subscription("own", ScopePath.Root, Principal.User("alice"), "My documents", EventFilter.Everything, NotificationSchedule.Immediate, false, true, Now, Now));
        store.Add(new Subscription("team", ScopePath.Root, Principal.Group("hr-team"), "HR team", EventFilter.Everything, NotificationSchedule.Immediate, false, true, Now, Now));
        var time = new FakeTimeProvider(Now);
        var links = Links(new MemoryKeys(), time);
        var service = new UnsubscribeService(links, store, time);
        var own = TokenOf(await links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "own", "alice"), Ct));
        var team = TokenOf(await links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "team", "alice"), Ct));

        var first = await service.ApplyAsync(own, Ct);
        var second = await service.ApplyAsync(own, Ct);
        var optOut = await service.ApplyAsync(team, Ct);
        var again = await service.ApplyAsync(team, Ct);

        Assert.Equal((UnsubscribeOutcome.SubscriptionDisabled, "the alert \"My documents\""), (first.Outcome, first.Target!.Description));
        Assert.Equal(UnsubscribeOutcome.AlreadyDone, second.Outcome);
        Assert.Equal(1, store.Disables);
        Assert.False(store.Subscriptions["own"].Enabled);
        Assert.Equal(UnsubscribeOutcome.OptedOut, optOut.Outcome);
        Assert.Equal(UnsubscribeOutcome.AlreadyDone, again.Outcome);
        Assert.True(store.Subscriptions["team"].Enabled);
        Assert.Equal([new NotificationOrigin(NotificationSourceKind.Subscription, "team", "alice")], store.OptOuts);
    }

    /// <summary>Keys by purpose, in memory; the SQL twin is the integration tests' node.</summary>
    internal sealed class MemoryKeys : ISigningKeyStore
    {
        private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

        public int Created { get; private set; }

        public Task<byte[]> GetOrCreateAsync(string purpose, byte[] candidate, DateTimeOffset now, CancellationToken cancellationToken)
        {
            if (!_keys.TryGetValue(purpose, out var key))
            {
                _keys[purpose] = key = candidate;
                Created++;
            }

            return Task.FromResult(key);
        }
    }
}
