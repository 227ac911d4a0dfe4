using Microsoft.Win32.SafeHandles;

namespace Herald.Outbox;

/// <summary>
/// Files for messages too large to hold in memory while they pass through this node: a relay
/// transfer above the spool threshold, a large message read back from the outbox to be sent. They
/// live in the data directory's <c>spool</c> folder and only as long as the message passes
/// through: each is removed when its holder is done with it, whatever the outcome, and whatever a
/// node that died left behind is removed when <c>herald serve</c> starts again.
/// </summary>
public sealed class MessageSpool(string directory)
{
    public const string DirectoryName = "spool";

    public string Directory => directory;

    /// <summary>A new, empty spool file, removed when it is disposed.</summary>
    public SpoolFile Create()
    {
        System.IO.Directory.CreateDirectory(directory);
        return new SpoolFile(Path.Combine(directory, $"{Guid.NewGuid():N}.eml"));
    }

    /// <summary>
    /// Removes the spool files no process holds open: those of a node that was killed mid-transfer.
    /// A file still in use is locked by its holder (an exclusive advisory lock, taken at creation),
    /// so another process on the same data directory keeps its own. Returns how many were removed.
    /// </summary>
    public int RemoveOrphans()
    {
        if (!System.IO.Directory.Exists(directory))
        {
            return 0;
        }

        var removed = 0;
        foreach (var path in System.IO.Directory.EnumerateFiles(directory))
        {
            try
            {
                using (File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.None))
                {
                    // Nobody else holds it.
                }

                File.Delete(path);
                removed++;
            }
            catch (IOException)
            {
                // Locked: a transfer in progress in another process (or gone meanwhile).
            }
        }

        return removed;
    }
}

/// <summary>
/// One spool file: appended to by one writer, then read by any number of independent streams
/// (positional reads on one handle). It is locked against other processes while it exists and
/// deleted when disposed, so that no path — accepted, refused, aborted — leaves it behind.
/// </summary>
public sealed class SpoolFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private long _length;

    internal SpoolFile(string path)
    {
        Path = path;
        // FileShare.None takes an exclusive lock, which RemoveOrphans respects.
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
    }

    public string Path { get; }

    public long Length => Interlocked.Read(ref _length);

    /// <summary>Appends bytes at the end of the file.</summary>
    public async ValueTask AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await RandomAccess.WriteAsync(_handle, bytes, Length, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _length, bytes.Length);
    }

    /// <summary>A stream that appends to the file (e.g. the target of a copy).</summary>
    public Stream OpenAppend() => new SpoolStream(this, writing: true, ownsFile: false);

    /// <summary>A seekable stream over the bytes written so far, with a position of its own;
    /// with <paramref name="removeWhenDisposed"/>, disposing the stream disposes the file too.</summary>
    public Stream OpenRead(bool removeWhenDisposed = false) => new SpoolStream(this, writing: false, removeWhenDisposed);

    public void Dispose() => _handle.Dispose();

    private sealed class SpoolStream(SpoolFile file, bool writing, bool ownsFile) : Stream
    {
        private readonly long _length = file.Length;
        private long _position;

        public override bool CanRead => !writing;

        public override bool CanSeek => !writing;

        public override bool CanWrite => writing;

        public override long Length => writing ? file.Length : _length;

        public override long Position
        {
            get => writing ? file.Length : _position;
            set => Seek(value, SeekOrigin.Begin);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var read = RandomAccess.Read(file._handle, buffer[..Available(buffer.Length)], _position);
            _position += read;
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await RandomAccess.ReadAsync(file._handle, buffer[..Available(buffer.Length)], _position, cancellationToken).ConfigureAwait(false);
            _position += read;
            return read;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            RandomAccess.Write(file._handle, buffer, file.Length);
            Interlocked.Add(ref file._length, buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            file.AppendAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            file.AppendAsync(buffer, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin)
        {
            if (writing)
            {
                throw new NotSupportedException("A spool file is written from the start to the end.");
            }

            var position = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => _position + offset,
                _ => _length + offset,
            };
            ArgumentOutOfRangeException.ThrowIfNegative(position, nameof(offset));
            return _position = position;
        }

        public override void Flush()
        {
            // Every write goes straight to the file.
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && ownsFile)
            {
                file.Dispose();
            }

            base.Dispose(disposing);
        }

        // Reads stop at the length the stream was opened with.
        private int Available(int wanted) => (int)Math.Clamp(_length - _position, 0, wanted);
    }
}
