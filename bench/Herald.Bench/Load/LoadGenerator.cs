using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;

namespace Herald.Bench.Load;

/// <summary>
/// Posts prepared requests to Herald's API, either as fast as a fixed number of requests in flight
/// allows (closed loop: throughput) or at a fixed rate regardless of how fast Herald answers
/// (open loop: latency under a given load).
/// </summary>
internal sealed class LoadGenerator(HttpClient http, Uri endpoint, string apiKey)
{
    /// <summary>Closed loop: <paramref name="concurrency"/> workers each send the next request as
    /// soon as their previous one is answered. Latency is from sending to the answer.</summary>
    public async Task<LoadResult> RunClosedLoopAsync(IReadOnlyList<ApiRequest> requests, int concurrency, CancellationToken cancellationToken)
    {
        var recorder = new LoadRecorder(requests.Count);
        var next = -1;
        async Task WorkAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests.Count)
            {
                await SendAsync(requests[i], Stopwatch.GetTimestamp(), recorder, cancellationToken);
            }
        }

        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, requests.Count)).Select(_ => Task.Run(WorkAsync, cancellationToken)));
        return recorder.Finish(started, dispatchLag: TimeSpan.Zero);
    }

    /// <summary>
    /// Open loop: request i is due at start + i / <paramref name="perSecond"/> and is sent then,
    /// whether or not earlier ones were answered. Its latency counts from when it was due, so a
    /// stalled server shows as latency instead of quietly lowering the offered rate (no
    /// coordinated omission); the largest delay between due and sent is reported as dispatch lag.
    /// </summary>
    public async Task<LoadResult> RunOpenLoopAsync(IReadOnlyList<ApiRequest> requests, double perSecond, CancellationToken cancellationToken)
    {
        var recorder = new LoadRecorder(requests.Count);
        var inFlight = new Task[requests.Count];
        var halfMillisecond = Stopwatch.Frequency / 2000;
        long maxLag = 0;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < requests.Count; i++)
        {
            var due = started + (long)(i * (Stopwatch.Frequency / perSecond));
            var early = due - Stopwatch.GetTimestamp();
            if (early > halfMillisecond)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)early / Stopwatch.Frequency), cancellationToken);
            }

            maxLag = Math.Max(maxLag, Stopwatch.GetTimestamp() - due);
            inFlight[i] = SendAsync(requests[i], due, recorder, cancellationToken);
        }

        await Task.WhenAll(inFlight);
        return recorder.Finish(started, TimeSpan.FromSeconds((double)maxLag / Stopwatch.Frequency));
    }

    private async Task SendAsync(ApiRequest request, long startedAt, LoadRecorder recorder, CancellationToken cancellationToken)
    {
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(request.Body) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                recorder.Accepted(request.Messages, startedAt, Stopwatch.GetTimestamp());
            }
            else
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                recorder.Failed(request.Messages, $"HTTP {(int)response.StatusCode} {(body.Length > 200 ? body[..200] + "…" : body)}");
            }
        }
        catch (HttpRequestException e)
        {
            recorder.Failed(request.Messages, e.Message);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            recorder.Failed(request.Messages, $"no answer within {http.Timeout.TotalSeconds:0} s");
        }
    }
}

/// <summary>What a load run saw from the client side.</summary>
/// <param name="Started">Stopwatch timestamp of the first request.</param>
/// <param name="LastAnswer">Stopwatch timestamp of the last successful answer (or <paramref name="Started"/>).</param>
/// <param name="Latencies">Sorted latencies of the successful requests, in milliseconds.</param>
/// <param name="Failures">Each distinct failure (HTTP status and body, or error) and how many messages it hit.</param>
/// <param name="DispatchLag">Open loop only: the most a request left after it was due.</param>
internal sealed record LoadResult(
    int Requests, int MessagesAccepted, int MessagesFailed, long Started, long LastAnswer, double[] Latencies,
    IReadOnlyDictionary<string, int> Failures, TimeSpan DispatchLag)
{
    public double? LatencyPercentile(double percentile) => Percentiles.NearestRank(Latencies, percentile);
}

/// <summary>Collects answers from many concurrent requests.</summary>
internal sealed class LoadRecorder(int capacity)
{
    private readonly double[] _latencies = new double[capacity];
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private int _answered = -1;
    private int _accepted;
    private int _failed;
    private int _requests;
    private long _lastAnswer;

    public void Accepted(int messages, long startedAt, long answeredAt)
    {
        Interlocked.Increment(ref _requests);
        _latencies[Interlocked.Increment(ref _answered)] = (answeredAt - startedAt) * 1000.0 / Stopwatch.Frequency;
        Interlocked.Add(ref _accepted, messages);
        long last;
        while (answeredAt > (last = Interlocked.Read(ref _lastAnswer)) && Interlocked.CompareExchange(ref _lastAnswer, answeredAt, last) != last)
        {
            // Another answer raced this one; compare again.
        }
    }

    public void Failed(int messages, string reason)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _failed, messages);
        _failures.AddOrUpdate(reason, messages, (_, count) => count + messages);
    }

    public LoadResult Finish(long started, TimeSpan dispatchLag)
    {
        var latencies = _latencies[..(_answered + 1)];
        Array.Sort(latencies);
        return new LoadResult(
            _requests, _accepted, _failed, started, Math.Max(started, Interlocked.Read(ref _lastAnswer)), latencies,
            _failures.ToDictionary(StringComparer.Ordinal), dispatchLag);
    }
}

internal static class Percentiles
{
    /// <summary>The nearest-rank percentile of sorted values (p in 0–100); null when there are none.</summary>
    public static double? NearestRank(double[] sorted, double percentile) =>
        sorted.Length == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(percentile / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
}
