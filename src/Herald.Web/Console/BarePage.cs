using System.Net;

namespace Herald.Web.Console;

/// <summary>A page written without Razor, in the look of <c>_Bare.cshtml</c>: what the console
/// answers from outside a page (a refusal, a sign-in's last step).</summary>
internal static class BarePage
{
    /// <summary>The whole document; <paramref name="body"/> is HTML the caller has encoded.</summary>
    public static string Html(string title, string body) => $"""
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{WebUtility.HtmlEncode(title)} · Herald</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/console.css"></head>
        <body class="bare"><main class="auth-card" id="main">
        {body}
        </main></body></html>
        """;
}
