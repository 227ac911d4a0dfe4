using System.Security.Claims;
using System.Text.Encodings.Web;
using Herald.Access;
using Herald.Scopes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Web.Security;

/// <summary><c>Authorization: Bearer hrk_…</c>: the caller is the API key, with its scope and role.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyService keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var key = await keys.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted).ConfigureAwait(false);
        if (key is null)
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        Context.Items[typeof(ApiKey)] = key;
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, key.Id), new Claim("scope", key.Scope.Value), new Claim(ClaimTypes.Role, ApiKeyRoleNames.Values.NameOf(key.Role))],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Response.WriteAsJsonAsync(
            new { type = "about:blank", title = "Unauthorized", status = 401, detail = "An API key is required: send 'Authorization: Bearer <key>' (create one with 'herald apikey create')." },
            options: null, contentType: "application/problem+json").ConfigureAwait(false);
    }
}

public static class CallerExtensions
{
    /// <summary>The authenticated key (endpoints in the API group always have one).</summary>
    public static ApiKey ApiKey(this HttpContext context) =>
        context.Items[typeof(ApiKey)] as ApiKey ?? throw new InvalidOperationException("The endpoint is not behind API key authentication.");

    /// <summary>The caller every use case is given: this request's API key.</summary>
    public static Caller Caller(this HttpContext context) => new Caller.Key(context.ApiKey());

    /// <summary>403 unless the caller's key may act on the scope in that role.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? Refuse(this HttpContext context, ScopePath scope, ApiKeyRole needed)
    {
        var key = context.ApiKey();
        return key.Allows(scope, needed)
            ? null
            : TypedResults.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Forbidden",
                detail: $"This API key ({ApiKeyRoleNames.Values.NameOf(key.Role)} of {key.Scope}) may not {(needed == ApiKeyRole.Admin ? "administer" : "send into")} scope {scope}.");
    }
}
