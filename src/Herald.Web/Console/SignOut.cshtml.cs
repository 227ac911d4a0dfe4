using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console;

public sealed class SignOutModel : ConsolePage
{
    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(ConsoleExtensions.Scheme);
        return Redirect("/signin");
    }
}
