using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Herald.IntegrationTests.Outbox;

/// <summary>
/// Producers submitting a steady stream of messages through <c>POST /api/v1/messages</c> from a
/// few concurrent loops, as applications do. A message counts as acknowledged only once its 202
/// and its id arrived; while a node is down its requests fail, and those messages are simply not
/// acknowledged (a message stored just before a crash may then still be sent, unacknowledged).
/// </summary>
internal sealed class SubmissionLoad : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, string> _acknowledged = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _acknowledgedBy = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _unexpected = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<long, Target> _target;
    private readonly string _apiKey;
    private readonly TimeSpan _pause;
    private readonly Task[] _loops;
    private long _sequence;
    private long _failed;

    private SubmissionLoad(int clients, TimeSpan pause, string apiKey, Func<long, Target> target)
    {
        _apiKey = apiKey;
        _pause = pause;
        _target = target;
        _loops = Enumerable.Range(0, clients).Select(_ => Task.Run(LoopAsync)).ToArray();
    }

    /// <summary>Where request number n goes: a node's name and its base address.</summary>
    public sealed record Target(string Node, Uri BaseAddress);

    /// <summary>Acknowledged message ids, each with the node that acknowledged it.</summary>
    public IReadOnlyDictionary<string, string> Acknowledged => _acknowledged;

    /// <summary>Requests that got no 202: refused connections, resets, timeouts, 503s.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Answers no crash explains (anything but 202 and 503), for the test to fail on.</summary>
    public IReadOnlyCollection<string> Unexpected => _unexpected;

    /// <summary>Starts <paramref name="clients"/> loops, each pausing <paramref name="pause"/>
    /// between requests so that the stream stays steady rather than as fast as possible.</summary>
    public static SubmissionLoad Start(int clients, TimeSpan pause, string apiKey, Func<long, Target> target) => new(clients, pause, apiKey, target);

    /// <summary>How many messages <paramref name="node"/> acknowledged so far.</summary>
    public int AcknowledgedBy(string node) => _acknowledgedBy.GetValueOrDefault(node);

    /// <summary>Returns once <paramref name="node"/> has acknowledged at least
    /// <paramref name="count"/> messages in all: the test moves on by progress, not by the clock.</summary>
    public async Task WaitUntilAcknowledgedAsync(string node, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (AcknowledgedBy(node) < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{node} acknowledged {AcknowledgedBy(node)} of {count} message(s) in 60 s; unexpected answers: {string.Join("; ", _unexpected.Take(5))}");
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
        while (!_stop.IsCancellationRequested)
        {
            var n = Interlocked.Increment(ref _sequence);
            var target = _target(n);
            var message = new { scope = "/", to = new[] { $"r{n}@example.org" }, subject = $"Load {n}", text = $"Message {n} of a steady stream." };
            try
            {
                using var response = await http.PostAsJsonAsync(new Uri(target.BaseAddress, "api/v1/messages"), message, _stop.Token);
                var body = await response.Content.ReadAsStringAsync(_stop.Token);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    _acknowledged[JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!] = target.Node;
                    _acknowledgedBy.AddOrUpdate(target.Node, 1, (_, count) => count + 1);
                    await Task.Delay(_pause, CancellationToken.None);
                    continue;
                }

                if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                {
                    _unexpected.Enqueue($"{target.Node}: {(int)response.StatusCode} {body}");
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or JsonException)
            {
                // The node is down, was killed mid-request or is starting: not acknowledged.
            }

            Interlocked.Increment(ref _failed);
            if (!_stop.IsCancellationRequested)
            {
                await Task.Delay(50, CancellationToken.None);
            }
        }
    }
}
