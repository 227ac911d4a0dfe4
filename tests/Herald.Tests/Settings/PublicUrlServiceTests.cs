using Herald.Access;
using Herald.Notifications;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Settings;

/// <summary>An in-memory service settings store; its SQL twin is exercised by the integration
/// tests of <c>herald settings</c> and the API on both engines.</summary>
internal sealed class MemoryServiceSettings : IServiceSettingsStore
{
    private readonly Dictionary<string, string> _values = [];

    public int Reads { get; private set; }

    public Task<string?> GetAsync(string name, CancellationToken cancellationToken)
    {
        Reads++;
        return Task.FromResult(_values.TryGetValue(name, out var value) ? value : null);
    }

    public Task SetAsync(string name, string? value, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (value is null)
        {
            _values.Remove(name);
        }
        else
        {
            _values[name] = value;
        }

        return Task.CompletedTask;
    }
}

public sealed class PublicUrlServiceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Caller RootAdministrator = new Caller.ConsoleAdministrator("root", ScopePath.Root);

    private static PublicUrlService Service(IServiceSettingsStore store, TimeProvider time, string configured = "http://127.0.0.1:8025") =>
        new(store, Options.Create(new NotificationOptions { PublicBaseUrl = configured }), time);

    [Fact]
    public async Task Until_one_is_stored_the_nodes_own_url_is_used_and_a_loopback_one_is_warned_about()
    {
        var view = await Service(new MemoryServiceSettings(), new FakeTimeProvider()).ShowAsync(Ct);

        Assert.Equal(("http://127.0.0.1:8025", PublicUrlSource.Node), (view.Url, view.Source));
        Assert.StartsWith("No public URL is set, so links in mail start with http://127.0.0.1:8025, a loopback address", view.Warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stored_url_wins_over_the_nodes_own_and_reaches_another_node_within_the_cache_lifetime()
    {
        var store = new MemoryServiceSettings();
        var time = new FakeTimeProvider();
        var other = Service(store, time, "https://node2.example.org");
        Assert.Equal("https://node2.example.org", await other.GetBaseUrlAsync(Ct));

        var set = await Service(store, time).SetAsync(RootAdministrator, " https://Herald.Example.org/ ", Ct);
        var before = await other.GetBaseUrlAsync(Ct);
        time.Advance(PublicUrlService.CacheLifetime);
        var after = await other.ShowAsync(Ct);

        Assert.Null(set.Refusal);
        Assert.Equal(("https://herald.example.org", PublicUrlSource.Stored, (string?)null), (set.Value!.Url, set.Value.Source, set.Value.Warning));
        Assert.Equal("https://node2.example.org", before);
        Assert.Equal(("https://herald.example.org", PublicUrlSource.Stored), (after.Url, after.Source));
    }

    [Theory]
    [InlineData("herald.example.org")]
    [InlineData("ftp://herald.example.org")]
    [InlineData("https://herald.example.org/?next=1")]
    [InlineData("https://herald.example.org/#top")]
    [InlineData("https://user:pw@herald.example.org")]
    public async Task A_url_that_cannot_start_a_link_is_refused_naming_the_field_and_nothing_is_stored(string url)
    {
        var store = new MemoryServiceSettings();

        var set = await Service(store, new FakeTimeProvider()).SetAsync(RootAdministrator, url, Ct);

        Assert.Equal(RefusalKind.Invalid, set.Refusal?.Kind);
        Assert.Equal("publicUrl", Assert.Single(set.Refusal!.Errors).Field);
        Assert.Null(await store.GetAsync(PublicUrlService.SettingName, Ct));
    }

    [Fact]
    public async Task A_very_long_url_is_refused_with_its_length_not_echoed_whole()
    {
        var url = "https://herald.example.org/" + new string('a', 10_000);

        var set = await Service(new MemoryServiceSettings(), new FakeTimeProvider()).SetAsync(RootAdministrator, url, Ct);

        Assert.Contains("at most 500", set.Refusal!.Sentence, StringComparison.Ordinal);
        Assert.True(set.Refusal.ToString().Length < 400);
    }

    [Fact]
    public async Task Only_an_administrator_of_the_root_may_change_it()
    {
        var store = new MemoryServiceSettings();

        var set = await Service(store, new FakeTimeProvider()).SetAsync(new Caller.ConsoleAdministrator("hr", ScopePath.Parse("/hr")), "https://evil.example.net", Ct);

        Assert.Equal(RefusalKind.NotAllowed, set.Refusal?.Kind);
        Assert.Null(await store.GetAsync(PublicUrlService.SettingName, Ct));
    }
}
