using System.Text;
using Herald.Outbox;
using Herald.Testing;

namespace Herald.Tests.Outbox;

public sealed class MessageSpoolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_spool_file_reads_back_what_was_appended_and_is_gone_once_disposed()
    {
        using var temporary = new TemporarySpool();
        var file = temporary.Spool.Create();
        await file.AppendAsync("Subject: spooled\r\n\r\n"u8.ToArray(), Ct);
        await using (var append = file.OpenAppend())
        {
            await append.WriteAsync("body\r\n"u8.ToArray(), Ct);
        }

        Assert.Equal("Subject: spooled\r\n\r\nbody\r\n", await ReadAllAsync(MimeData.InSpool(file)));
        Assert.Single(temporary.Files);

        file.Dispose();

        Assert.Empty(temporary.Files);
    }

    [Fact]
    public void Orphans_of_a_killed_process_are_removed_and_files_in_use_are_kept()
    {
        using var temporary = new TemporarySpool();
        using var inUse = temporary.Spool.Create();
        // What a node killed mid-transfer leaves: a file nobody holds.
        var orphan = Path.Combine(temporary.Spool.Directory, "0123456789abcdef.eml");
        File.WriteAllText(orphan, "half a message");

        Assert.Equal(1, temporary.Spool.RemoveOrphans());

        Assert.Equal([inUse.Path], temporary.Files);
    }

    [Fact]
    public void A_spool_that_was_never_used_has_no_orphans() =>
        Assert.Equal(0, new MessageSpool(Path.Combine(Path.GetTempPath(), $"herald-no-spool-{Guid.NewGuid():N}")).RemoveOrphans());

    [Fact]
    public async Task A_prefix_reads_as_one_with_the_spooled_rest_and_parses_with_its_content_left_on_disk()
    {
        using var temporary = new TemporarySpool();
        using var file = temporary.Spool.Create();
        await file.AppendAsync(Encoding.ASCII.GetBytes("Subject: large\r\n\r\n" + new string('x', 70) + "\r\n"), Ct);

        var mime = MimeData.Prefixed("Received: by herald\r\n"u8.ToArray(), MimeData.InSpool(file));

        Assert.Null(mime.Bytes);
        Assert.Equal(file.Length + 21, mime.Length);
        Assert.Equal("Received: by herald\r\nSubject: large\r\n\r\n" + new string('x', 70) + "\r\n", await ReadAllAsync(mime));
        using var parsed = await mime.ParseAsync(Ct);
        Assert.Equal("large", parsed.Message.Subject);
        Assert.Equal(new string('x', 70), parsed.Message.TextBody?.TrimEnd());
    }

    [Fact]
    public async Task Bytes_in_memory_take_the_prefix_into_one_array()
    {
        var mime = MimeData.Prefixed("A: 1\r\n"u8.ToArray(), "B: 2\r\n\r\n"u8.ToArray());

        Assert.Equal("A: 1\r\nB: 2\r\n\r\n"u8.ToArray(), mime.Bytes);
        Assert.Equal("A: 1\r\nB: 2\r\n\r\n", await ReadAllAsync(mime));
    }

    [Fact]
    public async Task A_message_kept_in_the_outbox_is_copied_to_a_spool_file_while_it_is_read_and_the_file_goes_after()
    {
        using var temporary = new TemporarySpool();
        var stored = Encoding.ASCII.GetBytes("Subject: stored\r\n\r\nbody\r\n");
        var mime = MimeData.InOutbox(stored.Length, (destination, ct) => destination.WriteAsync(stored, ct).AsTask(), temporary.Spool);

        using (var parsed = await mime.ParseAsync(Ct))
        {
            Assert.Equal("stored", parsed.Message.Subject);
            Assert.Single(temporary.Files);
        }

        Assert.Empty(temporary.Files);
    }

    [Fact]
    public async Task A_failed_copy_from_the_outbox_leaves_no_file()
    {
        using var temporary = new TemporarySpool();
        var mime = MimeData.InOutbox(100, (_, _) => throw new IOException("the database went away"), temporary.Spool);

        await Assert.ThrowsAsync<IOException>(async () => await mime.ParseAsync(Ct));

        Assert.Empty(temporary.Files);
    }

    private static async Task<string> ReadAllAsync(MimeData mime)
    {
        await using var stream = await mime.OpenReadAsync(Ct);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync(Ct);
    }
}
