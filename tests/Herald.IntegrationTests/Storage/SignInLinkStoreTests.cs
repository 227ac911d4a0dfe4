using Herald.Notifications.SelfService;
using Herald.Storage.Notifications;

namespace Herald.IntegrationTests.Storage;

/// <summary>Emailed sign-in links on real SQLite and real PostgreSQL: a link is used once, also
/// by two nodes racing on it; the limits count per address and per client; a claimed request is
/// not claimed twice.</summary>
public sealed class SignInLinkStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_link_is_used_once_even_when_two_nodes_race_on_it_and_never_after_it_expires(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlSignInLinkStore(db.Database);
        var other = new SqlSignInLinkStore(db.OpenAnother());
        var token = await IssueAsync(store, "r1", "alice", Now.AddMinutes(15));

        Assert.Equal("alice", await store.FindUnusedAsync(SignInLinks.HashOf(token), Now, Ct));
        // Looking does not use it: the confirm page's GET leaves it for the POST.
        Assert.Equal("alice", await store.FindUnusedAsync(SignInLinks.HashOf(token), Now, Ct));

        var racing = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? store : other).ConsumeAsync(SignInLinks.HashOf(token), Now.AddMinutes(1), Ct)));
        Assert.Equal(["alice"], racing.Where(u => u is not null));
        Assert.Null(await store.ConsumeAsync(SignInLinks.HashOf(token), Now.AddMinutes(2), Ct));
        Assert.Null(await store.FindUnusedAsync(SignInLinks.HashOf(token), Now.AddMinutes(2), Ct));

        var late = await IssueAsync(store, "r2", "alice", Now.AddMinutes(15));
        Assert.Null(await store.ConsumeAsync(SignInLinks.HashOf(late), Now.AddMinutes(15), Ct));
        Assert.Null(await store.FindUnusedAsync(SignInLinks.HashOf(late), Now.AddMinutes(15), Ct));
        Assert.Null(await store.ConsumeAsync(SignInLinks.HashOf(SignInLinks.NewToken()), Now, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Requests_are_limited_per_address_and_per_client_within_the_window(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlSignInLinkStore(db.Database);
        var since = Now.AddHours(-1);

        Assert.True(await store.AddRequestAsync(new("a1", "alice@example.org", "192.0.2.1", Now), since, 2, 3, Ct));
        Assert.True(await store.AddRequestAsync(new("a2", "alice@example.org", "192.0.2.2", Now), since, 2, 3, Ct));
        Assert.False(await store.AddRequestAsync(new("a3", "alice@example.org", "192.0.2.3", Now), since, 2, 3, Ct));

        Assert.True(await store.AddRequestAsync(new("c1", "b@example.org", "192.0.2.1", Now), since, 2, 3, Ct));
        Assert.True(await store.AddRequestAsync(new("c2", "c@example.org", "192.0.2.1", Now), since, 2, 3, Ct));
        Assert.False(await store.AddRequestAsync(new("c3", "d@example.org", "192.0.2.1", Now), since, 2, 3, Ct));

        // An hour on, neither counts the old requests.
        Assert.True(await store.AddRequestAsync(new("a4", "alice@example.org", "192.0.2.1", Now.AddHours(1).AddSeconds(1)), Now.AddSeconds(1), 2, 3, Ct));
        var claimed = await store.ClaimAsync(10, Now.AddHours(1), Now.AddHours(1).AddMinutes(2), Ct);
        // The refused ones were not stored at all.
        Assert.Equal(["a1", "a2", "a4", "c1", "c2"], claimed.Select(r => r.Id).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_claimed_request_is_not_claimed_again_until_its_claim_runs_out_and_a_finished_one_never(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlSignInLinkStore(db.Database);
        var other = new SqlSignInLinkStore(db.OpenAnother());
        Assert.True(await store.AddRequestAsync(new("r1", "alice@example.org", "192.0.2.1", Now), Now, 10, 10, Ct));
        Assert.True(await store.AddRequestAsync(new("r2", "bob@example.org", "192.0.2.1", Now), Now, 10, 10, Ct));

        var first = await store.ClaimAsync(10, Now, Now.AddMinutes(2), Ct);
        Assert.Equal(["r1", "r2"], first.Select(r => r.Id));
        Assert.Equal("alice@example.org", first[0].Address);
        Assert.Empty(await other.ClaimAsync(10, Now.AddMinutes(1), Now.AddMinutes(3), Ct));

        await store.CompleteAsync("r1", SignInLinkOutcome.NoUser, null, null, null, Ct);
        // r1 is done; r2's node died: another takes it once the claim has run out.
        Assert.Equal(["r2"], (await other.ClaimAsync(10, Now.AddMinutes(3), Now.AddMinutes(5), Ct)).Select(r => r.Id));

        Assert.Equal(2, await store.PurgeAsync(Now.AddSeconds(1), Ct));
        Assert.Empty(await store.ClaimAsync(10, Now.AddHours(1), Now.AddHours(2), Ct));
    }

    private static async Task<string> IssueAsync(SqlSignInLinkStore store, string id, string userId, DateTimeOffset expires)
    {
        Assert.True(await store.AddRequestAsync(new(id, userId + "@example.org", "192.0.2.9", Now), Now, 100, 100, Ct));
        var token = SignInLinks.NewToken();
        await store.CompleteAsync(id, SignInLinkOutcome.Sent, userId, SignInLinks.HashOf(token), expires, Ct);
        return token;
    }
}
