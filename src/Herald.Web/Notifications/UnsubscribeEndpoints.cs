using System.Security.Claims;
using System.Text.Encodings.Web;
using Herald.Notifications.Unsubscribe;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Notifications;

/// <summary>
/// <c>/unsubscribe/{token}</c>, for anyone holding a link from a notification (no API key, no
/// session: the signed token is the authority). GET only shows a page with a button, because mail
/// scanners follow links; POST applies it, whether from that button or from a mail client's
/// RFC 8058 one-click request (<c>List-Unsubscribe=One-Click</c>).
/// </summary>
public static class UnsubscribeEndpoints
{
    public static IEndpointRouteBuilder MapUnsubscribeEndpoints(this IEndpointRouteBuilder app)
    {
        var unsubscribe = app.MapGroup("/unsubscribe").AllowAnonymous().ExcludeFromDescription();
        unsubscribe.MapGet("/{token}", ShowAsync);
        unsubscribe.MapPost("/{token}", ApplyAsync);
        unsubscribe.MapPost("/{token}/all", ApplyEverythingAsync);
        return app;
    }

    private static async Task<ContentHttpResult> ShowAsync(
        HttpContext context, string token, [FromServices] UnsubscribeService service, [FromServices] UnsubscribeFromEverything everything, [FromServices] IAntiforgery antiforgery)
    {
        var (target, problem) = await service.DescribeAsync(token, context.RequestAborted).ConfigureAwait(false);
        if (target is null)
        {
            return Refused(context, problem);
        }

        var action = HtmlEncoder.Default.Encode(context.Request.PathBase + context.Request.Path);
        var (all, _) = await everything.DescribeAsync(token, context.RequestAborted).ConfigureAwait(false);
        AsVisitor(context);
        // The second choice asks for an anti-forgery token (a cookie and this form's field): only
        // a person who opened this page does it, never a mail client's one-click POST or a scanner.
        var tokens = all is null ? null : antiforgery.GetAndStoreTokens(context);
        var allForm = all is null ? "" : $"""
            <p>Or stop every email from {HtmlEncoder.Default.Encode(all.Scope.Value)} to <b>{HtmlEncoder.Default.Encode(all.Address)}</b>: alerts, rules and administrative messages alike.</p>
            <form method="post" action="{action}/all"><input type="hidden" name="{HtmlEncoder.Default.Encode(tokens!.FormFieldName)}" value="{HtmlEncoder.Default.Encode(tokens.RequestToken ?? "")}"><button type="submit" style="padding:8px 14px">Unsubscribe from everything</button></form>
            """;
        return Page(context, StatusCodes.Status200OK, "Unsubscribe", $"""
            <p>Stop receiving emails from {HtmlEncoder.Default.Encode(target.Description)} at <b>{HtmlEncoder.Default.Encode(target.Origin.Recipient)}</b>?</p>
            <form method="post" action="{action}"><button type="submit" style="padding:8px 14px">Unsubscribe</button></form>
            {allForm}
            """);
    }

    private static async Task<ContentHttpResult> ApplyEverythingAsync(
        HttpContext context, string token, [FromServices] UnsubscribeFromEverything everything, [FromServices] IAntiforgery antiforgery)
    {
        AsVisitor(context);
        if (!await antiforgery.IsRequestValidAsync(context).ConfigureAwait(false))
        {
            return Page(context, StatusCodes.Status400BadRequest, "Open the link again",
                "<p>This page has expired. Open the unsubscribe link in the email again, then choose \"Unsubscribe from everything\".</p>");
        }

        var (target, added, problem) = await everything.ApplyAsync(token, context.RequestAborted).ConfigureAwait(false);
        if (target is null)
        {
            return Refused(context, problem);
        }

        var what = $"{HtmlEncoder.Default.Encode(target.Scope.Value)} to <b>{HtmlEncoder.Default.Encode(target.Address)}</b>";
        return Page(context, StatusCodes.Status200OK, "Unsubscribed", added
            ? $"<p>Done: no more emails from {what}. Ask your administrator if you want them again.</p>"
            : $"<p>You were already unsubscribed from every email from {what}.</p>");
    }

    private static async Task<ContentHttpResult> ApplyAsync(HttpContext context, string token, [FromServices] UnsubscribeService service)
    {
        // The body (List-Unsubscribe=One-Click, or the empty form) carries nothing the token does not.
        var (target, outcome, problem) = await service.ApplyAsync(token, context.RequestAborted).ConfigureAwait(false);
        if (target is null)
        {
            return Refused(context, problem);
        }

        var what = HtmlEncoder.Default.Encode(target.Description);
        return Page(context, StatusCodes.Status200OK, "Unsubscribed", outcome switch
        {
            UnsubscribeOutcome.SubscriptionDisabled => $"<p>Done: {what} is turned off. You will receive no more emails from it.</p>",
            UnsubscribeOutcome.OptedOut => $"<p>Done: you will receive no more emails from {what}.</p>",
            _ => $"<p>You were already unsubscribed from {what}.</p>",
        });
    }

    /// <summary>The signed link is the authority here, whoever follows it: the form's anti-forgery
    /// token is made for, and checked against, an anonymous visitor even when the request carried
    /// an API key.</summary>
    private static void AsVisitor(HttpContext context) => context.User = new ClaimsPrincipal(new ClaimsIdentity());

    private static ContentHttpResult Refused(HttpContext context, UnsubscribeTokenProblem problem) => problem == UnsubscribeTokenProblem.Expired
        ? Page(context, StatusCodes.Status400BadRequest, "Link expired",
            "<p>This unsubscribe link has expired. Use the link in a more recent email, or ask your administrator.</p>")
        : Page(context, StatusCodes.Status404NotFound, "Link not valid",
            "<p>This unsubscribe link is not valid. Copy the whole link from the email, or ask your administrator.</p>");

    private static ContentHttpResult Page(HttpContext context, int status, string title, string body)
    {
        var headers = context.Response.Headers;
        // The token is a credential for one action: not cached, not indexed, not leaked as a referrer.
        headers.CacheControl = "no-store";
        headers["Referrer-Policy"] = "no-referrer";
        headers["X-Robots-Tag"] = "noindex";
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";
        return TypedResults.Content(
            $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{title} - Herald</title></head>
            <body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;max-width:36em;margin:3em auto;color:#222">
            <h1 style="font-size:20px">{title}</h1>
            {body}
            </body></html>
            """,
            "text/html; charset=utf-8",
            System.Text.Encoding.UTF8,
            status);
    }
}
