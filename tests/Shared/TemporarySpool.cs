using Herald.Outbox;

namespace Herald.Testing;

/// <summary>A <see cref="MessageSpool"/> in a temporary directory of its own, deleted with it.</summary>
internal sealed class TemporarySpool : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("herald-spool-test-").FullName;

    public TemporarySpool() => Spool = new MessageSpool(Path.Combine(_root, MessageSpool.DirectoryName));

    public MessageSpool Spool { get; }

    /// <summary>The spool files that exist now.</summary>
    public string[] Files => Directory.Exists(Spool.Directory) ? Directory.GetFiles(Spool.Directory) : [];

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
