using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Herald.Bench.Load;

namespace Herald.Bench.Tests;

/// <summary>The load generator against an in-memory API: what it sends and how many at once,
/// never how fast.</summary>
public sealed class LoadGeneratorTests
{
    private static readonly Uri Endpoint = new("http://127.0.0.1:1/api/v1/messages");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Answers like Herald's API; counts requests in flight; can hold answers back.</summary>
    private sealed class FakeApi(Func<int, HttpStatusCode>? status = null) : HttpMessageHandler
    {
        private int _inFlight;
        private int _arrived;

        public ConcurrentBag<string> Bodies { get; } = [];

        public ConcurrentBag<string?> Authorizations { get; } = [];

        public int MaxInFlight;

        /// <summary>Answers wait for this; set from the start unless a test holds them.</summary>
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<int> Arrived(int count)
        {
            var arrived = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, arrived));
            return arrived;
        }

        private readonly ConcurrentBag<(int Count, TaskCompletionSource<int> Arrived)> _waiters = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var inFlight = Interlocked.Increment(ref _inFlight);
            int max;
            while (inFlight > (max = Volatile.Read(ref MaxInFlight)) && Interlocked.CompareExchange(ref MaxInFlight, inFlight, max) != max)
            {
            }

            Bodies.Add(await request.Content!.ReadAsStringAsync(cancellationToken));
            Authorizations.Add(request.Headers.Authorization?.ToString());
            var number = Interlocked.Increment(ref _arrived);
            foreach (var waiter in _waiters.Where(w => number >= w.Count))
            {
                waiter.Arrived.TrySetResult(number);
            }

            await Release.Task.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref _inFlight);
            var code = status?.Invoke(number) ?? HttpStatusCode.Accepted;
            return new HttpResponseMessage(code) { Content = new StringContent(code == HttpStatusCode.Accepted ? "{\"id\":\"m\"}" : "{\"title\":\"no\"}", Encoding.UTF8, "application/json") };
        }
    }

    [Fact]
    public async Task Closed_loop_sends_every_request_once_and_never_more_than_the_concurrency_at_a_time()
    {
        using var api = new FakeApi();
        api.Release.SetResult();
        using var http = new HttpClient(api);
        var requests = new Messages("a", 1024).Requests(0, 200, 1);

        var result = await new LoadGenerator(http, Endpoint, "key-1").RunClosedLoopAsync(requests, 8, Token);

        Assert.Equal(200, result.MessagesAccepted);
        Assert.Equal(0, result.MessagesFailed);
        Assert.Equal(200, result.Latencies.Length);
        Assert.InRange(api.MaxInFlight, 1, 8);
        var subjects = api.Bodies.Select(b => JsonDocument.Parse(b).RootElement.GetProperty("subject").GetString()).ToHashSet();
        Assert.Equal(200, subjects.Count);
        Assert.All(api.Authorizations, a => Assert.Equal("Bearer key-1", a));
    }

    [Fact]
    public async Task Open_loop_keeps_sending_while_earlier_requests_are_unanswered()
    {
        using var api = new FakeApi();
        using var http = new HttpClient(api) { Timeout = Timeout.InfiniteTimeSpan };
        var requests = new Messages("b", 1024).Requests(0, 50, 1);
        var allArrived = api.Arrived(50);

        // Nothing is answered until all 50 have arrived: a closed loop would wait forever here.
        var run = new LoadGenerator(http, Endpoint, "key").RunOpenLoopAsync(requests, 1000, Token);
        Assert.Equal(50, await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(60), Token));
        api.Release.SetResult();
        var result = await run;

        Assert.Equal(50, result.MessagesAccepted);
        Assert.Equal(50, api.MaxInFlight);
    }

    [Fact]
    public async Task Refused_requests_are_counted_with_their_status_and_kept_out_of_the_latencies()
    {
        using var api = new FakeApi(n => n % 2 == 0 ? HttpStatusCode.ServiceUnavailable : HttpStatusCode.Accepted);
        api.Release.SetResult();
        using var http = new HttpClient(api);
        var requests = new Messages("a", 256).Requests(0, 20, 1);

        var result = await new LoadGenerator(http, Endpoint, "key").RunClosedLoopAsync(requests, 1, Token);

        Assert.Equal(10, result.MessagesAccepted);
        Assert.Equal(10, result.MessagesFailed);
        Assert.Equal(10, result.Latencies.Length);
        var failure = Assert.Single(result.Failures);
        Assert.StartsWith("HTTP 503 ", failure.Key, StringComparison.Ordinal);
        Assert.Equal(10, failure.Value);
    }

    [Fact]
    public void Percentiles_are_nearest_rank()
    {
        double[] sorted = [.. Enumerable.Range(1, 100).Select(i => (double)i)];

        Assert.Equal(50, Percentiles.NearestRank(sorted, 50));
        Assert.Equal(99, Percentiles.NearestRank(sorted, 99));
        Assert.Equal(100, Percentiles.NearestRank(sorted, 100));
        Assert.Equal(7, Percentiles.NearestRank([7], 99));
        Assert.Null(Percentiles.NearestRank([], 50));
    }
}
