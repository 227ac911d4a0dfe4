using System.Net;
using System.Text.RegularExpressions;

namespace Herald.IntegrationTests.SelfService;

/// <summary>What a person's browser does on the self-service pages: keeps cookies, follows no
/// redirect on its own, and posts forms with the anti-forgery token of the page they are on.</summary>
internal static partial class PersonBrowser
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static HttpClient Open(Uri baseAddress) =>
        new(new SocketsHttpHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Opens <paramref name="page"/> and posts to <paramref name="action"/> (the page itself
    /// unless said) with that page's anti-forgery token and the fields.</summary>
    public static async Task<HttpResponseMessage> PostFormAsync(HttpClient browser, string page, string? action, params (string Name, string Value)[] fields)
    {
        var html = await browser.GetStringAsync(new Uri(page, UriKind.RelativeOrAbsolute), Ct);
        return await PostWithTokenAsync(browser, action ?? page, Token(html), fields);
    }

    public static async Task<HttpResponseMessage> PostWithTokenAsync(HttpClient browser, string action, string token, params (string Name, string Value)[] fields)
    {
        using var form = new FormUrlEncodedContent(
            [new("__RequestVerificationToken", token), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
        return await browser.PostAsync(new Uri(action, UriKind.RelativeOrAbsolute), form, Ct);
    }

    /// <summary>The anti-forgery token of a page (the sign-in link page has one for anyone).</summary>
    public static async Task<string> TokenAsync(HttpClient browser, string page = "signin/link") =>
        Token(await browser.GetStringAsync(new Uri(page, UriKind.Relative), Ct));

    public static string Token(string html)
    {
        var match = AntiforgeryToken().Match(html);
        Assert.True(match.Success, "The page has no anti-forgery token:\n" + html);
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    /// <summary>The link a text body gives after <paramref name="label"/> ("Manage your alerts: ").</summary>
    public static Uri LinkAfter(string? text, string label)
    {
        var match = Regex.Match(text ?? "", Regex.Escape(label) + @"(\S+)");
        Assert.True(match.Success, $"No '{label}' in:\n{text}");
        return new Uri(match.Groups[1].Value);
    }

    /// <summary>The first link in a text body whose path starts with <paramref name="path"/>.</summary>
    public static Uri LinkTo(string? text, string path)
    {
        var match = Regex.Match(text ?? "", @"https?://[^\s/]+" + Regex.Escape(path) + @"\S+");
        Assert.True(match.Success, $"No link to {path} in:\n{text}");
        return new Uri(match.Value);
    }

    /// <summary>Whether the browser holds a session: its own page answers, rather than sending it to sign in.</summary>
    public static async Task<bool> SignedInAsync(HttpClient browser)
    {
        using var me = await browser.GetAsync(new Uri("me", UriKind.Relative), Ct);
        return me.StatusCode == HttpStatusCode.OK;
    }

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
