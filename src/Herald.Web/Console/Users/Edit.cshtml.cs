using Herald.Notifications;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Users;

/// <summary>Add or change one user (name, email, time zone, language), or remove them with their
/// memberships and access entries. <see cref="DirectoryService"/> decides: administrators of
/// <c>/</c> only, since the directory serves every scope.</summary>
public sealed class EditModel(DirectoryService service, DirectoryCache directory) : ConsolePage
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
        if (DirectoryService.RefuseChange(Caller) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        TimeZones = Zones.Value;
        if (id is null)
        {
            return Page();
        }

        var found = await service.FindUserAsync(Caller, id, HttpContext.RequestAborted);
        if (found.Value is not { } user)
        {
            return Refused(found.Refusal!, Page);
        }

        if (DirectoryService.RefuseSynced(user) is { } synced)
        {
            return Refused(synced, Page);
        }

        IsNew = false;
        (Id, Name, Email, TimeZone, Language) = (user.Id, user.Name, user.Email.Value, user.TimeZone, user.Language);
        await LoadGroupsAsync();
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync([FromQuery(Name = "id")] string? existing, string? id, string? name, string? email, string? timeZone, string? language)
    {
        TimeZones = Zones.Value;
        IsNew = existing is null;
        (Id, Name, Email, TimeZone, Language) = (existing ?? id ?? "", name ?? "", email ?? "", timeZone ?? "", language ?? "");
        var saved = await service.SaveUserAsync(
            Caller, new UserUpdate(Id) { Name = Name, Email = Email, TimeZone = TimeZone, Language = Language }, IsNew ? SaveMode.Add : SaveMode.Change,
            HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadGroupsAsync();
            return Refused(refusal, Page);
        }

        var user = saved.Value!.Value;
        Notice = saved.Value.Created ? $"Added user {user.Name} ({user.Id})." : $"Saved user {user.Name} ({user.Id}).";
        return Redirect($"/users?q={Uri.EscapeDataString(user.Id)}");
    }

    public async Task<IActionResult> OnPostRemoveAsync([FromQuery(Name = "id")] string? id)
    {
        if (await service.RemoveUserAsync(Caller, id, HttpContext.RequestAborted) is { } refusal)
        {
            return Refused(refusal, Page);
        }

        Notice = $"Removed user {id} with their group memberships and access entries.";
        return Redirect("/users");
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
