using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Herald.Settings;

/// <summary>The character sets a scope may choose for its messages: any the platform can encode
/// that is ASCII-compatible, as MIME text requires (so UTF-16 and UTF-32 are refused).</summary>
public static class Charsets
{
    public const string Default = "utf-8";

    static Charsets() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>Makes the code-page encodings (ISO-2022-JP, Shift_JIS, GB2312…) available.</summary>
    public static void EnsureRegistered()
    {
        // The static constructor does the work; calling this forces it to run.
    }

    public static bool TryNormalize(string? name, [NotNullWhen(true)] out string? canonical, [NotNullWhen(false)] out string? error)
    {
        canonical = null;
        if (string.IsNullOrWhiteSpace(name))
        {
            error = "A character set name is required, such as utf-8 or iso-8859-1.";
            return false;
        }

        Encoding encoding;
        try
        {
            encoding = Encoding.GetEncoding(name.Trim());
        }
        catch (ArgumentException)
        {
            error = $"Unknown character set '{name}': use a name such as utf-8, iso-8859-1, shift_jis, iso-2022-jp or gb2312.";
            return false;
        }

        var probe = encoding.GetBytes("Az0");
        if (probe.Length != 3 || probe[0] != (byte)'A')
        {
            error = $"Character set '{name}' is not ASCII-compatible and cannot be used for email text: use utf-8 instead.";
            return false;
        }

        canonical = encoding.WebName;
        error = null;
        return true;
    }

    public static Encoding Get(string canonical) => Encoding.GetEncoding(canonical);
}
