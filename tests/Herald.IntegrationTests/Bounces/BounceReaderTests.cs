using System.Globalization;
using System.Text;
using Herald.Access;
using Herald.Bounces;
using Herald.Credentials;
using Herald.IntegrationTests.Fixtures;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Smtp;
using Herald.Smtp.Bounces;
using Herald.Storage;
using Herald.Storage.Database;
using Herald.Testing;
using MailKit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.Bounces;

/// <summary>
/// The production reader (<see cref="BounceReader"/> with MailKit's IMAP client) in process against
/// the private Dovecot, in small batches: what a read leaves in the mailbox and the outbox when a
/// batch mixes bounces with mail it must keep, and when a read dies between recording its batches
/// and expunging them.
/// </summary>
public sealed class BounceReaderTests(PostfixFixture postfix)
{
    private const string Domain = "bounces.reader.test";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_read_in_batches_deletes_the_bounces_and_keeps_a_forged_report_and_an_oversized_one_unread_in_unmatched()
    {
        using var dovecot = await DovecotMailbox.StartAsync(postfix);
        await using var node = await ReaderNode.StartAsync(postfix, dovecot);
        var sent = await node.SentAsync(4);
        await dovecot.AppendAsync("bounces", postfix.Pki("ca.pem"), [
            Dsn(sent[0].Sender, "<a@postfix.test>"),
            Dsn(sent[1].Sender, "<big@postfix.test>", padding: 16 * 1024),
            Dsn(Forged(sent[2].Sender), "<forged@attacker.example>"),
            Dsn(sent[2].Sender, "<c@postfix.test>"),
            Dsn(sent[3].Sender, "<d@postfix.test>"),
        ], Ct);

        var before = await MessagesAsync(dovecot, "INBOX");

        // Batches of two: [a, big], [forged, c], [d].
        var report = await node.Reader.ReadOnceAsync(ScopePath.Root, Ct);

        Assert.Equal("Read 3 bounced, 1 forged, 1 unreadable.", report?.Summary);
        // The oversized report was never read: its recipient is still sent.
        Assert.Equal(["bounced", "sent", "bounced", "bounced"], await node.StatesAsync(sent));
        Assert.Empty(await MessagesAsync(dovecot, "INBOX"));
        // Both are kept whole, as they were in the INBOX.
        Assert.Equal(before.Where(m => m.Id is "<big@postfix.test>" or "<forged@attacker.example>"), await MessagesAsync(dovecot, "Herald/Unmatched"));
    }

    [Fact]
    public async Task Mail_marked_deleted_by_a_read_that_died_before_expunging_is_read_again_as_a_repeat_and_removed()
    {
        using var dovecot = await DovecotMailbox.StartAsync(postfix);
        var client = new DiesAtExpunge(new MailKitBounceMailbox());
        await using var node = await ReaderNode.StartAsync(postfix, dovecot, client);
        var sent = await node.SentAsync(3);
        await dovecot.AppendAsync("bounces", postfix.Pki("ca.pem"), sent.Select((s, i) => Dsn(s.Sender, $"<dsn-{i}@postfix.test>")), Ct);

        await Assert.ThrowsAsync<IOException>(() => node.Reader.ReadOnceAsync(ScopePath.Root, Ct));

        // Checkpoint: recorded before anything was marked; marked, but still in the INBOX.
        Assert.Equal(["bounced", "bounced", "bounced"], await node.StatesAsync(sent));
        Assert.Equal(3, (await MessagesAsync(dovecot, "INBOX")).Count);

        client.Broken = false;
        var report = await node.Reader.ReadOnceAsync(ScopePath.Root, Ct);

        Assert.Equal("Read 3 repeated.", report?.Summary);
        Assert.Equal(["bounced", "bounced", "bounced"], await node.StatesAsync(sent));
        Assert.Empty(await MessagesAsync(dovecot, "INBOX"));
        Assert.Empty(await MessagesAsync(dovecot, "Herald/Unmatched"));
    }

    [Fact]
    public async Task A_batch_reads_no_more_than_its_byte_budget_and_the_read_goes_on_to_the_end_of_the_mailbox()
    {
        using var dovecot = await DovecotMailbox.StartAsync(postfix);
        var client = new CountsFetches(new MailKitBounceMailbox());
        // Up to ten messages of up to 40 KiB a batch, but 64 KiB in all: two 30 KiB reports a batch.
        await using var node = await ReaderNode.StartAsync(postfix, dovecot, client, new Dictionary<string, string>
        {
            [nameof(BounceOptions.BatchSize)] = "10",
            [nameof(BounceOptions.MaxMessageBytes)] = (40 * 1024).ToString(CultureInfo.InvariantCulture),
            [nameof(BounceOptions.MaxBatchBytes)] = (64 * 1024).ToString(CultureInfo.InvariantCulture),
        });
        var sent = await node.SentAsync(5);
        await dovecot.AppendAsync("bounces", postfix.Pki("ca.pem"), sent.Select((s, i) => Dsn(s.Sender, $"<dsn-{i}@postfix.test>", padding: 30 * 1024)), Ct);

        var report = await node.Reader.ReadOnceAsync(ScopePath.Root, Ct);

        Assert.Equal("Read 5 bounced.", report?.Summary);
        Assert.Equal([2, 2, 1, 0], client.Batches);
        Assert.Equal(["bounced", "bounced", "bounced", "bounced", "bounced"], await node.StatesAsync(sent));
        Assert.Empty(await MessagesAsync(dovecot, "INBOX"));
    }

    /// <summary>A DSN to <paramref name="to"/>, with a text part of <paramref name="padding"/> bytes.</summary>
    private static byte[] Dsn(string to, string messageId, int padding = 0)
    {
        var dsn = BounceSamples.Dsn(to, "failed", "5.1.1", "smtp; 550 5.1.1 User unknown", messageId);
        var filler = string.Concat(Enumerable.Repeat(new string('x', 76) + "\r\n", padding / 78));
        return Encoding.ASCII.GetBytes(dsn.Replace("could not be delivered.\r\n", "could not be delivered.\r\n" + filler, StringComparison.Ordinal));
    }

    /// <summary>The address with one letter of its token changed.</summary>
    private static string Forged(string address)
    {
        var at = BounceTokens.Prefix.Length + 10;
        return address[..at] + (address[at] == 'a' ? 'b' : 'a') + address[(at + 1)..];
    }

    /// <summary>The Message-ID and size of each message in <paramref name="path"/> (none when there is no such folder), by Message-ID.</summary>
    private async Task<IReadOnlyList<(string Id, long Size)>> MessagesAsync(DovecotMailbox dovecot, string path)
    {
        using var client = await dovecot.OpenAsync("bounces", postfix.Pki("ca.pem"), Ct);
        var messages = new List<(string, long)>();
        IMailFolder? folder = client.GetFolder(client.PersonalNamespaces[0]);
        foreach (var name in path.Split('/'))
        {
            folder = name == "INBOX" ? client.Inbox : folder is null ? null : (await folder.GetSubfoldersAsync(false, Ct)).FirstOrDefault(f => f.Name == name);
        }

        if (folder is not null)
        {
            await folder.OpenAsync(FolderAccess.ReadOnly, Ct);
            if (folder.Count > 0)
            {
                var summaries = await folder.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.Size, Ct);
                messages.AddRange(summaries.Select(s => ($"<{s.Envelope?.MessageId}>", (long)(s.Size ?? 0))).OrderBy(m => m.Item1, StringComparer.Ordinal));
            }
        }

        await client.DisconnectAsync(true, Ct);
        return messages;
    }

    /// <summary>The real client, counting the messages each fetch returns.</summary>
    private sealed class CountsFetches(IBounceMailboxClient inner) : IBounceMailboxClient
    {
        public List<int> Batches { get; } = [];

        public async Task<IBounceMailboxSession> OpenAsync(MailboxLogin login, CancellationToken cancellationToken) =>
            new Session(this, await inner.OpenAsync(login, cancellationToken));

        private sealed class Session(CountsFetches owner, IBounceMailboxSession inner) : IBounceMailboxSession
        {
            public bool MovesKeptMail => inner.MovesKeptMail;

            public bool StaysCurrent => inner.StaysCurrent;

            public async Task<IReadOnlyList<FetchedMail>> FetchAsync(FetchLimits limits, IReadOnlySet<string> skip, CancellationToken cancellationToken)
            {
                var batch = await inner.FetchAsync(limits, skip, cancellationToken);
                owner.Batches.Add(batch.Count);
                return batch;
            }

            public Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken) =>
                inner.SettleAsync(processed, kept, cancellationToken);

            public Task CommitAsync(CancellationToken cancellationToken) => inner.CommitAsync(cancellationToken);

            public Task WaitForMailAsync(TimeSpan most, CancellationToken cancellationToken) => inner.WaitForMailAsync(most, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    /// <summary>The real client, whose connection breaks at the EXPUNGE that ends a read while <see cref="Broken"/>.</summary>
    private sealed class DiesAtExpunge(IBounceMailboxClient inner) : IBounceMailboxClient
    {
        public bool Broken { get; set; } = true;

        public async Task<IBounceMailboxSession> OpenAsync(MailboxLogin login, CancellationToken cancellationToken) =>
            new Session(this, await inner.OpenAsync(login, cancellationToken));

        private sealed class Session(DiesAtExpunge owner, IBounceMailboxSession inner) : IBounceMailboxSession
        {
            public bool MovesKeptMail => inner.MovesKeptMail;

            public bool StaysCurrent => inner.StaysCurrent;

            public Task<IReadOnlyList<FetchedMail>> FetchAsync(FetchLimits limits, IReadOnlySet<string> skip, CancellationToken cancellationToken) =>
                inner.FetchAsync(limits, skip, cancellationToken);

            public Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken) =>
                inner.SettleAsync(processed, kept, cancellationToken);

            public Task CommitAsync(CancellationToken cancellationToken) =>
                owner.Broken ? throw new IOException("The connection was reset.") : inner.CommitAsync(cancellationToken);

            public Task WaitForMailAsync(TimeSpan most, CancellationToken cancellationToken) => inner.WaitForMailAsync(most, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    /// <summary>A node's bounce services as <c>herald bounce-mailbox read</c> composes them, on a
    /// SQLite database in its own directory, reading the Dovecot INBOX in batches of two with a
    /// size cap of 8 KiB.</summary>
    private sealed class ReaderNode : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly string _directory;

        private ReaderNode(ServiceProvider services, string directory)
        {
            _services = services;
            _directory = directory;
        }

        public BounceReader Reader => _services.GetRequiredService<BounceReader>();

        /// <param name="client">Instead of the production client (MailKit's).</param>
        /// <param name="options">Bounce options instead of the batches of two and the 8 KiB cap.</param>
        public static async Task<ReaderNode> StartAsync(
            PostfixFixture postfix, DovecotMailbox dovecot, IBounceMailboxClient? client = null, IReadOnlyDictionary<string, string>? options = null)
        {
            var directory = System.IO.Directory.CreateTempSubdirectory("herald-bounce-reader-").FullName;
            var database = HeraldDatabases.Open(null, directory);
            await database.MigrateAsync(Ct);
            var values = new Dictionary<string, string?>
            {
                [$"{BounceOptions.Section}:{nameof(BounceOptions.BatchSize)}"] = "2",
                [$"{BounceOptions.Section}:{nameof(BounceOptions.MaxMessageBytes)}"] = (8 * 1024).ToString(CultureInfo.InvariantCulture),
            };
            foreach (var (name, value) in options ?? new Dictionary<string, string>())
            {
                values[$"{BounceOptions.Section}:{name}"] = value;
            }

            var settings = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
            var services = new ServiceCollection()
                .AddLogging()
                .AddSingleton<IConfiguration>(settings)
                .AddMetrics()
                .AddHeraldCore(new NodePassphrase("bounce reader tests' passphrase", Path.Combine(directory, NodePassphrase.DefaultFileName)))
                .AddHeraldStorage(database)
                .AddHeraldSmtp()
                .AddSingleton(new MessageSpool(Path.Combine(directory, MessageSpool.DirectoryName)))
                .AddSingleton(new NodeIdentity("reader", []));
            if (client is not null)
            {
                services.AddSingleton(client);
            }

            var node = new ReaderNode(services.BuildServiceProvider(), directory);
            await node._services.GetRequiredService<CredentialVault>().GetKeyAsync(initializeDatabase: true, Ct);
            var set = await node._services.GetRequiredService<BounceMailboxService>().SetAsync(Caller.Operator, new BounceMailboxUpdate(
                "/", "imap", "127.0.0.1", dovecot.ImapsPort, "implicit-tls", Domain, UserName: "bounces", Password: DovecotMailbox.Password,
                TrustCaPem: await File.ReadAllTextAsync(postfix.Pki("ca.pem"), Ct)), Ct);
            Assert.Null(set.Refusal);
            return node;
        }

        /// <summary><paramref name="count"/> messages of one recipient each, delivered (<c>sent</c>)
        /// as the delivery worker records it, with each recipient's bounce address.</summary>
        public async Task<IReadOnlyList<(string Id, string Sender)>> SentAsync(int count)
        {
            var outbox = _services.GetRequiredService<IOutboxStore>();
            var tokens = _services.GetRequiredService<BounceTokens>();
            var now = DateTimeOffset.UtcNow;
            var messages = Enumerable.Range(0, count).Select(i => new NewMessage(
                Guid.NewGuid().ToString("N"), ScopePath.Root, MessageSource.Api, "herald@example.org", null, $"<reader-{i}@example.org>",
                MimeData.FromBytes(Encoding.ASCII.GetBytes($"Subject: {i}\r\n\r\nHello.\r\n")), [$"gone-{i}@example.net"], null, now, now.AddDays(5))).ToArray();
            await outbox.EnqueueAsync(messages, Ct);
            var claimed = await outbox.ClaimAsync("reader", null, count, now, TimeSpan.FromMinutes(5), Ct);
            await outbox.RecordAsync(claimed.Select(c => new AttemptOutcome(c.Id, "reader", now, [new RecipientUpdate(0, RecipientState.Sent, 250, "250 2.0.0 Ok")], now.AddMinutes(1))).ToArray(), Ct);
            var sent = new List<(string, string)>();
            foreach (var message in messages)
            {
                sent.Add((message.Id, await tokens.SenderAsync(message.Id, 0, Domain, Ct) ?? throw new InvalidOperationException("No bounce address.")));
            }

            return sent;
        }

        /// <summary>The state of each message's one recipient, in order.</summary>
        public async Task<IReadOnlyList<string>> StatesAsync(IEnumerable<(string Id, string Sender)> messages)
        {
            var outbox = _services.GetRequiredService<IOutboxStore>();
            var states = new List<string>();
            foreach (var (id, _) in messages)
            {
                var details = await outbox.GetAsync(id, Ct) ?? throw new InvalidOperationException($"No message {id}.");
                states.Add(RecipientStateNames.Values.NameOf(Assert.Single(details.Message.Recipients).State));
            }

            return states;
        }

        public async ValueTask DisposeAsync()
        {
            await _services.DisposeAsync();
            System.IO.Directory.Delete(_directory, recursive: true);
        }
    }
}
