using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Settings;

namespace Herald.Notifications;

/// <summary>
/// Users and groups read from an import file, each with its place for error messages
/// (<c>users[3]</c> in JSON, <c>line 7</c> in CSV), plus the errors of reading the file itself.
/// Formats (README "Directory"):
/// <list type="bullet">
/// <item>JSON: <c>{"users":[{"id","name","email","timeZone","language"}],
/// "groups":[{"id","name","alias","delivery","members":["user:alice","group:team"]}]}</c></item>
/// <item>CSV (RFC 4180, a header line first): <c>kind,id,name,email,time_zone,language,members,alias,delivery</c>,
/// kind <c>user</c> or <c>group</c>, members separated by spaces or <c>;</c>; columns in any order,
/// those a row does not use left empty.</item>
/// </list>
/// </summary>
public sealed record DirectoryImport(
    IReadOnlyList<(string Where, UserUpdate User)> Users,
    IReadOnlyList<(string Where, GroupUpdate Group)> Groups,
    IReadOnlyList<FieldError> Errors)
{
    public static readonly IReadOnlyList<string> CsvColumns = ["kind", "id", "name", "email", "time_zone", "language", "members", "alias", "delivery"];

    private static readonly string[] RequiredColumns = ["kind", "id", "name"];

    private static readonly char[] MemberSeparators = [' ', ';', '\t'];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        MaxDepth = 8,
    };

    public static DirectoryImport FromJson(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ImportFile? file;
        try
        {
            file = JsonSerializer.Deserialize<ImportFile>(text.TrimStart('\uFEFF'), Json);
        }
        catch (JsonException ex)
        {
            return Failed("body", $"The JSON import cannot be read: {ex.Message}");
        }

        if (file is null)
        {
            return Failed("body", "The JSON import is empty: give {\"users\": [...], \"groups\": [...]}.");
        }

        var users = (file.Users ?? []).Select((u, i) => ($"users[{i}]", new UserUpdate(u?.Id)
        {
            Name = u?.Name, Email = u?.Email, TimeZone = u?.TimeZone, Language = u?.Language,
        })).ToArray();
        var groups = (file.Groups ?? []).Select((g, i) => ($"groups[{i}]", new GroupUpdate(g?.Id)
        {
            Name = g?.Name, Alias = g?.Alias, Delivery = g?.Delivery, Members = g?.Members ?? [],
        })).ToArray();
        return new DirectoryImport(users, groups, []);
    }

    public static DirectoryImport FromCsv(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        // Spreadsheets save CSV with a byte order mark; it is not part of the first column's name.
        var records = ReadCsv(text.TrimStart('\uFEFF'), out var csvError);
        if (csvError is not null)
        {
            return Failed("body", csvError);
        }

        if (records.Count == 0)
        {
            return Failed("body", $"The CSV import is empty: its first line names the columns ({string.Join(',', CsvColumns)}).");
        }

        var header = records[0].Fields.Select(h => h.Trim().ToLowerInvariant()).ToArray();
        var errors = new List<FieldError>();
        foreach (var unknown in header.Where(h => !CsvColumns.Contains(h)))
        {
            errors.Add(new($"line {records[0].Line}", $"Unknown column '{unknown}': the columns are {string.Join(',', CsvColumns)}."));
        }

        foreach (var required in RequiredColumns.Where(r => !header.Contains(r)))
        {
            errors.Add(new($"line {records[0].Line}", $"The column '{required}' is missing."));
        }

        if (errors.Count > 0)
        {
            return new DirectoryImport([], [], errors);
        }

        var users = new List<(string, UserUpdate)>();
        var groups = new List<(string, GroupUpdate)>();
        foreach (var (line, fields) in records.Skip(1))
        {
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue;
            }

            var where = $"line {line}";
            if (fields.Count != header.Length)
            {
                errors.Add(new(where, $"The line has {fields.Count} fields; the header has {header.Length}."));
                continue;
            }

            string? Field(string column) => Array.IndexOf(header, column) is var i and >= 0 && fields[i].Length > 0 ? fields[i] : null;
            switch (Field("kind")?.Trim().ToLowerInvariant())
            {
                case "user":
                    users.Add((where, new UserUpdate(Field("id")?.Trim())
                    {
                        Name = Field("name"), Email = Field("email"), TimeZone = Field("time_zone"), Language = Field("language"),
                    }));
                    break;
                case "group":
                    groups.Add((where, new GroupUpdate(Field("id")?.Trim())
                    {
                        Name = Field("name"),
                        Alias = Field("alias"),
                        Delivery = Field("delivery"),
                        Members = (Field("members") ?? "").Split(MemberSeparators, StringSplitOptions.RemoveEmptyEntries),
                    }));
                    break;
                case var kind:
                    errors.Add(new($"{where}.kind", $"'{kind}' is not a kind: write user or group."));
                    break;
            }
        }

        return new DirectoryImport(users, groups, errors);
    }

    /// <summary>A file a door could not read at all, with the reason.</summary>
    public static DirectoryImport Unreadable(string reason) => Failed("file", reason);

    /// <summary>A file larger than a door accepts, read no further.</summary>
    public static DirectoryImport TooLarge(long maxBytes) =>
        Failed("body", $"An import is at most {maxBytes / (1024 * 1024)} MiB; split it into several imports.");

    private static DirectoryImport Failed(string field, string message) => new([], [], [new(field, message)]);

    /// <summary>RFC 4180 records with the line each starts on: fields split at commas, quoted fields
    /// may hold commas, doubled quotes and line breaks.</summary>
    private static List<(int Line, List<string> Fields)> ReadCsv(string text, out string? error)
    {
        var records = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var start = 1;
        var quoted = false;
        error = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    line += c == '\n' ? 1 : 0;
                    field.Append(c);
                }
            }
            else if (c == '"' && field.Length == 0)
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c is '\n' or '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }

                fields.Add(field.ToString());
                field.Clear();
                records.Add((start, fields));
                fields = [];
                start = ++line;
            }
            else
            {
                field.Append(c);
            }
        }

        if (quoted)
        {
            error = $"Line {start}: a quoted field is not closed.";
        }

        if (field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            records.Add((start, fields));
        }

        // Leading blank lines do not count as the header.
        return records.SkipWhile(r => r.Item2.Count == 1 && r.Item2[0].Length == 0).ToList();
    }

    /// <summary>The JSON import's shape (also its OpenAPI schema): users and groups, each optional.</summary>
    public sealed record ImportFile(IReadOnlyList<ImportUser?>? Users, IReadOnlyList<ImportGroup?>? Groups);

    public sealed record ImportUser(string? Id, string? Name, string? Email, string? TimeZone, string? Language);

    public sealed record ImportGroup(string? Id, string? Name, string? Alias, string? Delivery, IReadOnlyList<string>? Members);
}
