using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Herald;
using Herald.Access;
using Herald.Bench.Bounces;
using Herald.Bounces;
using Herald.Credentials;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Smtp;
using Herald.Storage;
using Herald.Storage.Bounces;
using Herald.Storage.Database;
using Herald.Testing;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

// bench/run.sh bounces [--dsns 5000] [--batch 200] [--mail-format maildir|mdbox]
var dsns = Option("--dsns", 5_000);
var batch = Option("--batch", new BounceOptions().BatchSize);
const int Target = 1_000;
const string Domain = "bounces.bench.test";

var at = Array.IndexOf(args, "--mail-format");
var format = at >= 0 && at + 1 < args.Length && args[at + 1] == "mdbox" ? "mdbox" : "maildir";
using var dovecot = await BenchDovecot.StartAsync(format);
var directory = Directory.CreateTempSubdirectory("herald-bench-bounces-").FullName;
try
{
    // A node's services as `herald bounce-mailbox read` composes them (src/Herald/Cli/HeraldNode.cs),
    // on a fresh SQLite database.
    var database = HeraldDatabases.Open(null, directory);
    await database.MigrateAsync(CancellationToken.None);
    var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        [$"{BounceOptions.Section}:{nameof(BounceOptions.BatchSize)}"] = batch.ToString(CultureInfo.InvariantCulture),
    }).Build();
    await using var services = new ServiceCollection()
        .AddLogging()
        .AddSingleton<IConfiguration>(settings)
        .AddMetrics()
        .AddHeraldCore(new NodePassphrase("bounce benchmark passphrase", Path.Combine(directory, NodePassphrase.DefaultFileName)))
        .AddHeraldStorage(database)
        .AddHeraldSmtp()
        .AddSingleton(new MessageSpool(Path.Combine(directory, MessageSpool.DirectoryName)))
        .AddSingleton(new NodeIdentity("bench", []))
        // The production client (MailKitBounceMailbox), timed.
        .AddSingleton<Herald.Smtp.Bounces.MailKitBounceMailbox>()
        .AddSingleton(provider => new TimedMailboxClient(provider.GetRequiredService<Herald.Smtp.Bounces.MailKitBounceMailbox>()))
        .AddSingleton<IBounceMailboxClient>(provider => provider.GetRequiredService<TimedMailboxClient>())
        // The production store, timed where the reader records a batch (recipients, history and suppressions).
        .AddSingleton(provider => TimedStore.Wrap<IBounceStore>(ActivatorUtilities.CreateInstance<SqlBounceStore>(provider), nameof(IBounceStore.RecordAsync)))
        .AddSingleton(provider => provider.GetRequiredService<TimedStore<IBounceStore>>().Store)
        .BuildServiceProvider();
    await services.GetRequiredService<CredentialVault>().GetKeyAsync(initializeDatabase: true, CancellationToken.None);
    var set = await services.GetRequiredService<BounceMailboxService>().SetAsync(Caller.Operator, new BounceMailboxUpdate(
        "/", "imap", "127.0.0.1", dovecot.Port, "none", Domain, UserName: "bounces", Password: BenchDovecot.Password), CancellationToken.None);
    if (set.Refusal is { } refusal)
    {
        throw new InvalidOperationException($"The bounce mailbox was refused: {refusal}");
    }

    // N messages of one recipient each, delivered (`sent`) as the delivery worker records it; each
    // recipient's DSN goes to its own bounce address.
    var preparing = Stopwatch.StartNew();
    var outbox = services.GetRequiredService<IOutboxStore>();
    var tokens = services.GetRequiredService<BounceTokens>();
    var time = TimeProvider.System;
    var reports = new List<byte[]>(dsns);
    const int Chunk = 500;
    for (var first = 0; first < dsns; first += Chunk)
    {
        var now = time.GetUtcNow();
        var messages = Enumerable.Range(first, Math.Min(Chunk, dsns - first)).Select(i => new NewMessage(
            Guid.NewGuid().ToString("N"), ScopePath.Root, MessageSource.Api, "herald@example.org", null, $"<bench-{i}@example.org>",
            MimeData.FromBytes(Encoding.ASCII.GetBytes($"Subject: Bench {i}\r\n\r\nHello.\r\n")), [$"gone-{i}@example.net"], null, now, now.AddDays(5))).ToArray();
        await outbox.EnqueueAsync(messages, CancellationToken.None);
        var claimed = await outbox.ClaimAsync("bench", null, messages.Length, now, TimeSpan.FromMinutes(5), CancellationToken.None);
        await outbox.RecordAsync(claimed.Select(c => new AttemptOutcome(c.Id, "bench", now, [new RecipientUpdate(0, RecipientState.Sent, 250, "250 2.0.0 Ok: queued")], now.AddMinutes(1))).ToArray(), CancellationToken.None);
        foreach (var (message, i) in messages.Select((m, i) => (m, first + i)))
        {
            var sender = await tokens.SenderAsync(message.Id, 0, Domain, CancellationToken.None)
                ?? throw new InvalidOperationException($"No bounce address for {message.Id}.");
            reports.Add(Encoding.ASCII.GetBytes(BounceSamples.Dsn(sender, "failed", "5.1.1", $"smtp; 550 5.1.1 <gone-{i}@example.net>: Recipient address rejected: User unknown", $"<dsn-{i}@postfix.bench>")));
        }
    }

    await AppendAsync(dovecot.Port, reports);
    preparing.Stop();
    Console.Error.WriteLine($"Prepared {dsns:N0} sent recipients and their DSNs in the mailbox ({preparing.Elapsed.TotalSeconds:N1} s, not timed).");

    // Timed: the production reader reads the whole mailbox, processes and deletes every DSN.
    var reader = services.GetRequiredService<BounceReader>();
    var load = LoadAverage();
    using var self = Process.GetCurrentProcess();
    var cpuBefore = self.TotalProcessorTime;
    var reading = Stopwatch.StartNew();
    var report = await reader.ReadOnceAsync(ScopePath.Root, CancellationToken.None)
        ?? throw new InvalidOperationException("The reader did not get the mailbox's lease.");
    reading.Stop();
    self.Refresh();
    // CPU this process used while reading: Herald's own share, whatever else loads the machine.
    var cpu = self.TotalProcessorTime - cpuBefore;

    // A benchmark that counts what it claims: every recipient bounced, every address suppressed, the mailbox empty.
    var bounced = await CountAsync(database, "SELECT COUNT(*) FROM recipients WHERE state = 'bounced'");
    var suppressed = await CountAsync(database, "SELECT COUNT(*) FROM suppressions WHERE reason = 'hard-bounce'");
    var left = await MailboxCountAsync(dovecot.Port);
    var seconds = reading.Elapsed.TotalSeconds;
    Console.WriteLine($"bounce processing from IMAP (SQLite, Dovecot {format} on loopback, {Environment.ProcessorCount} cores, batch {batch}): {report.Summary}");
    Console.WriteLine($"  DSNs:       {dsns:N0}");
    Console.WriteLine($"  seconds:    {seconds:N2}");
    Console.WriteLine($"  DSNs/s:     {dsns / seconds:N0} (target ≥ {Target:N0}/s: {(dsns / seconds >= Target ? "met" : "not met")})");
    var imap = services.GetRequiredService<TimedMailboxClient>();
    var recording = services.GetRequiredService<TimedStore<IBounceStore>>().Elapsed;
    var processing = reading.Elapsed - imap.Opening - imap.Fetching - imap.Settling - imap.Committing - recording;
    Console.WriteLine($"  IMAP:       sign-in {imap.Opening.TotalSeconds:N2} s, fetch {imap.Fetching.TotalSeconds:N2} s, mark deleted {imap.Settling.TotalSeconds:N2} s, expunge {imap.Committing.TotalSeconds:N2} s");
    Console.WriteLine($"  Herald:     record (recipients, history, suppressions) {recording.TotalSeconds:N2} s; the rest (parse, match, lease) {processing.TotalSeconds:N2} s");
    Console.WriteLine($"  Herald CPU: {cpu.TotalSeconds:N2} s ({dsns / cpu.TotalSeconds:N0} DSNs per CPU second); load average before: {load}");
    Console.WriteLine($"  checked:    {bounced:N0} recipients bounced, {suppressed:N0} hard-bounce suppressions, {left:N0} messages left in INBOX");
    if (bounced != dsns || suppressed != dsns || left != 0)
    {
        Console.Error.WriteLine("The counts do not match the DSNs: the figure above is not of the work it claims.");
        return 1;
    }

    return 0;
}
finally
{
    Directory.Delete(directory, recursive: true);
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

int Option(string name, int fallback)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

// Not timed: MULTIAPPEND in chunks (MailKit sends one APPEND with many messages when the server has it).
static async Task AppendAsync(int port, List<byte[]> reports)
{
    using var client = await OpenAsync(port);
    foreach (var chunk in reports.Chunk(500))
    {
        var requests = chunk.Select(bytes => (IAppendRequest)new AppendRequest(MimeMessage.Load(new MemoryStream(bytes)))).ToList();
        await client.Inbox.AppendAsync(requests);
        foreach (var request in requests)
        {
            request.Message.Dispose();
        }
    }

    await client.DisconnectAsync(true);
}

static async Task<int> MailboxCountAsync(int port)
{
    using var client = await OpenAsync(port);
    await client.Inbox.StatusAsync(StatusItems.Count);
    var count = client.Inbox.Count;
    await client.DisconnectAsync(true);
    return count;
}

static async Task<ImapClient> OpenAsync(int port)
{
    var client = new ImapClient();
    await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None);
    await client.AuthenticateAsync("bounces", BenchDovecot.Password);
    return client;
}

static async Task<long> CountAsync(HeraldDatabase database, string sql)
{
    await using var connection = await database.OpenAsync(CancellationToken.None);
    await using DbCommand command = connection.CreateCommand();
    command.CommandText = sql;
    return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
}
