using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using StandardWebhooks;

namespace Herald.IntegrationTests.Webhooks;

/// <summary>One delivery as the receiver saw it: its headers' id, its payload, and whether an
/// independent Standard Webhooks implementation (the StandardWebhooks package) accepted its signature.</summary>
internal sealed record ReceivedWebhook(string Id, string Type, JsonElement Data, bool Verified, string? Problem)
{
    public string? MessageId => Data.TryGetProperty("messageId", out var id) ? id.GetString() : null;
}

/// <summary>
/// A producer's webhook receiver: Kestrel on loopback, verifying every request's signature with the
/// secret Herald gave at creation. It can be stopped (connections refused) and started again on
/// the same port, as a receiver that is down for a while.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private WebApplication? _app;

    private WebhookReceiver(int port) => Port = port;

    public int Port { get; private set; }

    public Uri Url => new($"http://127.0.0.1:{Port}/hook");

    /// <summary>The endpoint's secret, as Herald showed it once.</summary>
    public string? Secret { get; set; }

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver(0);
        await receiver.StartAgainAsync();
        return receiver;
    }

    public async Task StartAgainAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port));
        var app = builder.Build();
        app.MapPost("/hook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            string? problem = null;
            try
            {
                new StandardWebhook(Secret ?? throw new InvalidOperationException("no secret yet")).Verify(body, context.Request.Headers);
            }
            catch (Exception ex)
            {
                problem = ex.Message;
            }

            var payload = JsonDocument.Parse(body).RootElement.Clone();
            _received.Enqueue(new ReceivedWebhook(
                context.Request.Headers["webhook-id"].ToString(), payload.GetProperty("type").GetString()!, payload.GetProperty("data"), problem is null, problem));
            return Results.Text("thanks");
        });
        await app.StartAsync();
        Port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    /// <summary>Down: the port refuses connections until <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    /// <summary>Waits until what was received satisfies <paramref name="done"/>.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(Func<IReadOnlyList<ReceivedWebhook>, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < deadline)
        {
            var received = Received;
            if (done(received))
            {
                return received;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The receiver got {Received.Count} deliveries: {string.Join(", ", Received.Select(r => $"{r.Type} {r.MessageId}"))}");
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
