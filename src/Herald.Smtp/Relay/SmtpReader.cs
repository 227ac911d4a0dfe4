namespace Herald.Relay;

/// <summary>One line as the client sent it, up to its LF.</summary>
/// <param name="Content">The line without its line end; at most the requested length (a longer
/// line is cut, and <paramref name="TooLong"/> says so). Valid until the next read.</param>
/// <param name="EndsWithCrlf">The line ended with CR LF; false for a bare LF.</param>
/// <param name="HasBareCr">A CR not followed by LF appeared in the line.</param>
/// <param name="TooLong">The line, with its line end, was longer than allowed.</param>
internal readonly record struct SmtpLine(ReadOnlyMemory<byte> Content, bool EndsWithCrlf, bool HasBareCr, bool TooLong)
{
    public bool IsStrict => EndsWithCrlf && !HasBareCr && !TooLong;
}

/// <summary>
/// Reads the client's lines from the connection with its own buffer, so that the session can tell
/// whether the client sent more than the line just read (pipelining checks) and can throw away
/// what was sent in plain text before a TLS handshake (CVE-2011-0411). Memory stays bounded: of a
/// line longer than the limit only the limit is kept.
/// </summary>
internal sealed class SmtpReader(Stream stream)
{
    private const byte Cr = (byte)'\r';
    private const byte Lf = (byte)'\n';

    private readonly byte[] _buffer = new byte[16 * 1024];
    private byte[] _line = new byte[1024];
    private int _start;
    private int _end;

    /// <summary>The stream read from; replaced by the TLS stream after STARTTLS.</summary>
    public Stream Stream { get; set; } = stream;

    /// <summary>Bytes received and not yet read as a line.</summary>
    public bool HasBufferedData => _end > _start;

    /// <summary>Forgets everything received and not yet read.</summary>
    public void DiscardBuffered() => _start = _end = 0;

    /// <summary>Reads one line ending in LF; null when the client closed the connection (a
    /// partial last line is dropped).</summary>
    /// <param name="maxLength">Most octets of the line including its CR LF.</param>
    public async ValueTask<SmtpLine?> ReadLineAsync(int maxLength, CancellationToken cancellationToken)
    {
        if (_line.Length < maxLength)
        {
            _line = new byte[maxLength];
        }

        var length = 0L;
        var kept = 0;
        var bareCr = false;
        var lastWasCr = false;
        while (true)
        {
            if (_start == _end && !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            var available = _buffer.AsSpan(_start, _end - _start);
            var lf = available.IndexOf(Lf);
            var chunk = lf >= 0 ? available[..lf] : available;
            if (chunk.Length > 0)
            {
                bareCr |= lastWasCr || chunk[..^1].Contains(Cr);
                lastWasCr = chunk[^1] == Cr;
                var copy = Math.Min(chunk.Length, _line.Length - kept);
                chunk[..copy].CopyTo(_line.AsSpan(kept));
                kept += copy;
                length += chunk.Length;
            }

            _start += lf >= 0 ? lf + 1 : chunk.Length;
            if (lf < 0)
            {
                continue;
            }

            // The line with its LF: length + 1 octets, of which the CR (if any) is part of length.
            var tooLong = length + 1 > maxLength;
            var contentLength = lastWasCr ? length - 1 : length;
            var content = _line.AsMemory(0, (int)Math.Min(contentLength, kept));
            return new SmtpLine(content, lastWasCr, bareCr, tooLong);
        }
    }

    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        _start = _end = 0;
        var read = await Stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
        _end = read;
        return read > 0;
    }
}
