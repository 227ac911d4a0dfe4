using System.Text;

namespace Herald.Bench.Report;

/// <summary>Rows of cells as aligned plain text: the first columns (names) left-aligned, the rest
/// (figures) right-aligned, two spaces between columns.</summary>
internal static class TextTable
{
    public static string Format(IReadOnlyList<string[]> rows, int textColumns)
    {
        var columns = rows.Max(r => r.Length);
        var widths = Enumerable.Range(0, columns).Select(c => rows.Max(r => c < r.Length ? r[c].Length : 0)).ToArray();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            text.AppendLine(string.Join("  ", row.Select((cell, c) => c < textColumns ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        }

        return text.ToString();
    }
}
