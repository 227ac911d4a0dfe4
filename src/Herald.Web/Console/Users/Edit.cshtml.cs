using Herald.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Users;

/// <summary>Add or change one user (name, email, time zone, language), or remove them with their
/// memberships and access entries. Administrators of <c>/</c> only: the directory serves every scope.</summary>
public sealed class EditModel(DirectoryService service, IDirectoryStore store, DirectoryCache directory) : ConsolePage
{
    private static readonly Lazy<IReadOnlyList<(string Id, string Label)>> Zones = new(() =>
        TimeZoneInfo.GetSystemTimeZones()
            .Where(z => z.HasIanaId)
            .Select(z => (z.Id, $"{z.Id} (UTC{Offset(z.BaseUtcOffset)})"))
            .OrderBy(z => z.Id, StringComparer.Ordinal)
            .ToArray());

    /// <summary>Suggestions only: any BCP 47 tag is accepted.</summary>
    public static readonly string[] Languages = ["en", "en-GB", "en-US", "de", "de-CH", "fr", "fr-CA", "es", "it", "nl", "pt", "pt-BR", "sv", "da", "nb", "fi", "pl", "cs", "ja", "ko", "zh-Hans", "zh-Hant"];

    public bool IsNew { get; private set; } = true;

    public string Id { get; private set; } = "";

    public string Name { get; private set; } = "";

    public string Email { get; private set; } = "";

    public string TimeZone { get; private set; } = DirectoryService.DefaultTimeZone;

    public string Language { get; private set; } = DirectoryService.DefaultLanguage;

    public IReadOnlyList<DirectoryGroup> Groups { get; private set; } = [];

    public IReadOnlyList<(string Id, string Label)> TimeZones { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(string? id)
    {
        if (!Admin.IsGlobal)
        {
            return RefuseDirectoryChange();
        }

        LoadChoices();
        if (id is null)
        {
            return Page();
        }

        if (await store.FindUserAsync(id, HttpContext.RequestAborted) is not { } user)
        {
            return NotFound();
        }

        IsNew = false;
        (Id, Name, Email, TimeZone, Language) = (user.Id, user.Name, user.Email.Value, user.TimeZone, user.Language);
        await LoadGroupsAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync([FromQuery(Name = "id")] string? existing, string? id, string? name, string? email, string? timeZone, string? language)
    {
        if (!Admin.IsGlobal)
        {
            return RefuseDirectoryChange();
        }

        LoadChoices();
        IsNew = existing is null;
        (Id, Name, Email, TimeZone, Language) = ((existing ?? id ?? "").Trim(), name ?? "", email ?? "", timeZone ?? "", language ?? "");
        if (IsNew && await store.FindUserAsync(Id, HttpContext.RequestAborted) is not null)
        {
            ModelState.AddModelError("id", $"User '{Id}' exists already: pick another id, or edit that user.");
            Response.StatusCode = 400;
            return Page();
        }

        if (!IsNew && await store.FindUserAsync(Id, HttpContext.RequestAborted) is null)
        {
            return NotFound();
        }

        var (saved, created, errors) = await service.SetUserAsync(
            new UserUpdate(Id) { Name = Name, Email = Email, TimeZone = TimeZone, Language = Language }, HttpContext.RequestAborted);
        if (saved is null)
        {
            AddErrors(errors);
            await LoadGroupsAsync();
            Response.StatusCode = 400;
            return Page();
        }

        Notice = created ? $"Added user {saved.Name} ({saved.Id})." : $"Saved user {saved.Name} ({saved.Id}).";
        return Redirect($"/users?q={Uri.EscapeDataString(saved.Id)}");
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "id")] string? id)
    {
        if (!Admin.IsGlobal)
        {
            return RefuseDirectoryChange();
        }

        if (id is null || !await service.RemoveUserAsync(id, HttpContext.RequestAborted))
        {
            return NotFound();
        }

        Notice = $"Removed user {id} with their group memberships and access entries.";
        return Redirect("/users");
    }

    private void LoadChoices()
    {
        TimeZones = Zones.Value;
    }

    private async Task LoadGroupsAsync()
    {
        if (IsNew)
        {
            return;
        }

        var view = await directory.GetViewAsync(HttpContext.RequestAborted);
        Groups = view.GroupsOf(Id).Select(view.FindGroup).OfType<DirectoryGroup>().ToArray();
    }

    private static string Offset(TimeSpan offset) =>
        (offset < TimeSpan.Zero ? "−" : "+") + offset.Duration().ToString(@"hh\:mm", System.Globalization.CultureInfo.InvariantCulture);
}
