using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Herald.Webhooks;

/// <summary>
/// The one rule for where a webhook may point: HTTPS anywhere, or plain HTTP only to this machine
/// (a loopback address or <c>localhost</c>), since a payload and its signature sent in clear over
/// a network can be read and replayed. No credentials in the URL, no fragment.
/// </summary>
public static class WebhookUrl
{
    public const int MaxLength = 2000;

    public static bool TryParse(string? text, [NotNullWhen(true)] out Uri? url, [NotNullWhen(false)] out string? error)
    {
        url = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "The URL is required, e.g. https://app.example.org/herald-events.";
            return false;
        }

        if (text.Length > MaxLength)
        {
            error = $"The URL is at most {MaxLength} characters.";
            return false;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttps && parsed.Scheme != Uri.UriSchemeHttp) || parsed.Host.Length == 0)
        {
            error = "The URL is an absolute https:// address, e.g. https://app.example.org/herald-events.";
            return false;
        }

        if (parsed.UserInfo.Length > 0 || parsed.Fragment.Length > 0)
        {
            error = "The URL carries no user name, password or #fragment; the signature tells the receiver the request is Herald's.";
            return false;
        }

        if (parsed.Scheme == Uri.UriSchemeHttp && !IsLoopback(parsed))
        {
            error = $"A webhook URL is https://, or http:// only to this machine (127.0.0.0/8, ::1, localhost); {parsed.Host} is not, and a signed payload sent in clear over a network can be read and replayed.";
            return false;
        }

        url = parsed;
        error = null;
        return true;
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));
}
