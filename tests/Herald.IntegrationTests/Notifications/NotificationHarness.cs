using System.Diagnostics.Metrics;
using Dapper;
using Herald.Delivery;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Notifications.FanOut;
using Herald.Notifications.Matching;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Notifications;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;
using Herald.Storage.Suppression;
using Herald.Suppression;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using MimeKit;

namespace Herald.IntegrationTests.Notifications;

/// <summary>The notification engine on a real database and outbox (scopes /, /hr, /hr/payroll,
/// /docs; From herald@example.org), with an in-memory directory, templates, links and digest inbox.</summary>
internal sealed class NotificationHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2031, 3, 4, 9, 0, 0, TimeSpan.Zero);

    private readonly List<IAsyncDisposable> _writers = [];
    private readonly List<NotificationSignal> _signals = [];

    private NotificationHarness(TestDatabase db, FakeTimeProvider time, SqlSettingsStore settings)
    {
        Db = db;
        Time = time;
        Settings = settings;
        Subscriptions = new SqlSubscriptionStore(db.Database);
        Events = new SqlNotificationEventStore(db.Database);
        Explanations = new SqlExplainStore(db.Database);
    }

    public TestDatabase Db { get; }

    public FakeTimeProvider Time { get; }

    public SqlSettingsStore Settings { get; }

    public SqlSubscriptionStore Subscriptions { get; }

    public SqlNotificationEventStore Events { get; }

    public SqlExplainStore Explanations { get; }

    public FakeDirectory Directory { get; } = new();

    public RecordingDigestInbox Digests { get; } = new();

    /// <summary>Every node's notification metrics (what was dropped, and why, is counted here).</summary>
    public NotificationMetrics Metrics { get; } = new(Meters.Factory);

    /// <summary>The failure policy's settings for every node of the harness (three tries, a minute apart).</summary>
    public Herald.Work.WorkOptions Work { get; } = new() { MaxAttempts = 3, RetryDelays = [TimeSpan.FromMinutes(1)] };

    public static Task<NotificationHarness> StartAsync(ImpersonationPolicy impersonation = ImpersonationPolicy.ConfiguredSenderOnly, string engine = TestDatabases.Sqlite) =>
        StartAsync(impersonation, engine, configureSending: true);

    public static async Task<NotificationHarness> StartAsync(ImpersonationPolicy impersonation, string engine, bool configureSending)
    {
        var ct = TestContext.Current.CancellationToken;
        var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(Start);
        var settings = new SqlSettingsStore(db.Database, time);
        foreach (var scope in new[] { "/hr", "/hr/payroll", "/docs", "/docs2" })
        {
            await settings.AddScopeAsync(ScopePath.Parse(scope), ct);
        }

        var harness = new NotificationHarness(db, time, settings);
        if (configureSending)
        {
            await harness.ConfigureSendingAsync(impersonation);
        }

        return harness;
    }

    public Task ConfigureSendingAsync(ImpersonationPolicy impersonation = ImpersonationPolicy.ConfiguredSenderOnly, string? replyTo = null) =>
        Settings.SaveOutgoingAsync(
            new ScopeOutgoingSettings(ScopePath.Root)
            {
                ConnectionId = "default",
                FromAddress = EmailAddress.Parse("herald@example.org"),
                ReplyTo = replyTo is null ? null : EmailAddress.Parse(replyTo),
                Impersonation = impersonation,
            },
            new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "127.0.0.1", Security = SmtpSecurity.None },
            TestContext.Current.CancellationToken);

    /// <summary>A node's engine: its own matcher, mailer and outbox writer, on the shared database.</summary>
    public (NotificationEngine Engine, NotificationMatcher Matcher, NotificationFanOut FanOut) Node(
        string name, TimeSpan? lease = null, INotificationTemplates? templates = null)
    {
        var outboxOptions = Options.Create(new OutboxOptions());
        // No delivery runs here: the room is never opened, so nothing is leased at insert.
        var handoff = new DeliveryCapacity(Options.Create(new DeliveryOptions()), new NodeIdentity(name, []), Time);
        var writer = new OutboxWriter(new SqlOutboxStore(Db.Database, Db.Spool), new OutboxSignal(), handoff, new SuppressionCheck(new SqlSuppressionStore(Db.Database), Time), outboxOptions);
        _writers.Add(writer);
        var mailer = new NotificationMailer(new OutgoingSettingsCache(Settings, Time), writer, handoff, Options.Create(new DeliveryOptions()), outboxOptions, Time);
        var matcher = new NotificationMatcher(Subscriptions, Time);
        var options = Options.Create(new NotificationOptions { Lease = lease ?? TimeSpan.FromMinutes(5), RetryDelay = TimeSpan.FromSeconds(30) });
        var fanOut = new NotificationFanOut(
            Directory, matcher, new SubscriptionRecipients(Subscriptions), Subscriptions, templates ?? new FakeTemplates(), new FakeUnsubscribeLinks(), Digests, mailer,
            Explanations, options, Time);
        var signal = new NotificationSignal();
        _signals.Add(signal);
        var engine = new NotificationEngine(
            Events, matcher, fanOut, new NodeIdentity(name, []), signal, Metrics, options, Options.Create(Work), Time, NullLogger<NotificationEngine>.Instance);
        return (engine, matcher, fanOut);
    }

    public static NotificationEvent Event(string id, string type, string scope, string path, string? actor = null, string? data = null, string title = "Policy updated") =>
        new(id, type, ScopePath.Parse(scope), path, actor, title, "https://portal.example.com/item", data is null ? null : System.Text.Json.JsonDocument.Parse(data).RootElement.Clone(), Start, Start);

    public Subscription Subscription(
        string id, string owner, string scope = "/", EventFilter? filter = null, NotificationFrequency frequency = NotificationFrequency.Immediate, bool excludeActor = false) =>
        new(id, ScopePath.Parse(scope), Principal.TryParse(owner, out var principal, out _) ? principal : throw new ArgumentException(owner), $"Alert {id}",
            filter ?? EventFilter.Everything, new NotificationSchedule(frequency, new TimeOnly(8, 0), DayOfWeek.Monday), excludeActor, Enabled: true, Time.GetUtcNow(), Time.GetUtcNow());

    /// <summary>What the outbox holds: one row per message, with its one recipient and parsed MIME.</summary>
    public async Task<IReadOnlyList<StoredNotification>> OutboxAsync()
    {
        await using var connection = await Db.Database.OpenAsync(TestContext.Current.CancellationToken);
        var rows = await connection.QueryAsync<(string Address, string Source, string EnvelopeSender, byte[] Mime, string? IdempotencyKey)>(
            "SELECT r.address, m.source, m.envelope_sender, m.mime, m.idempotency_key FROM messages m JOIN recipients r ON r.message_id = m.id ORDER BY r.address");
        return rows.Select(r => new StoredNotification(r.Address, r.Source, r.EnvelopeSender, MimeMessage.Load(new MemoryStream(r.Mime)), r.IdempotencyKey)).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var writer in _writers)
        {
            await writer.DisposeAsync();
        }

        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        await Db.DisposeAsync();
    }
}

/// <summary>One meter factory for every harness: the metrics each harness reads are its own object's totals.</summary>
internal static class Meters
{
    public static readonly IMeterFactory Factory = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
}

internal sealed record StoredNotification(string Address, string Source, string EnvelopeSender, MimeMessage Mime, string? IdempotencyKey)
{
    public string Unsubscribe => Mime.Headers["List-Unsubscribe"] ?? "";
}
