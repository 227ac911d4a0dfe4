using System.Text;

namespace Herald;

/// <summary>How lists are exported (suppressions, dead letters): CSV or JSON, chosen by a
/// <c>format</c> field, streamed row by row so that an export never holds the whole list.</summary>
public static class Exports
{
    /// <summary>The refusal of a format that is neither; <paramref name="csv"/> says which it is
    /// (CSV when none is given).</summary>
    public static Refusal? ParseFormat(string? format, out bool csv)
    {
        csv = format is null || string.Equals(format.Trim(), "csv", StringComparison.OrdinalIgnoreCase);
        return csv || string.Equals(format?.Trim(), "json", StringComparison.OrdinalIgnoreCase)
            ? null
            : Refusal.Invalid("format", "The format is csv or json.");
    }

    /// <summary>RFC 4180: a header line, then one line of <paramref name="cells"/> per row, CRLF after each.</summary>
    public static async Task WriteCsvAsync<T>(Stream output, string header, IAsyncEnumerable<T> rows, Func<T, IEnumerable<string>> cells, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(cells);
        var writer = new StreamWriter(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            writer.NewLine = "\r\n";
            await writer.WriteLineAsync(header.AsMemory(), cancellationToken).ConfigureAwait(false);
            await foreach (var row in rows.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                await writer.WriteLineAsync(string.Join(',', cells(row).Select(CsvCell)).AsMemory(), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A CSV cell (RFC 4180) that a spreadsheet shows as text: a cell that would start a
    /// formula (=, +, -, @, or a tab or carriage return before one) is prefixed with an
    /// apostrophe (OWASP's CSV injection advice); quotes, commas and line breaks are quoted.</summary>
    public static string CsvCell(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
