using MimeKit;

namespace Herald.Outbox;

/// <summary>
/// A message's final MIME bytes, wherever they are: in memory when small; in a spool file (a
/// relay transfer) or in the outbox itself (a claimed message) when large, so that a large
/// message passes through a node without ever being held whole in its memory.
/// </summary>
public abstract class MimeData
{
    public abstract long Length { get; }

    /// <summary>The bytes, when they are held in memory; null when they are read from elsewhere.</summary>
    public virtual byte[]? Bytes => null;

    /// <summary>A new seekable stream over the bytes, from the first; the caller disposes it.</summary>
    public abstract ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The message parsed for sending. Only its headers and structure are held in memory: the
    /// parser keeps references into the bytes (MimeKit's persistent parsing) and the content is
    /// read from them as it is sent. Dispose it once the message is sent.
    /// </summary>
    public async ValueTask<ParsedMime> ParseAsync(CancellationToken cancellationToken)
    {
        var stream = await OpenReadAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var message = await MimeMessage.LoadAsync(stream, persistent: true, cancellationToken).ConfigureAwait(false);
            return new ParsedMime(message, stream);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static implicit operator MimeData(byte[] bytes) => FromBytes(bytes);

    /// <summary>Bytes held in memory (a composed message, a small relay transfer).</summary>
    public static MimeData FromBytes(byte[] bytes) => new InMemory(bytes ?? throw new ArgumentNullException(nameof(bytes)));

    /// <summary>The bytes written to a spool file; the file's holder keeps it until they are stored.</summary>
    public static MimeData InSpool(SpoolFile file) => new Spooled(file ?? throw new ArgumentNullException(nameof(file)));

    /// <summary><paramref name="prefix"/> (header lines added in front, such as Received, or a
    /// rewritten header section) followed by <paramref name="rest"/> from its byte
    /// <paramref name="skip"/> on: one array when both are in memory.</summary>
    public static MimeData Prefixed(byte[] prefix, MimeData rest, long skip = 0)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(rest);
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(skip, rest.Length);
        return rest.Bytes is { } bytes ? FromBytes([.. prefix, .. bytes.AsSpan((int)skip)]) : new WithPrefix(prefix, rest, skip);
    }

    /// <summary>A message kept in the outbox, read when it is sent: <paramref name="copyTo"/>
    /// streams it from the database into a file of <paramref name="spool"/>, which is read while
    /// the message is sent and removed after.</summary>
    public static MimeData InOutbox(long length, Func<Stream, CancellationToken, Task> copyTo, MessageSpool spool)
    {
        ArgumentNullException.ThrowIfNull(copyTo);
        ArgumentNullException.ThrowIfNull(spool);
        return new Stored(length, copyTo, spool);
    }

    private sealed class InMemory(byte[] bytes) : MimeData
    {
        public override long Length => bytes.Length;

        public override byte[] Bytes => bytes;

        public override ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken) =>
            ValueTask.FromResult<Stream>(new MemoryStream(bytes, writable: false));
    }

    private sealed class Spooled(SpoolFile file) : MimeData
    {
        public override long Length => file.Length;

        public override ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken) => ValueTask.FromResult(file.OpenRead());
    }

    private sealed class WithPrefix(byte[] prefix, MimeData rest, long skip) : MimeData
    {
        public override long Length => prefix.Length + rest.Length - skip;

        public override async ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken) =>
            new PrefixedStream(prefix, await rest.OpenReadAsync(cancellationToken).ConfigureAwait(false), skip);
    }

    private sealed class Stored(long length, Func<Stream, CancellationToken, Task> copyTo, MessageSpool spool) : MimeData
    {
        public override long Length => length;

        public override async ValueTask<Stream> OpenReadAsync(CancellationToken cancellationToken)
        {
            var file = spool.Create();
            try
            {
                await using (var target = file.OpenAppend())
                {
                    await copyTo(target, cancellationToken).ConfigureAwait(false);
                }

                return file.OpenRead(removeWhenDisposed: true);
            }
            catch
            {
                file.Dispose();
                throw;
            }
        }
    }

    /// <summary>A few bytes in memory followed by a seekable stream from its byte <paramref name="skip"/>, read as one.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream rest, long skip) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => prefix.Length + rest.Length - skip;

        public override long Position { get => _position; set => Seek(value, SeekOrigin.Begin); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position < prefix.Length)
            {
                var copied = Math.Min(buffer.Length, prefix.Length - (int)_position);
                prefix.AsSpan((int)_position, copied).CopyTo(buffer);
                _position += copied;
                return copied;
            }

            rest.Position = _position - prefix.Length + skip;
            var read = rest.Read(buffer);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < prefix.Length)
            {
                return Read(buffer.Span);
            }

            rest.Position = _position - prefix.Length + skip;
            var read = await rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            _position += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            var position = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => _position + offset,
                _ => Length + offset,
            };
            ArgumentOutOfRangeException.ThrowIfNegative(position, nameof(offset));
            return _position = position;
        }

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                rest.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>A message parsed for sending, and the stream its content is read from while it is sent.</summary>
public sealed class ParsedMime(MimeMessage message, Stream source) : IDisposable
{
    public MimeMessage Message => message;

    public void Dispose()
    {
        message.Dispose();
        source.Dispose();
    }
}
