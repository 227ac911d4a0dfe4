using Herald.Notifications;
using Herald.Notifications.SelfService;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Web.Console.SelfService;

/// <summary>
/// An emailed sign-in link. Opening it (GET) only shows whose it is and a button, so a mail
/// scanner or a link preview that fetches it spends nothing; the button's POST uses the link, once,
/// and signs the person in.
/// </summary>
public sealed class UseLinkModel(SignInLinks links) : ConsolePage
{
    public DirectoryUser? Person { get; private set; }

    public string Token { get; private set; } = "";

    public async Task<IActionResult> OnGetAsync(string? token)
    {
        Token = token ?? "";
        (Person, _) = await links.PeekAsync(token, HttpContext.RequestAborted);
        return Person is null ? Gone() : Page();
    }

    public async Task<IActionResult> OnPostAsync(string? token)
    {
        Token = token ?? "";
        var (user, _) = await links.UseAsync(token, HttpContext.RequestAborted);
        if (user is null)
        {
            return Gone();
        }

        await ConsoleSessions.SignInPersonAsync(HttpContext, user, PersonSignInMethods.Link);
        return Redirect("/me");
    }

    /// <summary>Unknown, altered, expired and used links alike: 410, and the way to a new one.</summary>
    private PageResult Gone()
    {
        Person = null;
        Response.StatusCode = StatusCodes.Status410Gone;
        return Page();
    }
}
