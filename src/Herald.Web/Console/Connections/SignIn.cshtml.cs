using System.Text.Json;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Connections;

/// <summary>
/// "Sign in with Microsoft / Google / provider": sends the administrator to the provider's
/// authorization endpoint (authorization code with PKCE) and takes the answer back at this same
/// address, where the code is redeemed and the refresh token stored by
/// <see cref="OAuthSignInService"/>. The state and the PKCE verifier wait in a protected,
/// HTTP-only cookie of this path; the page only translates.
/// </summary>
public sealed class SignInModel(OAuthSignInService signIn, IDataProtectionProvider protection) : ConsolePage
{
    private const string Cookie = "herald-oauth-signin";

    private IDataProtector Protector => protection.CreateProtector("Herald.Console.OAuthSignIn");

    public async Task<IActionResult> OnGetAsync(string? scope, string? name, string? code, string? state, string? error, [FromQuery(Name = "error_description")] string? errorDescription)
    {
        if (code is null && error is null)
        {
            return await BeginAsync(scope, name);
        }

        if (Request.Cookies[Cookie] is not { } sealedPending || Read(sealedPending) is not { } pending || state is null || pending.State != state)
        {
            return Refuse("This sign-in answer does not belong to a sign-in started here (or it was already used): start it again from the connection.");
        }

        Response.Cookies.Delete(Cookie, CookieOptions());
        var owner = ScopePath.Parse(pending.Owner);
        var back = $"/connections/edit?scope={Uri.EscapeDataString(pending.Owner)}&name={Uri.EscapeDataString(pending.Name)}";
        if (error is not null)
        {
            Notice = $"The provider did not sign in ({error}{(errorDescription is null ? "" : $": {errorDescription}")}); nothing was stored.";
            return Redirect(back);
        }

        var done = await signIn.CompleteAsync(Caller, owner, pending.Name, RedirectUri(), code!, pending.Verifier, HttpContext.RequestAborted);
        if (done.Refusal is { } refusal)
        {
            Notice = refusal.Sentence;
            return refusal.Kind is RefusalKind.NotAllowed or RefusalKind.NotFound ? Refused(refusal, () => Redirect(back)) : Redirect(back);
        }

        Notice = done.Value;
        return Redirect(back);
    }

    private async Task<IActionResult> BeginAsync(string? scope, string? name)
    {
        if (!ScopePath.TryParse(scope ?? "/", out var owner, out var scopeError))
        {
            return Refuse(scopeError);
        }

        var started = await signIn.BeginAsync(Caller, owner, name, RedirectUri(), HttpContext.RequestAborted);
        if (started.Refusal is { } refusal)
        {
            Notice = refusal.Sentence;
            return Refused(refusal, () => Redirect($"/connections/edit?scope={Uri.EscapeDataString(owner.Value)}&name={Uri.EscapeDataString(name ?? "")}"));
        }

        var pending = new Pending(owner.Value, name!.Trim().ToLowerInvariant(), started.Value!.State, started.Value.CodeVerifier);
        Response.Cookies.Append(Cookie, Protector.Protect(JsonSerializer.Serialize(pending)), CookieOptions());
        return Redirect(started.Value.AuthorizationUrl.AbsoluteUri);
    }

    /// <summary>This page's own address: the redirect URI registered at the provider.</summary>
    private Uri RedirectUri() => new($"{Request.Scheme}://{Request.Host}{Request.PathBase}/connections/signin");

    private Pending? Read(string sealedPending)
    {
        try
        {
            return JsonSerializer.Deserialize<Pending>(Protector.Unprotect(sealedPending));
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or JsonException)
        {
            return null;
        }
    }

    // Lax: the provider's redirect back is a top-level navigation, which carries it.
    private CookieOptions CookieOptions() => new()
    {
        HttpOnly = true,
        Secure = Request.IsHttps,
        SameSite = SameSiteMode.Lax,
        Path = "/connections/signin",
        MaxAge = TimeSpan.FromMinutes(15),
    };

    private sealed record Pending(string Owner, string Name, string State, string Verifier);
}
