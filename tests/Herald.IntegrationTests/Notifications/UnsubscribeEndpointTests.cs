using System.Net;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Notifications.Unsubscribe;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Notifications;
using Herald.Storage.Settings;
using Herald.Storage.Suppression;
using Herald.Suppression;
using Herald.Testing;
using Herald.Web.Notifications;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The unsubscribe endpoints over real HTTP, with the signing key in a real database and
/// the subscription store of another part of the engine faked in memory.</summary>
public sealed class UnsubscribeEndpointTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_post_without_any_session_unsubscribes_once_and_a_second_post_is_harmless()
    {
        await using var host = await Host.StartAsync();
        var link = await host.Links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "own", "alice"), Ct);

        using var shown = await host.Http.GetAsync(link, Ct);
        Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
        Assert.Contains("the alert &quot;My documents&quot;", await shown.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.True(host.Store.Subscriptions["own"].Enabled);

        using var first = await host.Http.PostAsync(link, OneClick(), Ct);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("is turned off", await first.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal("no-store", first.Headers.CacheControl?.ToString());
        Assert.False(host.Store.Subscriptions["own"].Enabled);

        using var second = await host.Http.PostAsync(link, new FormUrlEncodedContent([]), Ct);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Contains("already unsubscribed", await second.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(1, host.Store.Disables);
        Assert.Empty(host.Store.OptOuts);
    }

    [Fact]
    public async Task A_member_of_a_group_subscription_is_opted_out_and_the_subscription_stays_on()
    {
        await using var host = await Host.StartAsync();
        var link = await host.Links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "team", "alice"), Ct);

        using var posted = await host.Http.PostAsync(link, OneClick(), Ct);

        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        Assert.Equal([new NotificationOrigin(NotificationSourceKind.Subscription, "team", "alice")], host.Store.OptOuts);
        Assert.True(host.Store.Subscriptions["team"].Enabled);
    }

    [Fact]
    public async Task Forged_tampered_and_expired_links_are_refused_and_change_nothing()
    {
        await using var host = await Host.StartAsync();
        var link = await host.Links.CreateAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "own", "alice"), Ct);
        var token = link.AbsolutePath["/unsubscribe/".Length..];
        var tampered = new Uri(link, "/unsubscribe/" + token[..^3] + (token[^3] == 'A' ? 'B' : 'A') + token[^2..]);
        var forged = new Uri(link, "/unsubscribe/" + token.Replace(token[12], token[12] == 'x' ? 'y' : 'x'));
        var oversized = new Uri(link, "/unsubscribe/" + new string('A', 3000));

        foreach (var bad in new[] { tampered, forged, oversized })
        {
            using var refused = await host.Http.PostAsync(bad, OneClick(), Ct);
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            Assert.Contains("not valid", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        host.Time.Advance(TimeSpan.FromDays(61));
        using var expired = await host.Http.PostAsync(link, OneClick(), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, expired.StatusCode);
        Assert.Contains("expired", await expired.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.True(host.Store.Subscriptions["own"].Enabled);
        Assert.Equal(0, host.Store.Disables);
        Assert.Empty(host.Store.OptOuts);
    }

    private static FormUrlEncodedContent OneClick() => new([new("List-Unsubscribe", "One-Click")]);

    private sealed class Host : IAsyncDisposable
    {
        private Host(WebApplication app, TestDatabase database, InMemorySubscriptionStore store, FakeTimeProvider time)
        {
            App = app;
            Database = database;
            Store = store;
            Time = time;
            Http = new HttpClient();
        }

        public WebApplication App { get; }

        public TestDatabase Database { get; }

        public InMemorySubscriptionStore Store { get; }

        public FakeTimeProvider Time { get; }

        public HttpClient Http { get; }

        public UnsubscribeLinks Links => App.Services.GetRequiredService<UnsubscribeLinks>();

        public static async Task<Host> StartAsync()
        {
            var database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
            var store = new InMemorySubscriptionStore();
            store.Add(new Subscription("own", ScopePath.Root, Principal.User("alice"), "My documents", EventFilter.Everything, NotificationSchedule.Immediate, false, true, Now, Now));
            store.Add(new Subscription("team", ScopePath.Root, Principal.Group("hr-team"), "HR team", EventFilter.Everything, NotificationSchedule.Immediate, false, true, Now, Now));
            var time = new FakeTimeProvider(Now);
            var options = new NotificationOptions();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Services.AddSingleton<TimeProvider>(time);
            builder.Services.AddSingleton<ISigningKeyStore>(new SqlSigningKeyStore(database.Database));
            builder.Services.AddSingleton<ISubscriptionStore>(store);
            builder.Services.AddSingleton(Options.Create(options));
            // No public URL stored: links start with this host's own address (options.PublicBaseUrl).
            builder.Services.AddSingleton<IServiceSettingsStore>(new SqlServiceSettingsStore(database.Database));
            builder.Services.AddSingleton<PublicUrlService>();
            builder.Services.AddSingleton<UnsubscribeLinks>();
            builder.Services.AddSingleton<UnsubscribeService>();
            // The page's second choice, "unsubscribe from everything": the recipient's address, the suppression list, its form's anti-forgery token.
            var directory = new FakeDirectory();
            directory.AddUser("alice");
            builder.Services.AddSingleton<IDirectory>(directory);
            builder.Services.AddSingleton<ISuppressionStore>(new SqlSuppressionStore(database.Database));
            builder.Services.AddSingleton<ISettingsStore>(new SqlSettingsStore(database.Database, time));
            builder.Services.AddSingleton<SuppressionService>();
            builder.Services.AddSingleton<UnsubscribeFromEverything>();
            builder.Services.AddAntiforgery();
            var app = builder.Build();
            app.MapUnsubscribeEndpoints();
            await app.StartAsync(Ct);
            options.PublicBaseUrl = app.Urls.First();
            return new Host(app, database, store, time);
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await App.DisposeAsync();
            await Database.DisposeAsync();
        }
    }
}
