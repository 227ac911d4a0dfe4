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
/// never opens a page. A session is an administrator's or a directory user's
/// (<see cref="ConsoleSessions"/>): the administrators' pages need an administrator
/// (<see cref="Policy"/>); a person who opens one is told 403, with a link to their own page; the
/// pages under <c>/SelfService</c> (their own alerts, at <c>/me</c>) take either (<see cref="SignedInPolicy"/>).
/// </summary>
public static class ConsoleExtensions
{
    public const string Scheme = "Console";

    /// <summary>An administrator's session.</summary>
    public const string Policy = "Console";

    /// <summary>Any session: an administrator's or a directory user's.</summary>
    public const string SignedInPolicy = "ConsoleSignedIn";

    /// <summary>The folder of the pages a directory user reaches.</summary>
    public const string PersonFolder = "/SelfService";

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
            options.Events.OnValidatePrincipal = ConsoleSessions.ValidateAsync;
            options.Events.OnRedirectToAccessDenied = NotForPersonsAsync;
        });
        services.AddAuthorizationBuilder()
            .AddPolicy(Policy, policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireAssertion(c => ConsoleSessions.IsAdministrator(c.User)))
            .AddPolicy(SignedInPolicy, policy => policy.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser());
        services.AddRazorPages(options =>
            {
                options.RootDirectory = "/Console";
                // One policy per page (two would both have to pass): a person's pages and signing
                // out take any session, every other page an administrator's.
                options.Conventions.AddFolderApplicationModelConvention("/", model => model.EndpointMetadata.Add(new AuthorizeAttribute(
                    model.ViewEnginePath.StartsWith(PersonFolder + "/", StringComparison.Ordinal) || model.ViewEnginePath == "/SignOut" ? SignedInPolicy : Policy)));
                options.Conventions.AllowAnonymousToPage("/SignIn");
                options.Conventions.AllowAnonymousToPage("/Setup");
                // A person's ways in: the link itself is what they prove who they are with.
                options.Conventions.AllowAnonymousToPage(PersonFolder + "/Manage");
                options.Conventions.AllowAnonymousToPage(PersonFolder + "/RequestLink");
                options.Conventions.AllowAnonymousToPage(PersonFolder + "/UseLink");
                // "My alerts" was here before directory users could sign in: old links still work.
                options.Conventions.AddPageRoute(PersonFolder + "/Index", "my-alerts");
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

    /// <summary>A signed-in person who opens an administrator's page: 403, with the way to their own.</summary>
    private static async Task NotForPersonsAsync(RedirectContext<CookieAuthenticationOptions> context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status403Forbidden;
        response.ContentType = "text/html; charset=utf-8";
        await response.WriteAsync(ConsolePage.NotAllowedHtml(
            "This page is for administrators.", "You are signed in as yourself: your own alerts are on your page.", ("/me", "Go to my alerts")), context.HttpContext.RequestAborted).ConfigureAwait(false);
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
}
