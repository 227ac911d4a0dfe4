using System.Security.Claims;
using Herald.Access;
using Herald.Scopes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Web.Console;

/// <summary>
/// The web console: server-rendered Razor Pages at <c>/</c>, signed in with a cookie. The cookie
/// is a second authentication scheme beside API keys: the console's pages accept only the cookie,
/// the API under <c>/api/v1</c> only keys, so a browser session never reaches the API and a key
/// never opens a page.
/// </summary>
public static class ConsoleExtensions
{
    public const string Scheme = "Console";
    public const string Policy = "Console";
    public const string ScopeClaim = "herald:scope";
    public const string SecurityStampClaim = "herald:stamp";

    public static IServiceCollection AddHeraldConsole(this IServiceCollection services)
    {
        services.AddAuthentication().AddCookie(Scheme, options =>
        {
            options.LoginPath = "/signin";
            options.LogoutPath = "/signout";
            options.Cookie.Name = "herald-console";
            options.Cookie.HttpOnly = true;
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.ExpireTimeSpan = TimeSpan.FromHours(8);
            options.SlidingExpiration = true;
            // Checked on every request against the database that every node shares: an
            // administrator removed, given a new password or moved to another scope loses every
            // session at once, on every node.
            // An administrator signed in through the provider is checked against this node's group
            // map instead: a changed map ends the session.
            options.Events.OnValidatePrincipal = ValidateAsync;
        });
        services.AddAuthorizationBuilder().AddPolicy(Policy, policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser());
        services.AddRazorPages(options =>
            {
                options.RootDirectory = "/Console";
                options.Conventions.AuthorizeFolder("/", Policy);
                options.Conventions.AllowAnonymousToPage("/SignIn");
                options.Conventions.AllowAnonymousToPage("/Setup");
            })
            .AddApplicationPart(typeof(ConsoleExtensions).Assembly);
        services.Configure<RouteOptions>(o => o.LowercaseUrls = true);
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "herald-antiforgery";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        services.AddSingleton<SetupLink>();
        OpenIdConnect.SingleSignOn.Register(services);
        return services;
    }

    /// <summary>
    /// What signs the console's cookies and anti-forgery tokens: Data Protection under one
    /// application name (so that nodes installed in different directories read each other's
    /// payloads), with its key ring in the database, shared by every node and sealed with the
    /// credential key (<see cref="ConsoleKeyRing"/>); or, on a node without a credential key,
    /// in <paramref name="directory"/>, which only this node reads.
    /// </summary>
    public static IServiceCollection AddConsoleKeyRing(this IServiceCollection services, bool inDatabase, string directory)
    {
        var protection = services.AddDataProtection().SetApplicationName("Herald");
        services.Configure<KeyManagementOptions>(options => options.XmlEncryptor = new ConsoleKeyElements());
        if (!inDatabase)
        {
            // Key files hold key material in clear: the directory is the node user's alone,
            // whatever the umask (Data Protection would make it world-readable).
            protection.PersistKeysToFileSystem(OwnerOnlyDirectory(directory));
            return services;
        }

        services.AddSingleton<ConsoleKeyRing>();
        services.AddOptions<KeyManagementOptions>().Configure<ConsoleKeyRing>((options, ring) => options.XmlRepository = ring);
        return services;
    }

    private static DirectoryInfo OwnerOnlyDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return Directory.CreateDirectory(path);
        }

        var directory = Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // CreateDirectory leaves the mode of a directory that exists (made by an earlier release) as it was.
        directory.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        return directory;
    }

    public static WebApplication MapHeraldConsole(this WebApplication app)
    {
        app.MapGet("/console.css", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "public, max-age=3600";
            return Results.Stream(typeof(ConsoleExtensions).Assembly.GetManifestResourceStream("Herald.Web.Console.console.css")!, "text/css; charset=utf-8");
        }).ExcludeFromDescription();
        app.MapGet("/console.js", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "public, max-age=3600";
            return Results.Stream(typeof(ConsoleExtensions).Assembly.GetManifestResourceStream("Herald.Web.Console.console.js")!, "text/javascript; charset=utf-8");
        }).ExcludeFromDescription();
        // The brand mark as the tab's icon; /favicon.ico too, which browsers ask for on their own.
        foreach (var path in new[] { "/favicon.svg", "/favicon.ico" })
        {
            app.MapGet(path, (HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "public, max-age=86400";
                return Results.Text(Favicon, "image/svg+xml", System.Text.Encoding.UTF8);
            }).ExcludeFromDescription();
        }

        OpenIdConnect.SingleSignOn.MapStart(app);
        app.MapRazorPages();
        return app;
    }

    private const string Favicon =
        """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2f55d4"/><text x="16" y="22.5" font-family="system-ui,sans-serif" font-size="19" font-weight="700" fill="#fff" text-anchor="middle">H</text></svg>""";

    public static ClaimsPrincipal Principal(Administrator administrator) => new(new ClaimsIdentity(
        [
            new Claim(ClaimTypes.Name, administrator.Name),
            new Claim(ScopeClaim, administrator.Scope.Value),
            new Claim(SecurityStampClaim, administrator.SecurityStamp),
        ],
        Scheme));

    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var principal = context.Principal;
        if (principal?.FindFirstValue(OpenIdConnect.SingleSignOn.MethodClaim) == OpenIdConnect.SingleSignOn.Method && principal.FindFirstValue(OpenIdConnect.SingleSignOn.GroupClaim) is not null)
        {
            // An administrator by the provider's group: as long as this node's map still says so.
            if (!context.HttpContext.RequestServices.GetRequiredService<OpenIdConnect.SingleSignOn>().StillGrants(principal))
            {
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(Scheme).ConfigureAwait(false);
            }

            return;
        }

        var administrators = context.HttpContext.RequestServices.GetRequiredService<AdministratorService>();
        var current = principal is null ? null : await administrators.ResumeSessionAsync(
            principal.Identity?.Name, principal.FindFirstValue(ScopeClaim), principal.FindFirstValue(SecurityStampClaim), context.HttpContext.RequestAborted).ConfigureAwait(false);
        if (current is null)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme).ConfigureAwait(false);
        }
    }
}

/// <summary>The signed-in administrator, read from the cookie's claims.</summary>
public sealed record ConsoleUser(string Name, ScopePath Scope)
{
    public bool Administers(ScopePath scope) => scope.IsSameOrDescendantOf(Scope);

    /// <summary>SMTP connections are shared by every scope: only administrators of <c>/</c> see or change them.</summary>
    public bool IsGlobal => Scope.IsRoot;

    public static ConsoleUser From(ClaimsPrincipal principal) =>
        new(principal.Identity?.Name ?? "", ScopePath.Parse(principal.FindFirstValue(ConsoleExtensions.ScopeClaim) ?? "/nobody"));
}
