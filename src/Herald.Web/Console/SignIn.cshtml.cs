using System.Net;
using Herald.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console;

public sealed class SignInModel(AdministratorService administrators) : ConsolePage
{
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
