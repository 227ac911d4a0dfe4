using System.Text;

namespace Herald.Cli;

/// <summary>
/// The service's settings file (<c>/etc/herald/herald.env</c> where the package is installed),
/// named by <c>HERALD_ENV_FILE</c>: a verb run by hand reads it, so that <c>herald smtp set …</c>
/// changes the data the service uses. Read the way systemd reads <c>EnvironmentFile=</c>
/// (<c>NAME=value</c> lines, <c>#</c> or <c>;</c> comments, optional quotes), so the file means the same
/// to both. The process's own environment and the command's options win over it.
/// </summary>
internal static class EnvironmentFile
{
    public const string Variable = "HERALD_ENV_FILE";

    /// <summary>A settings file is a few dozen lines; anything far larger is not one.</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>The file's variables, or the sentence that says why they could not be read.</summary>
    public static (IReadOnlyDictionary<string, string>? Variables, string? Problem) Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            if (stream.Length > MaxBytes)
            {
                return (null, $"The settings file {path} ({Variable}) is larger than {MaxBytes / 1024} KiB; it is not a settings file.");
            }

            using var reader = new StreamReader(stream, Encoding.UTF8);
            return Parse(reader.ReadToEnd(), path);
        }
        catch (FileNotFoundException)
        {
            // The package's command names the file before anyone wrote it: nothing to read.
            return (new Dictionary<string, string>(), null);
        }
        catch (UnauthorizedAccessException)
        {
            return (null, $"The service's settings file {path} ({Variable}) cannot be read by this user: run the command as root or as the service's user, or set {Variable}= (empty) to use neither it nor the service's data.");
        }
        catch (IOException ex)
        {
            return (null, $"The settings file {path} ({Variable}) cannot be read: {ex.Message}");
        }
    }

    public static (IReadOnlyDictionary<string, string>? Variables, string? Problem) Parse(string text, string path)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line["export ".Length..].TrimStart();
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? line[..equals].TrimEnd() : "";
            if (!IsName(name))
            {
                return (null, $"Line {number} of the settings file {path} is not NAME=value.");
            }

            if (Value(line[(equals + 1)..].Trim()) is not { } value)
            {
                return (null, $"Line {number} of the settings file {path} has a quoted value that does not end with its quote.");
            }

            variables[name] = value;
        }

        return (variables, null);
    }

    private static bool IsName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary>A value as systemd reads it: quoted values keep their spaces, and in double
    /// quotes a backslash escapes the next character; an unquoted value is taken as written.</summary>
    private static string? Value(string value)
    {
        if (value.Length == 0 || value[0] is not ('"' or '\''))
        {
            return value;
        }

        var quote = value[0];
        var result = new StringBuilder();
        for (var i = 1; i < value.Length; i++)
        {
            var c = value[i];
            if (c == quote)
            {
                return i == value.Length - 1 ? result.ToString() : null;
            }

            if (c == '\\' && quote == '"' && i + 1 < value.Length)
            {
                c = value[++i];
            }

            result.Append(c);
        }

        return null;
    }
}
