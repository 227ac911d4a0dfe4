using System.Security.Claims;
using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.SelfService;
using Herald.Scopes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Web.Console;

/// <summary>
/// The console's sessions, of two kinds that the cookie's <see cref="KindClaim"/> tells apart: an
/// administrator (name, scope, security stamp) or a directory user signed in as themselves (user
/// id, a stamp of their id and email, and how they signed in). Every way in ends here, so that a
/// session is made one way, and read back into a <see cref="Caller"/> one way.
/// </summary>
public static class ConsoleSessions
{
    public const string KindClaim = "herald:kind";
    public const string ScopeClaim = "herald:scope";
    public const string SecurityStampClaim = "herald:stamp";
    public const string MethodClaim = "herald:method";

    public const string AdministratorKind = "administrator";
    public const string PersonKind = "person";

    /// <summary>Signs <paramref name="administrator"/> in to the console.</summary>
    public static Task SignInAdministratorAsync(HttpContext context, Administrator administrator)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.SignInAsync(ConsoleExtensions.Scheme, Principal(administrator));
    }

    /// <summary>
    /// Signs <paramref name="user"/> in as themselves: they reach their own page (<c>/me</c>) and
    /// nothing an administrator does. <paramref name="method"/> says how they proved who they are
    /// (<see cref="PersonSignInMethods"/>: "link", "manage-link", "oidc"); the caller of this method
    /// has checked that proof. The session ends when the user is removed or their email changes.
    /// </summary>
    public static Task SignInPersonAsync(HttpContext context, DirectoryUser user, string method)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.SignInAsync(ConsoleExtensions.Scheme, PersonPrincipal(user, method));
    }

    /// <summary>The claims of a person's session (see <see cref="SignInPersonAsync"/>).</summary>
    public static ClaimsPrincipal PersonPrincipal(DirectoryUser user, string method)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (!PersonSignInMethods.IsKnown(method))
        {
            throw new ArgumentException($"'{method}' is not a way a person signs in.", nameof(method));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(
            [
                new Claim(KindClaim, PersonKind),
                new Claim(ClaimTypes.Name, user.Id),
                new Claim(SecurityStampClaim, PersonSessions.Stamp(user)),
                new Claim(MethodClaim, method),
            ],
            ConsoleExtensions.Scheme));
    }

    public static ClaimsPrincipal Principal(Administrator administrator)
    {
        ArgumentNullException.ThrowIfNull(administrator);
        return new(new ClaimsIdentity(
            [
                new Claim(KindClaim, AdministratorKind),
                new Claim(ClaimTypes.Name, administrator.Name),
                new Claim(ScopeClaim, administrator.Scope.Value),
                new Claim(SecurityStampClaim, administrator.SecurityStamp),
            ],
            ConsoleExtensions.Scheme));
    }

    /// <summary>Whether the session is a directory user's. A cookie without a kind was made by a
    /// release before persons could sign in: an administrator's (and checked as one).</summary>
    public static bool IsPerson(ClaimsPrincipal principal) =>
        principal?.FindFirstValue(KindClaim) == PersonKind;

    public static bool IsAdministrator(ClaimsPrincipal principal) =>
        principal?.Identity?.IsAuthenticated == true && principal.FindFirstValue(KindClaim) is null or AdministratorKind;

    /// <summary>The caller a signed-in session is; null when nobody is signed in.</summary>
    public static Caller? CallerOf(ClaimsPrincipal principal)
    {
        if (principal?.Identity?.IsAuthenticated != true || principal.Identity.Name is not { Length: > 0 } name)
        {
            return null;
        }

        if (IsPerson(principal))
        {
            return new Caller.Person(name);
        }

        return ConsoleUser.From(principal) is { } administrator ? new Caller.ConsoleAdministrator(administrator.Name, administrator.Scope) : null;
    }

    /// <summary>Checked on every request against the database that every node shares: an
    /// administrator removed, given a new password or moved to another scope, and a person removed
    /// or given another email, lose every session at once, on every node.</summary>
    internal static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var principal = context.Principal;
        var services = context.HttpContext.RequestServices;
        var cancellationToken = context.HttpContext.RequestAborted;
        bool good;
        if (principal is null)
        {
            good = false;
        }
        else if (IsPerson(principal))
        {
            good = PersonSignInMethods.IsKnown(principal.FindFirstValue(MethodClaim))
                && await services.GetRequiredService<PersonSessions>().ResumeAsync(
                    principal.Identity?.Name, principal.FindFirstValue(SecurityStampClaim), cancellationToken).ConfigureAwait(false) is not null;
        }
        else if (principal.FindFirstValue(MethodClaim) == OpenIdConnect.SingleSignOn.Method)
        {
            // An administrator by the provider's group, not in the administrators table: as long
            // as this node's group map still gives that group this scope.
            good = principal.FindFirstValue(KindClaim) == AdministratorKind && services.GetRequiredService<OpenIdConnect.SingleSignOn>().StillGrants(principal);
        }
        else
        {
            good = principal.FindFirstValue(KindClaim) is null or AdministratorKind
                && await services.GetRequiredService<AdministratorService>().ResumeSessionAsync(
                    principal.Identity?.Name, principal.FindFirstValue(ScopeClaim), principal.FindFirstValue(SecurityStampClaim), cancellationToken).ConfigureAwait(false) is not null;
        }

        if (!good)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(ConsoleExtensions.Scheme).ConfigureAwait(false);
        }
    }
}

/// <summary>The signed-in administrator, read from the cookie's claims.</summary>
public sealed record ConsoleUser(string Name, ScopePath Scope)
{
    public bool Administers(ScopePath scope) => scope.IsSameOrDescendantOf(Scope);

    /// <summary>SMTP connections are shared by every scope: only administrators of <c>/</c> see or change them.</summary>
    public bool IsGlobal => Scope.IsRoot;

    /// <summary>The administrator of an administrator's session; null for a person's session, or
    /// one without a scope (no scope is ever assumed: a default would make somebody an administrator).</summary>
    public static ConsoleUser? From(ClaimsPrincipal principal) =>
        principal is not null && ConsoleSessions.IsAdministrator(principal) && principal.Identity?.Name is { Length: > 0 } name
        && ScopePath.TryParse(principal.FindFirstValue(ConsoleSessions.ScopeClaim), out var scope, out _)
            ? new ConsoleUser(name, scope)
            : null;
}
