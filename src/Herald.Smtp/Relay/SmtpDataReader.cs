namespace Herald.Relay;

/// <summary>How a DATA transfer ended.</summary>
internal enum DataOutcome
{
    /// <summary>Ended by CR LF . CR LF; every line ended with CR LF and the message fits.</summary>
    Complete,

    /// <summary>A bare LF or bare CR somewhere, or a "." line not ended by CR LF: read to the real
    /// end of data and refused as a whole (SMTP smuggling, CVE-2023-51764).</summary>
    BareLineEnd,

    /// <summary>A line longer than the text line limit.</summary>
    LineTooLong,

    /// <summary>More octets than the size limit; the rest was read and thrown away.</summary>
    TooLarge,

    /// <summary>The client closed the connection before the end of data.</summary>
    Disconnected,
}

/// <summary>
/// Reads the message after 354 up to the end-of-data line. End of data is only the sequence
/// CR LF . CR LF: a "." line counts only when it ends with CR LF and the line before it did too
/// (the CR LF of the DATA command for an empty message). Anything else that some other server
/// could take for an end (LF . LF, CR LF . LF, LF . CR LF, CR . CR) makes the whole message
/// refused, and reading goes on to the real end so that nothing after it is taken for a command.
/// </summary>
internal static class SmtpDataReader
{
    private const int Crlf = 2;

    /// <summary>Reads one message into <paramref name="message"/>: dot-unstuffed, CR LF line ends,
    /// without the final "." line. Nothing more is written once the message is refused.</summary>
    public static async ValueTask<DataOutcome> ReadAsync(SmtpReader reader, DataSink message, long maxBytes, int maxLineLength, CancellationToken cancellationToken)
    {
        var outcome = DataOutcome.Complete;
        var size = 0L;
        var previousEndedWithCrlf = true;
        while (true)
        {
            if (await reader.ReadLineAsync(maxLineLength, cancellationToken).ConfigureAwait(false) is not { } line)
            {
                return DataOutcome.Disconnected;
            }

            var content = line.Content;
            if (previousEndedWithCrlf && line.IsStrict && content.Span is [(byte)'.'])
            {
                return outcome;
            }

            if (!line.EndsWithCrlf || line.HasBareCr)
            {
                outcome = DataOutcome.BareLineEnd;
            }
            else if (line.TooLong && outcome == DataOutcome.Complete)
            {
                outcome = DataOutcome.LineTooLong;
            }

            previousEndedWithCrlf = line.EndsWithCrlf;
            if (content.Span is [(byte)'.', _, ..])
            {
                // Dot-stuffing (RFC 5321 §4.5.2): the client doubled a leading dot.
                content = content[1..];
            }

            size += content.Length + Crlf;
            if (size > maxBytes && outcome == DataOutcome.Complete)
            {
                outcome = DataOutcome.TooLarge;
            }

            if (outcome == DataOutcome.Complete)
            {
                await message.WriteLineAsync(content, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
