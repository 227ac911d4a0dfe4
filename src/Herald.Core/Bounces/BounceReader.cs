using System.ComponentModel.DataAnnotations;
using System.Text;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Bounces;

/// <summary>How bounce mailboxes are read; configuration section <c>Bounces</c>
/// (e.g. <c>HERALD_Bounces__PollInterval=00:00:30</c>).</summary>
public sealed class BounceOptions
{
    public const string Section = "Bounces";

    /// <summary>How long a reader waits between looks at a mailbox whose server has no IMAP IDLE
    /// (POP3, or IMAP without it); with IDLE, the longest it idles before looking again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a node holds a mailbox's read lease; it renews it while it reads, and a
    /// node that dies leaves it to run out, then another node reads.</summary>
    [Range(typeof(TimeSpan), "00:00:30", "1.00:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Messages fetched and settled at a time.</summary>
    [Range(1, 10_000)]
    public int BatchSize { get; set; } = 200;

    /// <summary>The largest message read into memory; a larger one is kept for a person. Postfix
    /// returns at most 50 kB of the original (bounce_size_limit).</summary>
    [Range(1_024, 64 * 1024 * 1024)]
    public long MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>The most a batch reads into memory, all its messages together: anyone can send mail
    /// to a bounce address, so a mailbox full of large messages must not make a read hold
    /// <see cref="BatchSize"/> × <see cref="MaxMessageBytes"/>.</summary>
    [Range(64 * 1024, 1024L * 1024 * 1024)]
    public long MaxBatchBytes { get; set; } = 32 * 1024 * 1024;
}

/// <summary>What one read of one mailbox did.</summary>
public sealed record BounceReadReport(ScopePath Scope, IReadOnlyDictionary<BounceOutcome, int> Outcomes)
{
    public int Count => Outcomes.Values.Sum();

    public string Summary => Count == 0
        ? "No new mail."
        : "Read " + string.Join(", ", Outcomes.OrderBy(o => o.Key).Select(o => $"{o.Value} {BounceOutcomeNames.Values.NameOf(o.Key)}")) + ".";
}

/// <summary>
/// Reads every bounce mailbox in <c>herald serve</c>: one reader per mailbox, on the one node
/// that holds the mailbox's lease (a row update only one node wins, renewed while it reads). It
/// fetches a batch, has the <see cref="BounceProcessor"/> decide each message in its own guard and record the
/// batch at once, then marks deleted what was processed and moves aside what was not (IMAP: folder
/// <see cref="IBounceMailboxSession.UnmatchedFolder"/>; POP3 leaves it, and this node remembers not
/// to count it again); at the end of the mailbox it removes the marked mail in one go
/// (<see cref="IBounceMailboxSession.CommitAsync"/>), and waits for new mail with IDLE or for the poll interval. A mailbox that
/// cannot be read records why and is tried again after the interval; nothing it holds stops the loop.
/// </summary>
public sealed partial class BounceReader(
    IBounceStore store,
    IBounceMailboxClient client,
    BounceProcessor processor,
    Credentials.CredentialVault vault,
    NodeIdentity node,
    IOptions<BounceOptions> options,
    TimeProvider time,
    ILogger<BounceReader> logger) : BackgroundService
{
    /// <summary>POP3 mail kept (not processed) per mailbox, by its unique id: read once per node.</summary>
    private readonly Dictionary<ScopePath, HashSet<string>> _kept = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var running = new Dictionary<ScopePath, Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var mailbox in await store.ListAsync(stoppingToken).ConfigureAwait(false))
                {
                    if (!running.TryGetValue(mailbox.Scope, out var task) || task.IsCompleted)
                    {
                        running[mailbox.Scope] = Task.Run(() => ReadContinuouslyAsync(mailbox.Scope, stoppingToken), CancellationToken.None);
                    }
                }

                await Task.Delay(options.Value.PollInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (FailurePolicy.Classify(ex, stoppingToken) is FailureKind.Item or FailureKind.Infrastructure)
            {
                LogFailed(logger, "(all)", FailurePolicy.Describe(ex));
                await Task.Delay(options.Value.PollInterval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }

        await Task.WhenAll(running.Values).ConfigureAwait(false);
    }

    /// <summary>Reads the scope's mailbox once, to its end, if this node gets its lease; null when
    /// another node holds it or there is no mailbox. For tests, the benchmark and a loop's step.</summary>
    public async Task<BounceReadReport?> ReadOnceAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (!await store.TryLeaseAsync(scope, node.Name, now, now + options.Value.LeaseDuration, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        try
        {
            if (await store.FindAsync(scope, cancellationToken).ConfigureAwait(false) is not { } mailbox)
            {
                return null;
            }

            await using var session = await OpenAsync(mailbox, cancellationToken).ConfigureAwait(false);
            return await DrainAsync(session, mailbox, cancellationToken).ConfigureAwait(false);
        }
        catch (BounceMailboxException ex)
        {
            await store.RecordReadAsync(scope, ex.Message, time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
            LogFailed(logger, scope.Value, ex.Message);
            throw;
        }
        finally
        {
            await store.ReleaseAsync(scope, node.Name, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task ReadContinuouslyAsync(ScopePath scope, CancellationToken stoppingToken)
    {
        var o = options.Value;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var now = time.GetUtcNow();
                if (!await store.TryLeaseAsync(scope, node.Name, now, now + o.LeaseDuration, stoppingToken).ConfigureAwait(false)
                    || await store.FindAsync(scope, stoppingToken).ConfigureAwait(false) is not { } mailbox)
                {
                    return;
                }

                try
                {
                    await using var session = await OpenAsync(mailbox, stoppingToken).ConfigureAwait(false);
                    // One session while the settings stand: read to the end, wait for mail, renew the lease.
                    while (!stoppingToken.IsCancellationRequested)
                    {
                        await DrainAsync(session, mailbox, stoppingToken).ConfigureAwait(false);
                        await session.WaitForMailAsync(o.PollInterval, stoppingToken).ConfigureAwait(false);
                        if (!session.StaysCurrent)
                        {
                            break;
                        }

                        now = time.GetUtcNow();
                        if (!await store.TryLeaseAsync(scope, node.Name, now, now + o.LeaseDuration, stoppingToken).ConfigureAwait(false)
                            || await store.FindAsync(scope, stoppingToken).ConfigureAwait(false) is not { } current
                            || current.Settings != mailbox.Settings || !SameSecrets(current, mailbox))
                        {
                            break;
                        }
                    }
                }
                catch (Exception ex) when (ex is BounceMailboxException || FailurePolicy.Classify(ex, stoppingToken) is FailureKind.Item or FailureKind.Infrastructure)
                {
                    var problem = ex is BounceMailboxException ? ex.Message : FailurePolicy.Describe(ex);
                    LogFailed(logger, scope.Value, problem);
                    await store.RecordReadAsync(scope, problem, time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
                    await Task.Delay(o.PollInterval, time, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the lease is let go below.
        }
        catch (Exception ex) when (FailurePolicy.Classify(ex, stoppingToken) is FailureKind.Item or FailureKind.Infrastructure)
        {
            LogFailed(logger, scope.Value, FailurePolicy.Describe(ex));
        }
        finally
        {
            try
            {
                await store.ReleaseAsync(scope, node.Name, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (FailurePolicy.Classify(ex, CancellationToken.None) is FailureKind.Item or FailureKind.Infrastructure)
            {
                // The lease runs out by itself.
                LogFailed(logger, scope.Value, FailurePolicy.Describe(ex));
            }
        }
    }

    private static bool SameSecrets(BounceMailbox a, BounceMailbox b) => Equals(a.UserName, b.UserName) && Equals(a.Password, b.Password);

    private async Task<IBounceMailboxSession> OpenAsync(BounceMailbox mailbox, CancellationToken cancellationToken)
    {
        var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
        if (status.Key is not { } key)
        {
            throw new BounceMailboxException(status.Problem!);
        }

        var userName = SecretNames.BounceMailboxUserName(mailbox.Scope.Value);
        var password = SecretNames.BounceMailboxPassword(mailbox.Scope.Value);
        if (mailbox.UserName is null || mailbox.Password is null)
        {
            throw new BounceMailboxException($"The bounce mailbox of {mailbox.Scope} has no user name or password stored; give them again.");
        }

        if (!key.TryOpen(mailbox.UserName, userName, out var user) || !key.TryOpen(mailbox.Password, password, out var secret))
        {
            throw new BounceMailboxException($"The bounce mailbox of {mailbox.Scope}'s secrets cannot be decrypted with this node's credential key (altered, or sealed under another key).");
        }

        return await client.OpenAsync(new MailboxLogin(mailbox.Settings, Encoding.UTF8.GetString(user), Encoding.UTF8.GetString(secret)), cancellationToken).ConfigureAwait(false);
    }

    private async Task<BounceReadReport> DrainAsync(IBounceMailboxSession session, BounceMailbox mailbox, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var counts = new Dictionary<BounceOutcome, int>();
        HashSet<string> kept;
        lock (_kept)
        {
            kept = _kept.TryGetValue(mailbox.Scope, out var known) ? known : _kept[mailbox.Scope] = new HashSet<string>(StringComparer.Ordinal);
        }

        while (true)
        {
            var batch = await session.FetchAsync(new FetchLimits(o.BatchSize, o.MaxMessageBytes, o.MaxBatchBytes), kept, cancellationToken).ConfigureAwait(false);
            var processed = new List<string>();
            var unmatched = new List<string>();
            var decided = new List<(string Handle, BounceDecision Decision)>(batch.Count);
            foreach (var mail in batch)
            {
                if (await DecideOneAsync(mail, mailbox, cancellationToken).ConfigureAwait(false) is { } decision)
                {
                    decided.Add((mail.Handle, decision));
                }
                else
                {
                    counts[BounceOutcome.Unreadable] = counts.GetValueOrDefault(BounceOutcome.Unreadable) + 1;
                    unmatched.Add(mail.Handle);
                }
            }

            var outcomes = await processor.RecordAsync(decided.Select(d => d.Decision).ToArray(), cancellationToken).ConfigureAwait(false);
            foreach (var ((handle, _), outcome) in decided.Zip(outcomes))
            {
                counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
                (outcome.IsProcessed() ? processed : unmatched).Add(handle);
            }

            // Checkpoint: a message is deleted only after what it said is recorded; a node that
            // dies before this line leaves it to be read again (recording it twice changes nothing).
            await session.SettleAsync(processed, unmatched, cancellationToken).ConfigureAwait(false);
            if (!session.MovesKeptMail)
            {
                kept.UnionWith(unmatched);
            }

            // A batch may stop short of BatchSize at MaxBatchBytes: only an empty one means the end.
            if (batch.Count == 0)
            {
                break;
            }
        }

        // Everything settled above is recorded; a node that dies before this line leaves it marked
        // deleted, and the next session reads it again (a repeat) and removes it.
        await session.CommitAsync(cancellationToken).ConfigureAwait(false);

        var report = new BounceReadReport(mailbox.Scope, counts);
        if (report.Count > 0)
        {
            LogRead(logger, mailbox.Scope.Value, report.Summary);
            await store.RecordReadAsync(mailbox.Scope, report.Summary, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }

        return report;
    }

    /// <summary>One message, in its own guard: what it contains can never stop the reader. Null
    /// when it cannot be read (counted and logged here).</summary>
    private async Task<BounceDecision?> DecideOneAsync(FetchedMail mail, BounceMailbox mailbox, CancellationToken cancellationToken)
    {
        if (mail.Message is not { } message)
        {
            processor.Unreadable();
            LogUnreadable(logger, mailbox.Scope.Value, mail.Handle, mail.Problem ?? "unreadable");
            return null;
        }

        try
        {
            return await processor.DecideAsync(message, mailbox, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (FailurePolicy.Classify(ex, cancellationToken) is FailureKind.Item)
        {
            processor.Unreadable();
            LogUnreadable(logger, mailbox.Scope.Value, mail.Handle, FailurePolicy.Describe(ex));
            return null;
        }
        finally
        {
            message.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bounce mailbox of {Scope}: {Summary}")]
    private static partial void LogRead(ILogger logger, string scope, string summary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bounce mailbox of {Scope} cannot be read: {Problem}")]
    private static partial void LogFailed(ILogger logger, string scope, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Bounce mailbox of {Scope}: message {Handle} is kept unread: {Problem}")]
    private static partial void LogUnreadable(ILogger logger, string scope, string handle, string problem);
}
