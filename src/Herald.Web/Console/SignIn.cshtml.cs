using System.Net;
using Herald.Access;
using Herald.Web.Console.OpenIdConnect;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console;

public sealed class SignInModel(AdministratorService administrators, SingleSignOn singleSignOn) : ConsolePage
{
    /// <summary>The organisation's provider, when single sign-on is on.</summary>
    public SingleSignOn SingleSignOn => singleSignOn;

    public string? Problem { get; private set; }

    public bool NoAdministrator { get; private set; }

    public string? Name { get; private set; }

    public string ReturnUrl { get; private set; } = "/";

    public async Task OnGetAsync(string? returnUrl)
    {
        ReturnUrl = LocalOrHome(returnUrl);
        NoAdministrator = !await administrators.AnyAsync(HttpContext.RequestAborted);
    }

    public async Task<IActionResult> OnPostAsync(string? name, string? password, string? returnUrl)
    {
        Name = name;
        ReturnUrl = LocalOrHome(returnUrl);
        if (!singleSignOn.LocalPasswords)
        {
            // Break-glass turned off: no password is even checked. The node's operator still has 'herald admin'.
            Problem = $"Local administrator passwords are turned off on this node: sign in with {singleSignOn.Options.DisplayName}. An operator on the node can still use 'herald admin'.";
            Response.StatusCode = StatusCodes.Status403Forbidden;
            return Page();
        }

        var client = HttpContext.Connection.RemoteIpAddress ?? IPAddress.None;
        switch (await administrators.SignInAsync(name?.Trim(), password, client, HttpContext.RequestAborted))
        {
            case AdministratorSignIn.Success success:
                await ConsoleSessions.SignInAdministratorAsync(HttpContext, success.Administrator);
                return LocalRedirect(ReturnUrl);
            case AdministratorSignIn.TryLater later:
                Problem = later.Sentence;
                Response.StatusCode = StatusCodes.Status429TooManyRequests;
                return Page();
            case AdministratorSignIn.Invalid invalid:
                Problem = invalid.Sentence;
                Response.StatusCode = StatusCodes.Status401Unauthorized;
                return Page();
            default:
                throw new InvalidOperationException("A sign-in ends in success, invalid or try later.");
        }
    }

    private string LocalOrHome(string? url) => url is not null && Url.IsLocalUrl(url) ? url : "/";
}
