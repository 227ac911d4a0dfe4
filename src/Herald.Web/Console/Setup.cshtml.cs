using Herald.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console;

public sealed class SetupModel(SetupLink link, AdministratorService administrators) : ConsolePage
{
    public bool LinkValid { get; private set; }

    public string? Token { get; private set; }

    public string? Name { get; private set; }

    public DateTimeOffset Expires => link.Expires;

    public IActionResult OnGet(string? token)
    {
        Token = token;
        LinkValid = link.IsValid(token);
        if (!LinkValid)
        {
            Response.StatusCode = 404;
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string? token, string? name, string? password, string? confirm)
    {
        Token = token;
        Name = name;
        LinkValid = link.IsValid(token);
        if (!LinkValid)
        {
            Response.StatusCode = 404;
            return Page();
        }

        if (password != confirm)
        {
            ModelState.AddModelError("confirm", "The two passwords differ.");
            return Page();
        }

        var created = await administrators.CreateFirstAsync(name?.Trim(), password, HttpContext.RequestAborted);
        if (created.Refusal is { } refusal)
        {
            AddErrors(refusal.Errors);
            return Page();
        }

        link.Spend();
        await ConsoleSessions.SignInAdministratorAsync(HttpContext, created.Value!);
        return Redirect("/");
    }
}
