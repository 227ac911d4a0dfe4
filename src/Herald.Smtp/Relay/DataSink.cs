using System.Buffers;
using Herald.Outbox;

namespace Herald.Relay;

/// <summary>
/// Where a message's DATA goes as it arrives: memory up to the relay's spool threshold, then a
/// spool file in the data directory, so that a hundred concurrent 25 MiB transfers cost disk, not
/// memory. Disposing it removes the file, on every path: stored, refused or cut off.
/// </summary>
internal sealed class DataSink : IDisposable
{
    private const int ChunkBytes = 64 * 1024;
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();

    private readonly MessageSpool _spool;
    private readonly long _threshold;
    private ArrayBufferWriter<byte>? _memory;
    private SpoolFile? _file;
    private byte[]? _chunk;
    private int _chunkUsed;

    /// <param name="declaredSize">MAIL FROM's SIZE: a transfer announced above the threshold goes
    /// to the file from its first byte.</param>
    public DataSink(MessageSpool spool, long threshold, long? declaredSize)
    {
        _spool = spool;
        _threshold = threshold;
        if (declaredSize > threshold)
        {
            Spill();
        }
        else
        {
            _memory = new ArrayBufferWriter<byte>((int)Math.Clamp(declaredSize ?? 0, 4096, Math.Max(threshold, 4096)));
        }
    }

    /// <summary>Octets written so far.</summary>
    public long Length { get; private set; }

    /// <summary>The message went to a spool file.</summary>
    public bool IsSpooled => _file is not null;

    /// <summary>Appends one line of the message and its CR LF.</summary>
    public async ValueTask WriteLineAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken)
    {
        if (_memory is { } memory && Length + line.Length + Crlf.Length <= _threshold)
        {
            memory.Write(line.Span);
            memory.Write(Crlf);
        }
        else
        {
            if (_memory is { } held)
            {
                // Past the threshold: what memory held so far goes first, and the buffer is let go.
                Spill();
                await AppendAsync(held.WrittenMemory, cancellationToken).ConfigureAwait(false);
            }

            await AppendAsync(line, cancellationToken).ConfigureAwait(false);
            await AppendAsync(Crlf, cancellationToken).ConfigureAwait(false);
        }

        Length += line.Length + Crlf.Length;
    }

    /// <summary>The message as written: bytes in memory, or the spool file, which stays until
    /// this sink is disposed.</summary>
    public async ValueTask<MimeData> CompleteAsync(CancellationToken cancellationToken)
    {
        if (_file is not { } file)
        {
            return MimeData.FromBytes(_memory!.WrittenSpan.ToArray());
        }

        await FlushAsync(cancellationToken).ConfigureAwait(false);
        return MimeData.InSpool(file);
    }

    public void Dispose()
    {
        _file?.Dispose();
        if (_chunk is not null)
        {
            ArrayPool<byte>.Shared.Return(_chunk);
            _chunk = null;
        }
    }

    private void Spill()
    {
        _file = _spool.Create();
        _chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        _memory = null;
    }

    private async ValueTask AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (bytes.Length > 0)
        {
            var taken = Math.Min(bytes.Length, _chunk!.Length - _chunkUsed);
            bytes.Span[..taken].CopyTo(_chunk.AsSpan(_chunkUsed));
            _chunkUsed += taken;
            bytes = bytes[taken..];
            if (_chunkUsed == _chunk.Length)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_chunkUsed > 0)
        {
            await _file!.AppendAsync(_chunk.AsMemory(0, _chunkUsed), cancellationToken).ConfigureAwait(false);
            _chunkUsed = 0;
        }
    }
}
