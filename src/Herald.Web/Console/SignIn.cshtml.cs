using Herald.Access;
using Microsoft.AspNetCore.Authentication;
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
        NoAdministrator = (await administrators.ListAsync(HttpContext.RequestAborted)).Count == 0;
    }

    public async Task<IActionResult> OnPostAsync(string? name, string? password, string? returnUrl)
    {
        Name = name;
        ReturnUrl = LocalOrHome(returnUrl);
        switch (await administrators.SignInAsync(name?.Trim(), password, HttpContext.RequestAborted))
        {
            case AdministratorSignIn.Success success:
                await HttpContext.SignInAsync(ConsoleExtensions.Scheme, ConsoleExtensions.Principal(success.Administrator));
                return LocalRedirect(ReturnUrl);
            case AdministratorSignIn.LockedOut locked:
                Problem = $"This account is locked after {AdministratorService.MaxFailures} failed sign-ins, until {locked.Until:HH:mm} UTC. Try again then, or ask an administrator to run 'herald admin reset-password'.";
                break;
            default:
                Problem = "That name and password do not match an administrator.";
                break;
        }

        Response.StatusCode = StatusCodesFor(Problem);
        return Page();
    }

    private static int StatusCodesFor(string? problem) => problem is null ? 200 : 401;

    private string LocalOrHome(string? url) => url is not null && Url.IsLocalUrl(url) ? url : "/";
}
