using System.Text;
using Herald.Notifications;
using Herald.Settings;
using Herald.Web.Notifications;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Users;

/// <summary>Uploads a CSV or JSON file of users and groups (the formats of <c>herald directory
/// import</c>); all or nothing, and every problem is listed with its line or item.</summary>
[RequestSizeLimit(DirectoryApi.MaxImportBytes + 64 * 1024)]
[RequestFormLimits(MultipartBodyLengthLimit = DirectoryApi.MaxImportBytes + 64 * 1024, ValueCountLimit = 20)]
public sealed class ImportModel(DirectoryService service) : ConsolePage
{
    public IReadOnlyList<FieldError> Problems { get; private set; } = [];

    public string? FileName { get; private set; }

    public IActionResult OnGet() => Admin.IsGlobal ? Page() : RefuseDirectoryChange();

    public async Task<IActionResult> OnPostAsync(IFormFile? file)
    {
        if (!Admin.IsGlobal)
        {
            return RefuseDirectoryChange();
        }

        if (file is null || file.Length == 0)
        {
            ModelState.AddModelError("file", "Choose a .csv or .json file to import.");
            Response.StatusCode = 400;
            return Page();
        }

        FileName = Path.GetFileName(file.FileName);
        if (file.Length > DirectoryApi.MaxImportBytes)
        {
            ModelState.AddModelError("file", $"An import is at most {DirectoryApi.MaxImportBytes / (1024 * 1024)} MiB; split it into several files.");
            Response.StatusCode = 400;
            return Page();
        }

        string text;
        using (var reader = new StreamReader(file.OpenReadStream(), Encoding.UTF8))
        {
            text = await reader.ReadToEndAsync(HttpContext.RequestAborted);
        }

        var json = FileName.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            || (!FileName.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n').StartsWith('{'));
        var report = await service.ImportAsync(json ? DirectoryImport.FromJson(text) : DirectoryImport.FromCsv(text), HttpContext.RequestAborted);
        if (report.Errors.Count > 0)
        {
            Problems = report.Errors;
            ModelState.AddModelError("file", $"{FileName} has {report.Errors.Count} problem{(report.Errors.Count == 1 ? "" : "s")}; nothing was imported.");
            Response.StatusCode = 400;
            return Page();
        }

        Notice = $"Imported {FileName}: {report.UsersAdded} user(s) added, {report.UsersChanged} changed; {report.GroupsAdded} group(s) added, {report.GroupsChanged} changed.";
        return Redirect("/users");
    }

    /// <summary>"line 7.members[2]" reads as "line 7", "members[2]".</summary>
    public static (string Where, string Field) Split(string field)
    {
        var dot = field.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? (field, "") : (field[..dot], field[(dot + 1)..]);
    }
}
