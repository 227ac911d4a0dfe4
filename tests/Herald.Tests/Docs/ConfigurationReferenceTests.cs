using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Herald.Cli;
using Herald.Storage.Database;
using Herald.Testing;
using Herald.Web;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Tests.Docs;

/// <summary>
/// docs/configuration.md is the reference of every setting; these tests hold it to the options
/// classes the node binds (<see cref="BoundOptionsSection"/>) and the variables the commands read,
/// so that a setting added, renamed or given another default cannot leave the page behind.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    /// <summary>Settings whose default is computed when the node starts, so the page describes it
    /// in words instead of a value: why, per setting.</summary>
    private static readonly Dictionary<string, string> ComputedDefaults = new(StringComparer.Ordinal)
    {
        // Half the machine's cores: a literal would be this machine's.
        ["HERALD_SignIn__HashesAtOnce"] = "half the cores",
        // Serve's first --urls entry: the class's own value is only what a verb without one uses.
        ["HERALD_Notifications__PublicBaseUrl"] = "serve's first --urls entry",
    };

    [Fact]
    public void Every_bound_setting_has_a_row_in_the_reference()
    {
        var rows = ReferenceRows();
        var missing = BoundSettings().Where(s => !rows.ContainsKey(s.Name)).ToList();

        Assert.True(missing.Count == 0,
            "docs/configuration.md has no row for:\n" + string.Join('\n', missing.Select(s => $"| `{s.Name}` | {FormatDefault(s)} | |")));
    }

    [Fact]
    public void Every_documented_default_is_the_one_the_code_has()
    {
        var settings = BoundSettings();
        var wrong = new List<string>();
        foreach (var file in DocumentationFiles())
        {
            var rows = Rows(file);
            foreach (var setting in settings.Where(s => rows.ContainsKey(s.Name)))
            {
                var (where, cell) = ($"{Path.GetFileName(file)}: {setting.Name}", rows[setting.Name]);
                var literal = LeadingCode().Match(cell);
                if (literal.Success && !SameValue(setting, literal.Groups[1].Value))
                {
                    wrong.Add($"{where}: the page says `{literal.Groups[1].Value}`, the code's default is {FormatDefault(setting)}");
                }

                // A default in words only where there is no single literal to give.
                if (!literal.Success && !ComputedDefaults.ContainsKey(setting.Name) && setting.Default is not (null or Array { Length: 0 }))
                {
                    wrong.Add($"{where}: the page says \"{cell}\", the code's default is {FormatDefault(setting)}");
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    [Fact]
    public void Every_setting_the_documentation_names_exists()
    {
        var known = BoundSettings().Select(s => s.Name).Concat(VariablesInCode()).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var unknown = new List<string>();
        foreach (var file in DocumentationFiles())
        {
            foreach (Match name in VariableName().Matches(File.ReadAllText(file)))
            {
                // An array's items are named by index (HERALD_Delivery__RetryDelays__0).
                var setting = ArrayIndex().Replace(name.Value, "__0");
                if (!known.Contains(setting) && !known.Contains(name.Value))
                {
                    unknown.Add($"{Path.GetFileName(file)}: {name.Value}");
                }
            }
        }

        Assert.True(unknown.Count == 0, "These settings are documented but nothing reads them:\n" + string.Join('\n', unknown.Distinct()));
    }

    [Fact]
    public void Every_variable_a_command_reads_has_a_row_in_the_reference()
    {
        var rows = ReferenceRows();
        var missing = CommandVariables().Where(v => !rows.ContainsKey(v)).ToList();

        Assert.True(missing.Count == 0, "docs/configuration.md has no row for:\n" + string.Join('\n', missing));
    }

    private sealed record Setting(string Name, Type Type, object? Default);

    /// <summary>Every property an operator can set, named as a <c>HERALD_…</c> variable, with the
    /// default a fresh options object has.</summary>
    private static IReadOnlyList<Setting> BoundSettings()
    {
        var console = new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, _ => null, InteractiveInput: false);
        var directory = Path.Combine(Path.GetTempPath(), "herald-configuration-reference");
        var services = new ServiceCollection()
            .AddHeraldNode(directory, new SqliteDatabase(directory), console)
            .AddHeraldWorkers()
            .AddHeraldWeb();
        var sections = services
            .Select(d => d.IsKeyedService ? null : d.ImplementationInstance)
            .OfType<BoundOptionsSection>()
            .ToList();
        Assert.NotEmpty(sections);

        return [.. sections.SelectMany(section =>
        {
            var options = Activator.CreateInstance(section.Type)!;
            var prefix = "HERALD_" + section.Section.Replace(":", "__", StringComparison.Ordinal) + "__";
            return section.Type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.SetMethod is { IsPublic: true })
                .Select(p => new Setting(prefix + p.Name + (p.PropertyType.IsArray ? "__0" : ""), p.PropertyType, p.GetValue(options)));
        }).OrderBy(s => s.Name, StringComparer.Ordinal)];
    }

    /// <summary>The variables the commands read by name (HERALD_URLS, HERALD_DATABASE…), as the
    /// code spells them.</summary>
    private static IReadOnlyList<string> CommandVariables() =>
        [.. Repository.Files("src", "*.cs")
            .SelectMany(f => QuotedVariable().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)];

    /// <summary>Every HERALD_ name the repository's code and scripts mention: the commands', and
    /// those of the tests, benchmarks and packaging that the documentation also explains.</summary>
    private static IEnumerable<string> VariablesInCode() =>
        new[] { "src", "tests", "bench", "packaging", "tools", ".ci" }
            .SelectMany(d => Repository.Files(d, "*.cs").Concat(Repository.Files(d, "*.sh")))
            .Append(Repository.PathOf("test.sh"))
            .Where(File.Exists)
            .SelectMany(f => VariableName().Matches(File.ReadAllText(f)).Select(m => m.Value));

    private static Dictionary<string, string> ReferenceRows() => Rows(Repository.PathOf("docs", "configuration.md"));

    /// <summary>A page's settings table rows: the variable in the first cell, the default in the second.</summary>
    private static Dictionary<string, string> Rows(string file)
    {
        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(file))
        {
            var row = ReferenceRow().Match(line);
            if (row.Success)
            {
                rows[row.Groups["name"].Value] = row.Groups["default"].Value.Trim();
            }
        }

        return rows;
    }

    private static IEnumerable<string> DocumentationFiles()
    {
        return Directory.EnumerateFiles(Repository.PathOf("docs"), "*.md").Append(Repository.PathOf("README.md"));
    }

    private static bool SameValue(Setting setting, string literal)
    {
        if (setting.Type.IsArray)
        {
            var element = setting.Type.GetElementType()!;
            var items = literal.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(i => Convert(element, i)).ToArray();
            return setting.Default is Array values && values.Cast<object>().SequenceEqual(items);
        }

        return Equals(Convert(setting.Type, literal), setting.Default);
    }

    /// <summary>A value as the configuration binder reads it from a variable.</summary>
    private static object? Convert(Type type, string text) =>
        TypeDescriptor.GetConverter(Nullable.GetUnderlyingType(type) ?? type).ConvertFromInvariantString(text);

    private static string FormatDefault(Setting setting) => setting.Default switch
    {
        null => "(none)",
        Array values => values.Length == 0 ? "(empty)" : "`" + string.Join(", ", values.Cast<object>().Select(Format)) + "`",
        var value => "`" + Format(value) + "`",
    };

    private static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    [GeneratedRegex(@"^\|\s*`(?<name>HERALD_[A-Za-z0-9_]+)`\s*\|(?<default>[^|]*)\|")]
    private static partial Regex ReferenceRow();

    [GeneratedRegex(@"^`([^`]*)`")]
    private static partial Regex LeadingCode();

    [GeneratedRegex(@"HERALD_[A-Za-z][A-Za-z0-9_]*[A-Za-z0-9]")]
    private static partial Regex VariableName();

    [GeneratedRegex(@"__\d+$")]
    private static partial Regex ArrayIndex();

    [GeneratedRegex("\"(HERALD_[A-Z][A-Z0-9_]*[A-Z0-9])\"")]
    private static partial Regex QuotedVariable();
}
