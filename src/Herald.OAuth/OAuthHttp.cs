namespace Herald.OAuth;

/// <summary>The HTTP stack every provider's library sends its token requests through: one
/// handler for the node (connections pooled, a timeout per request). Tests give their own handler
/// to see or answer the requests a library makes.</summary>
public sealed class OAuthHttp(HttpMessageHandler handler)
{
    /// <summary>How long one token request may take before the send is deferred.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public OAuthHttp()
        : this(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(10) })
    {
    }

    public HttpMessageHandler Handler { get; } = handler;

    public HttpClient Client() => new(Handler, disposeHandler: false) { Timeout = Timeout };
}
