using System.Globalization;
using System.Net;
using System.Security.Claims;
using Herald.Notifications;
using Herald.Scopes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Herald.Web.Console.OpenIdConnect;

/// <summary>
/// Console sign-in through the organisation's OpenID Connect provider, with ASP.NET Core's own
/// handler (authorization code with PKCE; state, nonce and the ID token's issuer, audience,
/// signature and lifetime checked by it). What the provider vouches for becomes a console session:
/// an administrator of the one scope the group map gives (not stored in the administrators table;
/// the session names the group that granted it, re-checked against this node's map on every
/// request), or else the directory user the configured claim names, signed in as a person.
/// </summary>
public sealed partial class SingleSignOn(IOptions<SingleSignOnOptions> options, IDirectory directory, TimeProvider time, ILogger<SingleSignOn> logger)
{
    /// <summary>The handler's scheme: registered only when single sign-on is enabled.</summary>
    public const string Scheme = "OpenIdConnect";

    /// <summary>Where the provider sends the browser back.</summary>
    public const string CallbackPath = "/signin-oidc";

    /// <summary>Where the sign-in page's button leads: the challenge.</summary>
    public const string StartPath = "/signin/oidc";

    /// <summary>How the session was signed in (<see cref="ConsoleSessions.MethodClaim"/>).</summary>
    public const string Method = Herald.Notifications.SelfService.PersonSignInMethods.OpenIdConnect;

    /// <summary>The provider's group or role value that made the session an administrator.</summary>
    public const string GroupClaim = "herald:group";

    private const string StartedItem = "herald:started";

    /// <summary>Longer than any email address (320) or id a directory holds: not looked up, not echoed.</summary>
    private const int MaxUserClaimLength = 400;

    /// <summary>Where a directory user lands: their own alerts.</summary>
    private const string PersonPage = "/me";

    /// <summary>What an administrator is called in the console, the first the token has.</summary>
    private static readonly string[] NameClaims = ["name", "preferred_username", "email", "sub"];

    private readonly Lazy<AdministratorGroupMap> _map = new(() => options.Value.Administrators());

    public SingleSignOnOptions Options => options.Value;

    public bool Enabled => options.Value.Enabled;

    /// <summary>Whether a password may sign in to the console on this node.</summary>
    public bool LocalPasswords => !options.Value.Enabled || options.Value.LocalPasswords;

    public AdministratorGroupMap Map => _map.Value;

    /// <summary>Registers the options (always, so that a bad value stops serve) and the handler's scheme (only when enabled).</summary>
    internal static void Register(IServiceCollection services)
    {
        services.AddBoundOptions<SingleSignOnOptions>(SingleSignOnOptions.Section);
        services.AddSingleton<SingleSignOn>();
        // What AddOpenIdConnect does, except that the scheme exists only when configured: the
        // handler takes part in every request, and an unconfigured one would fail each of them.
        services.AddOptions<AuthenticationOptions>().Configure<IOptions<SingleSignOnOptions>>((authentication, sso) =>
        {
            if (sso.Value.Enabled)
            {
                authentication.AddScheme(Scheme, scheme =>
                {
                    scheme.HandlerType = typeof(OpenIdConnectHandler);
                    scheme.DisplayName = sso.Value.DisplayName;
                });
            }
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<OpenIdConnectOptions>, OpenIdConnectPostConfigureOptions>());
        services.AddOptions<OpenIdConnectOptions>(Scheme)
            .Configure<SingleSignOn>((handler, sso) => sso.Configure(handler))
            .Validate(handler =>
            {
                handler.Validate(Scheme);
                return true;
            });
        services.AddTransient<OpenIdConnectHandler>();
    }

    /// <summary>The sign-in page's button: a challenge to the provider; while single sign-on is
    /// off (a page rendered before the node was reconfigured), back to the sign-in page.</summary>
    internal static void MapStart(WebApplication app) =>
        app.MapGet(StartPath, (string? returnUrl, SingleSignOn sso) => sso.Enabled
                ? Results.Challenge(new AuthenticationProperties { RedirectUri = LocalOrNull(returnUrl) ?? "/" }, [Scheme])
                : Results.Redirect("/signin"))
            .ExcludeFromDescription();

    private void Configure(OpenIdConnectOptions handler)
    {
        var sso = options.Value;
        handler.Authority = sso.Authority;
        handler.ClientId = sso.ClientId;
        handler.ClientSecret = sso.ReadClientSecret();
        handler.RequireHttpsMetadata = !Uri.TryCreate(sso.Authority, UriKind.Absolute, out var authority) || !authority.IsLoopback;
        handler.ResponseType = OpenIdConnectResponseType.Code;
        handler.UsePkce = true;
        // The answer comes back as a top-level GET, so that the correlation and nonce cookies
        // can be SameSite=Lax and, like the console's own cookie, Secure when the request is:
        // SameSite=None needs HTTPS, which a node behind a proxy may not see.
        handler.ResponseMode = OpenIdConnectResponseMode.Query;
        foreach (var cookie in new[] { handler.CorrelationCookie, handler.NonceCookie })
        {
            cookie.SameSite = SameSiteMode.Lax;
            cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        }
        handler.CallbackPath = CallbackPath;
        handler.SignInScheme = ConsoleExtensions.Scheme;
        handler.Scope.Clear();
        foreach (var scope in sso.EffectiveScopes)
        {
            handler.Scope.Add(scope);
        }

        // Claims as the provider names them (email, oid, groups), which is how they are configured.
        handler.MapInboundClaims = false;
        handler.TokenValidationParameters.NameClaimType = "name";
        handler.SaveTokens = false;
        handler.TimeProvider = time;
        handler.RemoteAuthenticationTimeout = sso.SignInTimeout;
        handler.Events = new OpenIdConnectEvents
        {
            OnRedirectToIdentityProvider = context =>
            {
                context.Properties.Items[StartedItem] = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            },
            OnTokenValidated = SignInAsync,
            OnRemoteFailure = context =>
            {
                LogRemoteFailure(logger, context.Failure?.Message ?? "unknown");
                context.HandleResponse();
                return WriteAsync(context.HttpContext, StatusCodes.Status400BadRequest, "Sign-in failed",
                    "The sign-in with your organisation's account could not be completed (it was altered, expired or refused by the provider). Nothing was signed in.",
                    retry: true);
            },
        };
    }

    /// <summary>The provider vouched for the person: decide who they are in Herald, sign them in
    /// to the console's cookie, and answer the browser.</summary>
    private async Task SignInAsync(TokenValidatedContext context)
    {
        context.HandleResponse();
        var http = context.HttpContext;
        var identity = context.Principal ?? new ClaimsPrincipal();
        if (!context.Properties!.Items.TryGetValue(StartedItem, out var started)
            || !DateTimeOffset.TryParse(started, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var startedAt)
            || time.GetUtcNow() - startedAt > options.Value.SignInTimeout)
        {
            await WriteAsync(http, StatusCodes.Status400BadRequest, "Sign-in expired", "This sign-in was started too long ago. Nothing was signed in.", retry: true).ConfigureAwait(false);
            return;
        }

        var groups = identity.FindAll(options.Value.GroupClaim).Select(c => c.Value);
        switch (Map.Decide(groups))
        {
            case AdministratorDecision.Administrator administrator:
                var name = DisplayName(identity);
                LogAdministrator(logger, name, administrator.Scope.Value);
                await http.SignInAsync(ConsoleExtensions.Scheme, AdministratorPrincipal(name, administrator.Scope, administrator.Group)).ConfigureAwait(false);
                await ContinueAsync(http, ReturnUrl(context.Properties, "/")).ConfigureAwait(false);
                return;
            case AdministratorDecision.Unrelated unrelated:
                await WriteAsync(http, StatusCodes.Status403Forbidden, "Not signed in", unrelated.Sentence, retry: false).ConfigureAwait(false);
                return;
        }

        var claim = options.Value.UserClaim;
        var value = identity.FindFirst(claim)?.Value;
        if (string.IsNullOrWhiteSpace(value) || value.Length > MaxUserClaimLength)
        {
            await WriteAsync(http, StatusCodes.Status403Forbidden, "Not signed in",
                $"Your organisation's account did not give a usable {claim}, which Herald uses to find you in its directory. Nothing was signed in.", retry: false).ConfigureAwait(false);
            return;
        }

        if (options.Value.UserClaim == "email" && identity.FindFirst("email_verified")?.Value is "false")
        {
            await WriteAsync(http, StatusCodes.Status403Forbidden, "Not signed in",
                $"Your organisation's account says your email address ({value}) is not verified, so Herald cannot go by it. Nothing was signed in.", retry: false).ConfigureAwait(false);
            return;
        }

        var view = await directory.CurrentAsync(http.RequestAborted).ConfigureAwait(false);
        var user = options.Value.UserField == DirectoryField.Id ? view.FindUser(value) : view.FindUserByEmail(value);
        if (user is null)
        {
            // Only what they presented themselves: nothing about who else is in the directory.
            await WriteAsync(http, StatusCodes.Status403Forbidden, "Not in the directory",
                $"Your account ({value}) is not in Herald's directory, so there are no alerts of yours to manage here. Ask an administrator to add you.", retry: false).ConfigureAwait(false);
            return;
        }

        LogPerson(logger, user.Id);
        await ConsoleSessions.SignInPersonAsync(http, user, Method).ConfigureAwait(false);
        await ContinueAsync(http, PersonPage).ConfigureAwait(false);
    }

    /// <summary>A provider-signed-in administrator's session: kind, scope, the provider's name for
    /// them, the method and the group that granted the scope.</summary>
    public static ClaimsPrincipal AdministratorPrincipal(string name, ScopePath scope, string group) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, name),
            new Claim(ConsoleSessions.KindClaim, ConsoleSessions.AdministratorKind),
            new Claim(ConsoleSessions.ScopeClaim, scope.Value),
            new Claim(ConsoleSessions.MethodClaim, Method),
            new Claim(GroupClaim, group),
        ],
        ConsoleExtensions.Scheme));

    /// <summary>Whether a provider-signed-in administrator's session still holds on this node:
    /// single sign-on is on and the map still gives their group that scope.</summary>
    public bool StillGrants(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return Enabled
            && principal.FindFirstValue(GroupClaim) is { } group
            && ScopePath.TryParse(principal.FindFirstValue(ConsoleSessions.ScopeClaim), out var scope, out _)
            && Map.Grants(group, scope);
    }

    private static string DisplayName(ClaimsPrincipal identity) =>
        NameClaims.Select(identity.FindFirstValue).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v)) is { } name
            ? name[..Math.Min(name.Length, 200)]
            : "(unnamed)";

    private static string ReturnUrl(AuthenticationProperties properties, string fallback) => LocalOrNull(properties.RedirectUri) ?? fallback;

    /// <summary>A path on this site, never another host (<c>//evil</c>, <c>/\evil</c>).</summary>
    private static string? LocalOrNull(string? url) =>
        url is { Length: > 0 and <= 2000 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) ? url : null;

    /// <summary>Sent on from a page of Herald's own, not by a redirect: the console's cookie is
    /// SameSite=Strict, and a browser does not send it on a redirect chain the provider started.</summary>
    private static Task ContinueAsync(HttpContext http, string url)
    {
        var encoded = WebUtility.HtmlEncode(url);
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.Headers.CacheControl = "no-store";
        http.Response.ContentType = "text/html; charset=utf-8";
        return http.Response.WriteAsync(BarePage.Html("Signed in", $"""
            <meta http-equiv="refresh" content="0;url={encoded}">
            <h1>Signed in</h1><p><a class="button button-primary" href="{encoded}" id="continue">Continue</a></p>
            """));
    }

    private static Task WriteAsync(HttpContext http, int status, string title, string sentence, bool retry)
    {
        http.Response.StatusCode = status;
        http.Response.Headers.CacheControl = "no-store";
        http.Response.ContentType = "text/html; charset=utf-8";
        return http.Response.WriteAsync(BarePage.Html(title, $"""
            <h1>{WebUtility.HtmlEncode(title)}</h1>
            <p class="alert alert-error" role="alert">{WebUtility.HtmlEncode(sentence)}</p>
            <p><a class="button" href="{(retry ? StartPath : "/signin")}">{(retry ? "Sign in again" : "Back to sign-in")}</a></p>
            """));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A single sign-on answer was refused: {Reason}")]
    private static partial void LogRemoteFailure(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Name} signed in with single sign-on as an administrator of {Scope}")]
    private static partial void LogAdministrator(ILogger logger, string name, string scope);

    [LoggerMessage(Level = LogLevel.Information, Message = "Directory user {User} signed in with single sign-on")]
    private static partial void LogPerson(ILogger logger, string user);
}
