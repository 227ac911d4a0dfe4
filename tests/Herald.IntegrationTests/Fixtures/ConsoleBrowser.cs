using System.Net;
using System.Text.RegularExpressions;

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// The web console as a browser uses it, over plain HTTP against a real <c>herald serve</c>: one
/// cookie jar, no redirects followed, and forms posted with the anti-forgery token a page of the
/// console carries, so that a post can hold any fields a hand-made request would.
/// </summary>
public sealed partial class ConsoleBrowser : IDisposable
{
    private readonly HttpClient _http;

    private ConsoleBrowser(HeraldServer server) =>
        _http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = server.BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Signs in and fails the test unless the console let the administrator in.</summary>
    public static async Task<ConsoleBrowser> SignInAsync(HeraldServer server, string name, string password)
    {
        var browser = new ConsoleBrowser(server);
        using var signedIn = await browser.PostAsync("/signin", "/signin", ("name", name), ("password", password), ("returnUrl", "/"));
        Assert.True(signedIn.StatusCode == HttpStatusCode.Redirect, $"Sign-in answered {(int)signedIn.StatusCode}:\n{await signedIn.Content.ReadAsStringAsync(Ct)}");
        return browser;
    }

    public async Task<string> GetStringAsync(string path) => await _http.GetStringAsync(new Uri(path, UriKind.Relative), Ct);

    /// <summary>Posts <paramref name="fields"/> to <paramref name="action"/> with the anti-forgery
    /// token of the page at <paramref name="tokenFrom"/> (a token is good for any form of the session).</summary>
    public async Task<HttpResponseMessage> PostAsync(string tokenFrom, string action, params (string Name, string Value)[] fields)
    {
        var page = await GetStringAsync(tokenFrom);
        var token = AntiforgeryToken().Match(page);
        Assert.True(token.Success, $"{tokenFrom} has no anti-forgery token:\n{page}");
        using var form = new FormUrlEncodedContent(
            [new("__RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value)), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
        return await _http.PostAsync(new Uri(action, UriKind.Relative), form, Ct);
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}
