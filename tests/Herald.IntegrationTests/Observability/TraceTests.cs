using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Herald.Cli;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.Outbox;
using Herald.Outbox;
using Herald.Storage.Database;
using Herald.Telemetry;
using Herald.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using static Herald.IntegrationTests.Notifications.ApiReplies;

namespace Herald.IntegrationTests.Observability;

/// <summary>
/// Traces as an operator's collector would get them, read with OpenTelemetry's in-memory exporter
/// from a node composed as <c>herald serve</c> composes it (<see cref="HeraldHost"/>), delivering
/// to Postfix's smtp-sink: a message from the API's POST to the upstream's 250 is one trace, and
/// an event's fan-out continues the trace of the POST that stored it, and its notifications'
/// deliveries continue the fan-out's.
/// </summary>
public sealed class TraceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_message_is_one_trace_from_the_api_post_to_the_upstreams_250()
    {
        using var sink = SmtpSink.Start();
        await using var node = await TracedNode.StartAsync(sink.Port);

        var id = await OutboxNode.SendAsync(node.Http, new { scope = "/", to = new[] { "dana@example.org", "erin@example.org" }, subject = "Traced", text = "Hello." });
        await sink.WaitForAsync(1, Wait);
        var delivery = await node.WaitForSpanAsync(s => s.DisplayName == "deliver" && Equals(s.GetTagItem("herald.message.id"), id));

        // The message was accepted inside the request: its delivery is the request's child.
        var post = node.Spans.Single(s => s.SpanId == delivery.ParentSpanId);
        Assert.Equal(post.TraceId, delivery.TraceId);
        Assert.Equal((ActivityKind.Server, "Microsoft.AspNetCore"), (post.Kind, post.Source.Name));
        Assert.Equal(("POST", "/api/v1/messages", 202), (post.GetTagItem("http.request.method"), post.GetTagItem("url.path"), post.GetTagItem("http.response.status_code")));
        Assert.Equal(HeraldTelemetry.Name, delivery.Source.Name);
        Assert.Equal(ActivityKind.Client, delivery.Kind);
        Assert.Equal(250, delivery.GetTagItem("herald.smtp.reply_code"));
        Assert.Equal("/:default", delivery.GetTagItem("herald.connection"));
        Assert.Equal(2, delivery.GetTagItem("herald.recipients"));
        Assert.Equal(2, delivery.GetTagItem("herald.recipients.sent"));
        Assert.Equal(ActivityStatusCode.Unset, delivery.Status);
    }

    [Fact]
    public async Task An_events_fan_out_continues_the_posts_trace_with_its_counts_and_its_notifications_deliveries_continue_it()
    {
        using var sink = SmtpSink.Start();
        await using var node = await TracedNode.StartAsync(sink.Port);
        await MustAsync(await node.Http.PutAsJsonAsync("api/v1/users/alice", new { name = "alice", email = "alice@example.org", timeZone = "UTC", language = "en" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
        await MustAsync(await node.Http.PutAsJsonAsync("api/v1/access", new { scope = "/hr", principal = "user:alice", level = "view" }, Ct), HttpStatusCode.OK, HttpStatusCode.Created);
        await MustAsync(await node.Http.PostAsJsonAsync("api/v1/subscriptions", new { scope = "/hr", owner = "user:alice", name = "HR now" }, Ct), HttpStatusCode.Created);

        await MustAsync(await node.Http.PostAsJsonAsync("api/v1/events", new { id = "budget-1", type = "item.changed", scope = "/hr", resourcePath = "/sites/hr/Budget.xlsx", actor = "bob@example.org", title = "Budget" }, Ct), HttpStatusCode.Accepted);
        await sink.WaitForAsync(1, Wait);
        var fanOut = await node.WaitForSpanAsync(s => s.DisplayName == "fan-out" && Equals(s.GetTagItem("herald.event.id"), "budget-1"));
        var delivery = await node.WaitForSpanAsync(s => s.DisplayName == "deliver" && s.TraceId == fanOut.TraceId);

        Assert.Equal("/hr", fanOut.GetTagItem("herald.scope"));
        Assert.Equal("item.changed", fanOut.GetTagItem("herald.event.type"));
        Assert.Equal(1, fanOut.GetTagItem("herald.fanout.recipients"));
        Assert.Equal(1, fanOut.GetTagItem("herald.fanout.queued"));
        Assert.Equal(0, fanOut.GetTagItem("herald.fanout.dropped"));
        // The event was stored inside the request: its fan-out, on the engine's loop, is the request's child.
        var post = node.Spans.Single(s => s.SpanId == fanOut.ParentSpanId);
        Assert.Equal(post.TraceId, fanOut.TraceId);
        Assert.Equal(("POST", "/api/v1/events", ActivityKind.Consumer), (post.GetTagItem("http.request.method"), post.GetTagItem("url.path"), fanOut.Kind));
        Assert.Equal(fanOut.SpanId, delivery.ParentSpanId);
        Assert.Equal(250, delivery.GetTagItem("herald.smtp.reply_code"));
    }

    [Fact]
    public async Task A_relayed_message_is_one_trace_from_the_relays_acceptance_to_the_upstreams_250()
    {
        using var sink = SmtpSink.Start();
        await using var node = await TracedNode.StartAsync(sink.Port);

        using (var client = new MailKit.Net.Smtp.SmtpClient())
        {
            await ConnectAsync(client, node.RelayPort);
            var message = new MimeKit.MimeMessage { Subject = "Relayed", Body = new MimeKit.TextPart("plain") { Text = "Hello." } };
            message.From.Add(MimeKit.MailboxAddress.Parse("app@example.org"));
            message.To.Add(MimeKit.MailboxAddress.Parse("dana@example.org"));
            await client.SendAsync(message, Ct);
            await client.DisconnectAsync(quit: true, Ct);
        }

        await sink.WaitForAsync(1, Wait);
        var accept = await node.WaitForSpanAsync(s => s.DisplayName == "relay accept" && s.GetTagItem("herald.relay.client") is "127.0.0.1");
        var delivery = await node.WaitForSpanAsync(s => s.DisplayName == "deliver" && Equals(s.GetTagItem("herald.message.id"), accept.GetTagItem("herald.message.id")));

        Assert.Equal((ActivityKind.Server, 250, 1), (accept.Kind, accept.GetTagItem("herald.smtp.reply_code"), accept.GetTagItem("herald.recipients")));
        Assert.Equal(accept.TraceId, delivery.TraceId);
        Assert.Equal(accept.SpanId, delivery.ParentSpanId);
        Assert.Equal(250, delivery.GetTagItem("herald.smtp.reply_code"));
    }

    /// <summary>The listener starts a moment after the node does.</summary>
    private static async Task ConnectAsync(MailKit.Net.Smtp.SmtpClient client, int port)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try
            {
                await client.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None, Ct);
                return;
            }
            catch (System.Net.Sockets.SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, Ct);
            }
        }
    }


    /// <summary>A node started in process with an in-memory span exporter, its SMTP settings for
    /// <c>/</c> pointing at an upstream, and an administrator key of <c>/</c>.</summary>
    private sealed class TracedNode : IAsyncDisposable
    {
        private readonly HeraldCommandLine _cli;
        private readonly WebApplication _app;
        private readonly SpanList _spans;

        private TracedNode(HeraldCommandLine cli, WebApplication app, SpanList spans, HttpClient http, int relayPort) =>
            (_cli, _app, _spans, Http, RelayPort) = (cli, app, spans, http, relayPort);

        public HttpClient Http { get; }

        /// <summary>The relay listener's port on 127.0.0.1, open to loopback clients without authentication.</summary>
        public int RelayPort { get; }

        /// <summary>The spans ended so far (this process's other nodes' too: find yours by id).</summary>
        public IReadOnlyList<Activity> Spans => _spans.Snapshot();

        public static async Task<TracedNode> StartAsync(int upstreamPort)
        {
            var cli = new HeraldCommandLine();
            await OutboxNode.MustAsync(cli, "smtp", "set", "--server", "127.0.0.1", "--port", $"{upstreamPort}", "--security", "none", "--from", "herald@example.org");
            await OutboxNode.MustAsync(cli, "scope", "add", "/hr");
            var key = (await OutboxNode.MustAsync(cli, "apikey", "create", "--scope", "/", "--role", "admin")).Output.TrimEnd().Split('\n')[^1];
            var relayPort = LoopbackPort.Free();
            await OutboxNode.MustAsync(cli, "relay", "set", "--listen", $"127.0.0.1:{relayPort}", "--scope", "/", "--access", "only-list", "--allow", "127.0.0.0/8", "--auth", "none");
            // Not the implied default listener (127.0.0.1:2525), which another node may hold.
            await cli.RunAsync("relay", "remove", "--listen", "127.0.0.1:2525");
            var spans = new SpanList();
            var console = new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, _ => null, false);
            var (app, problem) = await HeraldHost.StartAsync(
                new HeraldHostOptions(cli.DataDirectory, HeraldDatabases.Open(null, cli.DataDirectory), new NodeIdentity("traced", []), "http://127.0.0.1:0", console)
                {
                    Configure = builder =>
                    {
                        builder.Logging.ClearProviders();
                        // Where an operator's OTEL_EXPORTER_OTLP_ENDPOINT would send them.
                        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddInMemoryExporter(spans));
                    },
                },
                Ct);
            if (app is null)
            {
                cli.Dispose();
                throw new InvalidOperationException("The node did not start: " + problem);
            }

            var http = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            return new TracedNode(cli, app, spans, http, relayPort);
        }

        public async Task<Activity> WaitForSpanAsync(Func<Activity, bool> match)
        {
            var deadline = DateTime.UtcNow + Wait;
            while (true)
            {
                if (Spans.FirstOrDefault(match) is { } span)
                {
                    return span;
                }

                Assert.True(DateTime.UtcNow < deadline, "No such span among: " + string.Join(", ", Spans.Select(s => s.DisplayName)));
                await Task.Delay(50, Ct);
            }
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await _app.DisposeAsync();
            _cli.Dispose();
        }
    }

    /// <summary>The exporter adds from the threads that end spans while the test reads.</summary>
    private sealed class SpanList : Collection<Activity>
    {
        private readonly Lock _lock = new();

        public IReadOnlyList<Activity> Snapshot()
        {
            lock (_lock)
            {
                return [.. Items];
            }
        }

        protected override void InsertItem(int index, Activity item)
        {
            lock (_lock)
            {
                base.InsertItem(index, item);
            }
        }
    }
}
