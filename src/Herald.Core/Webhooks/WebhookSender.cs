using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;

namespace Herald.Webhooks;

/// <summary>What one HTTP attempt came to: the receiver's status (null when none came) and the
/// start of its reply, or what went wrong.</summary>
public sealed record WebhookReply(int? Status, string Text)
{
    /// <summary>Any 2xx is delivered (the specification's rule); a redirect is not followed and
    /// counts as a failure, since the signed request was meant for the configured URL.</summary>
    public bool Succeeded => Status is >= 200 and < 300;
}

/// <summary>
/// Posts one signed payload: redirects not followed, the whole attempt bounded by
/// <see cref="WebhookOptions.Timeout"/>, at most <see cref="WebhookOptions.MaxReplyBytes"/> of
/// the reply read. A receiver's failure (no answer, a non-2xx) is an outcome, not an exception.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    /// <summary>Longest reply excerpt kept in the log.</summary>
    public const int MaxExcerpt = 500;

    private readonly HttpClient _http;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;

    public WebhookSender(IOptions<WebhookOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _time = time;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = _options.Timeout,
            MaxConnectionsPerServer = _options.Concurrency,
        })
        {
            // Each attempt has its own time-out token, which also covers reading the reply.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Herald-Webhooks", "1"));
    }

    public async Task<WebhookReply> SendAsync(Uri url, string id, string payload, ReadOnlyMemory<byte> key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        var timestamp = _time.GetUtcNow();
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(WebhookSignature.IdHeader, id);
        request.Headers.Add(WebhookSignature.TimestampHeader, WebhookSignature.Seconds(timestamp));
        request.Headers.Add(WebhookSignature.SignatureHeader, WebhookSignature.Sign(key.Span, id, timestamp, payload));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var text = await ReadStartAsync(response, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                text = $"Redirect to {location} not followed; change the webhook's URL. {text}";
            }

            return new WebhookReply(status, Excerpt(text));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WebhookReply(null, $"No reply within {_options.Timeout.TotalSeconds:0.#} s.");
        }
        catch (HttpRequestException ex)
        {
            return new WebhookReply(null, Excerpt(ex.HttpRequestError is HttpRequestError.Unknown ? ex.Message : $"{ex.HttpRequestError}: {ex.Message}"));
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>At most <see cref="WebhookOptions.MaxReplyBytes"/> of the body: a receiver cannot
    /// make Herald read (or keep) more.</summary>
    private async Task<string> ReadStartAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (_options.MaxReplyBytes == 0)
        {
            return "";
        }

        var buffer = new byte[_options.MaxReplyBytes];
        var read = 0;
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        while (read < buffer.Length)
        {
            var n = await body.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return Encoding.UTF8.GetString(buffer, 0, read);
    }

    private static string Excerpt(string text)
    {
        var line = text.ReplaceLineEndings(" ").Trim();
        line = new string(line.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        return line.Length <= MaxExcerpt ? line : line[..(MaxExcerpt - 1)] + "…";
    }
}
