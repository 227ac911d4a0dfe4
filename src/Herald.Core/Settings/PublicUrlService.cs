using System.Net;
using Herald.Access;
using Herald.Notifications;
using Microsoft.Extensions.Options;

namespace Herald.Settings;

/// <summary>Where <see cref="PublicUrlService.Current"/> comes from.</summary>
public enum PublicUrlSource
{
    /// <summary>Stored with <c>herald settings set public-url</c>, the console or the API: every node and the CLI use it.</summary>
    Stored,

    /// <summary>This process's <c>Notifications:PublicBaseUrl</c>, or serve's first <c>--urls</c> entry.</summary>
    Node,
}

/// <summary>The public URL as shown: the value, where it comes from, and a warning when recipients cannot open it.</summary>
public sealed record PublicUrlView(string Url, PublicUrlSource Source, string? Warning);

/// <summary>
/// The address recipients reach Herald at from their mail client — links in mail (unsubscribe)
/// start with it. A stored setting, so that every node and the CLI (a notification queued by
/// <c>herald rule test</c>) write the same links; until it is stored, each process uses its own
/// configuration, which on a default install is a loopback address nobody else can open.
/// </summary>
public sealed class PublicUrlService(IServiceSettingsStore store, IOptions<NotificationOptions> options, TimeProvider time)
{
    public const string SettingName = "public_url";

    /// <summary>Longest URL accepted: links are written into every notification.</summary>
    public const int MaxLength = 500;

    /// <summary>How long a node trusts what it read: another node's change reaches it within this.</summary>
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);

    private (string? Stored, DateTimeOffset ReadAt)? _cache;

    /// <summary>The base URL links start with, without a trailing '/'. Read for every link a
    /// notification carries: the stored value from the cache, nothing parsed.</summary>
    public async ValueTask<string> GetBaseUrlAsync(CancellationToken cancellationToken) =>
        await GetStoredAsync(cancellationToken).ConfigureAwait(false) ?? options.Value.BaseUrl;

    public async ValueTask<PublicUrlView> ShowAsync(CancellationToken cancellationToken)
    {
        var view = await GetStoredAsync(cancellationToken).ConfigureAwait(false) is { } stored
            ? new PublicUrlView(stored, PublicUrlSource.Stored, null)
            : new PublicUrlView(options.Value.BaseUrl, PublicUrlSource.Node, null);
        return view with { Warning = WarningFor(view) };
    }

    private async ValueTask<string?> GetStoredAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_cache is not { } cached || now - cached.ReadAt >= CacheLifetime)
        {
            cached = (await store.GetAsync(SettingName, cancellationToken).ConfigureAwait(false), now);
            _cache = cached;
        }

        return cached.Stored;
    }

    /// <summary>The public URL as an administrator sees it (any administrator: it is in every mail anyway).</summary>
    public async Task<Result<PublicUrlView>> ShowAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.IsAdministrator
            ? await ShowAsync(cancellationToken).ConfigureAwait(false)
            : Refusal.NotAllowed($"{caller.Description} may not read the service's settings: it is not an administrator.");
    }

    /// <summary>Stores the public URL for every node; null or empty removes it (each node then uses its own configuration).
    /// Only administrators of <c>/</c>: the links of every scope's mail start with it.</summary>
    public async Task<Result<PublicUrlView>> SetAsync(Caller caller, string? url, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.RefuseUnlessAdministers(Scopes.ScopePath.Root, "change the public URL") is { } refusal)
        {
            return refusal;
        }

        string? normalized = null;
        if (!string.IsNullOrWhiteSpace(url))
        {
            if (Problem(url) is { } problem)
            {
                return Refusal.Invalid("publicUrl", problem);
            }

            normalized = Normalize(url);
        }

        await store.SetAsync(SettingName, normalized, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _cache = null;
        return await ShowAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Null when <paramref name="url"/> can be the public URL; otherwise the sentence that says why not.</summary>
    public static string? Problem(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var shown = url.Length > 80 ? url[..80] + "…" : url;
        if (url.Length > MaxLength)
        {
            return $"The public URL is {url.Length} characters long; at most {MaxLength} are allowed.";
        }

        return CanStartLinks(url)
            ? null
            : $"The public URL must be an absolute http or https address without query, fragment or user name, such as https://herald.example.org, not '{shown}'.";
    }

    /// <summary>Whether links can start with <paramref name="url"/>: an absolute http or https
    /// address without query, fragment or user name (which every mail would carry). The one rule
    /// for the stored URL and for <see cref="NotificationOptions.PublicBaseUrl"/>.</summary>
    public static bool CanStartLinks(string url) =>
        Uri.TryCreate(url.Trim(), UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https"
        && string.IsNullOrEmpty(parsed.Query) && string.IsNullOrEmpty(parsed.Fragment) && string.IsNullOrEmpty(parsed.UserInfo);

    private static string Normalize(string url) => new Uri(url.Trim(), UriKind.Absolute).GetLeftPart(UriPartial.Path).TrimEnd('/');

    /// <summary>A sentence when recipients on other machines cannot open links that start with the URL.</summary>
    private static string? WarningFor(PublicUrlView view)
    {
        if (!Uri.TryCreate(view.Url, UriKind.Absolute, out var url) || !IsLoopback(url.Host))
        {
            return null;
        }

        return view.Source == PublicUrlSource.Stored
            ? $"The public URL {view.Url} is a loopback address: links in mail work only on this machine. Set the address recipients reach Herald at with 'herald settings set public-url https://herald.example.org'."
            : $"No public URL is set, so links in mail start with {view.Url}, a loopback address recipients cannot open. Set the address they reach Herald at with 'herald settings set public-url https://herald.example.org' (or on the console's Settings page).";
    }

    private static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
