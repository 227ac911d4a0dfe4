using System.Collections.Concurrent;
using Dapper;
using Herald.Credentials;
using Herald.Delivery;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage;
using Herald.Storage.Database;
using Herald.Work;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Tests.Outbox;

/// <summary>An SMTP upstream in memory: it records each transaction and answers as told (250 to
/// every recipient unless <see cref="Reply"/> says otherwise). Every test that uses it has an
/// integration twin against Postfix's smtp-sink (tests/Herald.IntegrationTests).</summary>
internal sealed class RecordingPool : IDeliveryPool
{
    public ConcurrentQueue<DeliveryRequest> Sent { get; } = new();

    public Func<DeliveryRequest, Task<DeliveryResult>> Reply { get; set; } = request => Task.FromResult(Accepted(request));

    public static DeliveryResult Accepted(DeliveryRequest request) =>
        new(request.Recipients.Select(r => new RecipientResult(r, RecipientOutcome.Sent, new SmtpReplyText(250, "2.0.0", "Ok: queued"), "")).ToArray(), null, null, "");

    public async Task<DeliveryResult> SendAsync(DeliveryRequest request, CancellationToken cancellationToken)
    {
        var result = await Reply(request);
        Sent.Enqueue(request);
        return result;
    }

    /// <summary>Probes answer as a transaction would fail or not: a probe gets as far as <see cref="Reply"/>'s stage.</summary>
    public async Task<DeliveryResult> ProbeAsync(OpenedConnection connection, CancellationToken cancellationToken)
    {
        var result = await Reply(new DeliveryRequest(connection, new MimeKit.MimeMessage(), "probe@example.org", []));
        return result.FailedAt is DeliveryStage.Connect or DeliveryStage.Tls or DeliveryStage.Authenticate ? new DeliveryResult([], result.FailedAt, result.Failure, "") : new DeliveryResult([], null, null, "");
    }
}

/// <summary>One node's delivery on a real SQLite database (scope / sending through connection
/// 'default'), with an upstream in memory and the given clock.</summary>
internal sealed class DeliveryNode : IAsyncDisposable
{
    private readonly string _directory;

    private DeliveryNode(string directory, ServiceProvider services)
    {
        _directory = directory;
        Services = services;
    }

    public ServiceProvider Services { get; }

    public RecordingPool Pool => (RecordingPool)Services.GetRequiredService<IDeliveryPool>();

    public IOutboxStore Outbox => Services.GetRequiredService<IOutboxStore>();

    public HeraldDatabase Database => Services.GetRequiredService<HeraldDatabase>();

    public static async Task<DeliveryNode> StartAsync(TimeProvider time, Action<DeliveryOptions>? delivery = null, Action<WorkOptions>? work = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Path.Combine(Path.GetTempPath(), "herald-delivery-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var database = HeraldDatabases.Open(null, directory);
        var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddSingleton(time)
            .AddHeraldCore(new NodePassphrase(null, Path.Combine(directory, "no-key")))
            .AddHeraldStorage(database)
            .AddSingleton<IDeliveryPool, RecordingPool>()
            .AddSingleton(new NodeIdentity("node-a", []))
            .AddSingleton(new MessageSpool(Path.Combine(directory, MessageSpool.DirectoryName)))
            .Configure<DeliveryOptions>(o =>
            {
                o.Concurrency = 2;
                o.PollInterval = TimeSpan.FromMilliseconds(20);
                delivery?.Invoke(o);
            })
            .Configure<WorkOptions>(o => work?.Invoke(o))
            .BuildServiceProvider();
        await database.MigrateAsync(ct);
        await services.GetRequiredService<ISettingsStore>().SaveOutgoingAsync(
            new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default", FromAddress = EmailAddress.Parse("herald@example.org") },
            new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "127.0.0.1", Security = SmtpSecurity.None },
            ct);
        return new DeliveryNode(directory, services);
    }

    public DeliveryWorker Worker() => ActivatorUtilities.CreateInstance<DeliveryWorker>(Services);

    /// <summary>A message stored unleased, due at <paramref name="at"/>, with the given MIME.</summary>
    public async Task<string> StoreAsync(string id, DateTimeOffset at, byte[]? mime = null, params string[] to)
    {
        var message = new NewMessage(
            id, ScopePath.Root, MessageSource.Api, "herald@example.org", "default", $"<{id}@example.org>",
            mime ?? System.Text.Encoding.ASCII.GetBytes($"Message-ID: <{id}@example.org>\r\nSubject: {id}\r\n\r\nBody of {id}.\r\n"),
            to.Length == 0 ? ["a@example.org"] : to, null, at, at + TimeSpan.FromDays(5));
        await Outbox.EnqueueAsync([message], TestContext.Current.CancellationToken);
        return id;
    }

    public async Task<(string State, long Failures, string? LastError, string? LeaseOwner, long? LeaseUntil)> RowAsync(string id)
    {
        await using var connection = await Database.OpenAsync(TestContext.Current.CancellationToken);
        return await connection.QuerySingleAsync<(string, long, string?, string?, long?)>(
            "SELECT state, failures, last_error, lease_owner, lease_until FROM messages WHERE id = @id", new { id });
    }

    public async Task<string[]> RecipientStatesAsync(string id)
    {
        await using var connection = await Database.OpenAsync(TestContext.Current.CancellationToken);
        return (await connection.QueryAsync<string>("SELECT state FROM recipients WHERE message_id = @id ORDER BY ordinal", new { id })).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await Services.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A pooled SQLite handle; the OS cleans temporary files.
        }
    }
}

internal static class NoLog
{
    public static NullLogger<T> For<T>() => NullLogger<T>.Instance;
}
