using System.Globalization;
using System.Text;

namespace Herald;

/// <summary>
/// What a client typed, made safe for a log line: the relay's AUTH user names, EHLO names and
/// envelope addresses come from whoever connects. Control characters (a CR LF would forge a log
/// line), format characters (a right-to-left override would make a line read differently) and
/// unpaired surrogates are written as <c>\u202E</c>-style escapes, a backslash as <c>\\</c>, so
/// that the line shows exactly what was sent and nothing else; the text is cut after
/// <see cref="MaxLength"/> characters, saying how many more there were.
/// </summary>
public static class LogText
{
    /// <summary>The most characters of one client-supplied value a log line shows.</summary>
    public const int MaxLength = 128;

    public static string Untrusted(string? text)
    {
        if (text is null)
        {
            return "(none)";
        }

        var shown = text.Length > MaxLength ? text[..MaxLength] : text;
        var builder = new StringBuilder(shown.Length + 16);
        for (var i = 0; i < shown.Length; i++)
        {
            var c = shown[i];
            if (char.IsHighSurrogate(c) && i + 1 < shown.Length && char.IsLowSurrogate(shown[i + 1]))
            {
                builder.Append(c).Append(shown[++i]);
            }
            else if (c == '\\')
            {
                builder.Append(@"\\");
            }
            else if (char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        if (text.Length > MaxLength)
        {
            builder.Append(CultureInfo.InvariantCulture, $"…(+{text.Length - MaxLength} characters)");
        }

        return builder.ToString();
    }
}
