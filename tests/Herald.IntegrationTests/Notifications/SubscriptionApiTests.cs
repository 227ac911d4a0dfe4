using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Herald.Access;
using Herald.Cli;
using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Database;
using Herald.Web;
using Herald.Web.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The subscriptions API on an in-process host with the real web, core and storage
/// services (SQLite) and the notification engine running, and an in-memory directory, templates,
/// links and digest inbox (other parts of issue 4).</summary>
public sealed class SubscriptionApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Subscribing_needs_View_for_the_owner_and_the_subscription_then_delivers_an_event_through_the_engine()
    {
        await using var node = await InProcessNode.StartAsync();
        node.Directory.AddUser("alice");
        node.Directory.AddUser("bob");
        node.Directory.AddUser("carol");
        node.Directory.AddGroup("team", members: [Principal.User("alice"), Principal.User("carol")]);
        node.Directory.Grant("/hr", Principal.User("alice"), AccessLevel.View);
        node.Directory.Grant("/hr", Principal.Group("team"), AccessLevel.View);
        using var hr = await node.ClientAsync("/hr", ApiKeyRole.Sender);
        using var finance = await node.ClientAsync("/finance", ApiKeyRole.Admin);

        using var noView = await hr.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:bob" }, Ct);
        Assert.Equal(["owner"], await ErrorFieldsAsync(noView));
        Assert.Contains("user:bob has no View permission on /hr", await noView.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        using var unknown = await hr.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:nobody" }, Ct);
        Assert.Equal(["owner"], await ErrorFieldsAsync(unknown));
        using var bad = await hr.PostAsJsonAsync("api/v1/subscriptions", new
        {
            scope = "/hr", owner = "user:alice", frequency = "daily", pathPrefixes = new[] { "docs" },
            conditions = new[] { new { field = "status", @operator = "like", values = new[] { "x" } } },
        }, Ct);
        Assert.Equal(["at", "conditions[0].operator", "pathPrefixes[0]"], await ErrorFieldsAsync(bad));
        using var foreign = await finance.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:alice" }, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);

        using var personal = await hr.PostAsJsonAsync("api/v1/subscriptions", new
        {
            id = "alice-docs", scope = "/hr", owner = "user:alice", eventTypes = new[] { "item.changed" }, pathPrefixes = new[] { "/Shared Documents" },
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, personal.StatusCode);
        using var group = await hr.PostAsJsonAsync("api/v1/subscriptions", new { id = "team-all", scope = "/hr", owner = "group:team", frequency = "weekly", at = "08:30", day = "friday" }, Ct);
        var groupView = JsonDocument.Parse(await group.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(("weekly", "08:30", "friday"), (groupView.GetProperty("frequency").GetString(), groupView.GetProperty("at").GetString(), groupView.GetProperty("day").GetString()));
        using var optOut = await hr.PutAsync(new Uri("api/v1/subscriptions/team-all/opt-outs/carol", UriKind.Relative), null, Ct);
        Assert.Equal(HttpStatusCode.NoContent, optOut.StatusCode);
        using var notMember = await hr.PutAsync(new Uri("api/v1/subscriptions/team-all/opt-outs/bob", UriKind.Relative), null, Ct);
        Assert.Equal(["userId"], await ErrorFieldsAsync(notMember));
        using var ownOptOut = await hr.PutAsync(new Uri("api/v1/subscriptions/alice-docs/opt-outs/alice", UriKind.Relative), null, Ct);
        Assert.Equal(["id"], await ErrorFieldsAsync(ownOptOut));
        var mine = JsonDocument.Parse(await hr.GetStringAsync(new Uri("api/v1/subscriptions?owner=user:alice", UriKind.Relative), Ct)).RootElement;
        Assert.Equal(["alice-docs"], mine.EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        Assert.Empty(JsonDocument.Parse(await finance.GetStringAsync(new Uri("api/v1/subscriptions", UriKind.Relative), Ct)).RootElement.EnumerateArray());

        using var posted = await hr.PostAsJsonAsync("api/v1/events", new
        {
            id = "doc-1", type = "item.changed", scope = "/hr", resourcePath = "/Shared Documents/policy.docx", title = "Policy changed",
        }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        var sent = await node.WaitForOutboxAsync(1);
        Assert.Equal([("alice@example.com", "item.changed: Policy changed")], sent);

        using var deleted = await hr.DeleteAsync(new Uri("api/v1/subscriptions/alice-docs", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await hr.GetAsync(new Uri("api/v1/subscriptions/alice-docs", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    private static async Task<string[]> ErrorFieldsAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
    }

    private sealed class InProcessNode : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly HeraldDatabase _database;
        private readonly string _dataDirectory;

        private InProcessNode(WebApplication app, HeraldDatabase database, string dataDirectory, FakeDirectory directory)
        {
            (_app, _database, _dataDirectory, Directory) = (app, database, dataDirectory, directory);
        }

        public FakeDirectory Directory { get; }

        public static async Task<InProcessNode> StartAsync()
        {
            var dataDirectory = System.IO.Directory.CreateTempSubdirectory("herald-subscriptions-api-").FullName;
            var database = HeraldDatabases.Open(null, dataDirectory);
            await database.MigrateAsync(Ct);
            var directory = new FakeDirectory();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var console = new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, _ => null, false);
            builder.Services.AddHeraldNode(dataDirectory, database, console);
            builder.Services.AddSingleton(new NodeIdentity("in-process", []));
            builder.Services.AddSingleton<IDirectory>(directory);
            builder.Services.AddSingleton<INotificationTemplates, FakeTemplates>();
            builder.Services.AddSingleton<IUnsubscribeLinks, FakeUnsubscribeLinks>();
            builder.Services.AddSingleton<IDigestInbox, RecordingDigestInbox>();
            builder.Services.Configure<Herald.Notifications.NotificationOptions>(o => o.PollInterval = TimeSpan.FromMilliseconds(100));
            builder.Services.AddHostedService<NotificationEngine>();
            builder.Services.AddHeraldWeb();
            // /metrics (mapped with the API) is OpenTelemetry's exporter, as serve composes it.
            builder.Services.AddHeraldTelemetry(builder.Configuration, "in-process");
            var app = builder.Build();
            var settings = app.Services.GetRequiredService<ISettingsStore>();
            await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
            await settings.AddScopeAsync(ScopePath.Parse("/finance"), Ct);
            await settings.SaveOutgoingAsync(
                new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default", FromAddress = EmailAddress.Parse("herald@example.org") },
                new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "127.0.0.1", Port = 9, Security = SmtpSecurity.None },
                Ct);
            app.MapHeraldApi();
            await app.StartAsync(Ct);
            return new InProcessNode(app, database, dataDirectory, directory);
        }

        public async Task<HttpClient> ClientAsync(string scope, ApiKeyRole role)
        {
            var created = await _app.Services.GetRequiredService<ApiKeyService>().CreateAsync(Caller.Operator, scope, ApiKeyRoleNames.Values.NameOf(role), "test", Ct);
            Assert.Null(created.Refusal);
            var token = created.Value!.Token;
            var client = new HttpClient { BaseAddress = new Uri(_app.Urls.First() + "/") };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return client;
        }

        public async Task<(string Address, string Subject)[]> WaitForOutboxAsync(int count)
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (true)
            {
                await using var connection = await _database.OpenAsync(Ct);
                var rows = (await connection.QueryAsync<(string Address, byte[] Mime)>(
                    "SELECT r.address, m.mime FROM messages m JOIN recipients r ON r.message_id = m.id ORDER BY r.address")).ToArray();
                if (rows.Length >= count || DateTime.UtcNow > deadline)
                {
                    // A little longer, to see that nothing more arrives than expected.
                    await Task.Delay(300, Ct);
                    rows = (await connection.QueryAsync<(string Address, byte[] Mime)>(
                        "SELECT r.address, m.mime FROM messages m JOIN recipients r ON r.message_id = m.id ORDER BY r.address")).ToArray();
                    return rows.Select(r => (r.Address, MimeKit.MimeMessage.Load(new MemoryStream(r.Mime)).Subject ?? "")).ToArray();
                }

                await Task.Delay(100, Ct);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
            if (_database is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }

            try
            {
                System.IO.Directory.Delete(_dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Left to the OS's temporary-file clean-up.
            }
        }
    }
}
