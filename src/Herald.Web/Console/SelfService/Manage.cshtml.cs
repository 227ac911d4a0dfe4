using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.SelfService;
using Herald.Notifications.Subscriptions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Web.Console.SelfService;

/// <summary>
/// The "Manage your alerts" link of a notification or digest. Opening it (GET) shows the person's
/// alerts read-only, so a mail scanner that fetches every link changes nothing; the "Continue as"
/// button's POST, with anti-forgery, checks the link again and signs the person in.
/// </summary>
public sealed class ManageModel(ManageLinks links, MyAlertsService alerts) : ConsolePage
{
    public DirectoryUser? Person { get; private set; }

    public LinkProblem Problem { get; private set; }

    public MyAlerts? Alerts { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? token)
    {
        (Person, Problem) = await links.ReadAsync(token, HttpContext.RequestAborted);
        if (Person is null)
        {
            return Refused();
        }

        // The link is the person's proof: what it shows is what they would see signed in.
        Alerts = await alerts.ShowAsync(new Caller.Person(Person.Id), HttpContext.RequestAborted);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string? token)
    {
        (Person, Problem) = await links.ReadAsync(token, HttpContext.RequestAborted);
        if (Person is null)
        {
            return Refused();
        }

        await ConsoleSessions.SignInPersonAsync(HttpContext, Person, PersonSignInMethods.ManageLink);
        return Redirect("/me");
    }

    /// <summary>A link that is not Herald's, or names an address the user no longer has: 404; one
    /// past its lifetime: 410. Either way the page offers a sign-in link instead.</summary>
    private PageResult Refused()
    {
        Response.StatusCode = Problem == LinkProblem.Expired ? StatusCodes.Status410Gone : StatusCodes.Status404NotFound;
        return Page();
    }
}
