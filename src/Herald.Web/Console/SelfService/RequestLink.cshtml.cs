using System.Net;
using Herald.Notifications.SelfService;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.SelfService;

/// <summary>
/// "Email me a sign-in link": anyone types an address and is told the same thing, whether or not
/// a directory user has it (<see cref="SignInLinks.RequestAsync"/> stores the request and answers;
/// the mail, if any, is sent later, off this request).
/// </summary>
public sealed class RequestLinkModel(SignInLinks links) : ConsolePage
{
    public string Email { get; private set; } = "";

    /// <summary>The request was taken: the page says what happens next, nothing more.</summary>
    public bool Requested { get; private set; }

    public string? Problem { get; private set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(string? email)
    {
        Email = email ?? "";
        var client = (HttpContext.Connection.RemoteIpAddress ?? IPAddress.None).ToString();
        var answer = await links.RequestAsync(email, client, HttpContext.RequestAborted);
        if (answer.Refusal is { } refusal)
        {
            AddErrors(refusal.Errors);
            Response.StatusCode = StatusCodes.Status422UnprocessableEntity;
            return Page();
        }

        if (answer.Value == SignInLinkAnswer.Limited)
        {
            // Not even the address is shown back: the answer is the same for every address.
            Email = "";
            Problem = "Too many sign-in links were asked for this address or from your network lately. Try again in an hour.";
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            return Page();
        }

        Requested = true;
        return Page();
    }
}
