using System.Text;
using Herald.Notifications;
using Herald.Web.Notifications;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Herald.Web.Console.Users;

/// <summary>Uploads a CSV or JSON file of users and groups (the formats of <c>herald directory
/// import</c>); all or nothing, and every problem is listed with its line or item.
/// <see cref="DirectoryService"/> decides: administrators of <c>/</c> only.</summary>
[RequestSizeLimit(DirectoryApi.MaxImportBytes + 64 * 1024)]
[RequestFormLimits(MultipartBodyLengthLimit = DirectoryApi.MaxImportBytes + 64 * 1024, ValueCountLimit = 20)]
public sealed class ImportModel(DirectoryService service) : ConsolePage
{
    public IReadOnlyList<FieldError> Problems { get; private set; } = [];

    public string? FileName { get; private set; }

    public IActionResult OnGet() => DirectoryService.RefuseChange(Caller) is { } refusal ? Refused(refusal, Page) : Page();

    public async Task<IActionResult> OnPostAsync(IFormFile? file)
    {
        if (file is null || file.Length == 0)
        {
            return DirectoryService.RefuseChange(Caller) is { } refusal
                ? Refused(refusal, Page)
                : Refused(Refusal.Invalid("file", "Choose a .csv or .json file to import."), Page);
        }

        FileName = Path.GetFileName(file.FileName);
        async Task<DirectoryImport> ReadAsync(CancellationToken cancellationToken)
        {
            if (file.Length > DirectoryApi.MaxImportBytes)
            {
                return DirectoryImport.TooLarge(DirectoryApi.MaxImportBytes);
            }

            using var reader = new StreamReader(file.OpenReadStream(), Encoding.UTF8);
            var text = await reader.ReadToEndAsync(cancellationToken);
            var json = FileName.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                || (!FileName.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n').StartsWith('{'));
            return json ? DirectoryImport.FromJson(text) : DirectoryImport.FromCsv(text);
        }

        var report = await service.ImportAsync(Caller, ReadAsync, HttpContext.RequestAborted);
        if (report.Refusal is { Kind: RefusalKind.Invalid } invalid)
        {
            // Core's sentence next to the file; each problem in the list below it, by line or item.
            Problems = invalid.Errors;
            return Refused(invalid with { Errors = [new FieldError("file", invalid.Sentence)] }, Page);
        }

        if (report.Refusal is { } refused)
        {
            return Refused(refused, Page);
        }

        var done = report.Value!;
        Notice = $"Imported {FileName}: {done.UsersAdded} user(s) added, {done.UsersChanged} changed; {done.GroupsAdded} group(s) added, {done.GroupsChanged} changed.";
        return Redirect("/users");
    }

    /// <summary>"line 7.members[2]" reads as "line 7", "members[2]".</summary>
    public static (string Where, string Field) Split(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        var dot = field.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? (field, "") : (field[..dot], field[(dot + 1)..]);
    }
}
