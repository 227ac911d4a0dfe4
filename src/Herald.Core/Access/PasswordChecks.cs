using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Herald.Relay;
using Microsoft.Extensions.Options;

namespace Herald.Access;

/// <summary>How password guessing is held back, for console sign-in and relay AUTH alike;
/// configuration section <c>SignIn</c> (e.g. <c>HERALD_SignIn__FailuresPerAddress=20</c>).</summary>
public sealed class SignInOptions
{
    public const string Section = "SignIn";

    /// <summary>Failed password checks (console sign-ins and relay AUTH together) one client
    /// address may make within <see cref="FailureWindow"/>; after that it is told to try later
    /// and nothing it sends is checked. An IPv6 client counts by its /64 network.</summary>
    [Range(1, 10_000)]
    public int FailuresPerAddress { get; set; } = 10;

    /// <summary>The sliding window over which <see cref="FailuresPerAddress"/> is counted.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00")]
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Password checks of one client address at once; more wait their turn, so that one
    /// address never holds more than this many of the node's hashing slots.</summary>
    [Range(1, 64)]
    public int ChecksAtOncePerAddress { get; set; } = 2;

    /// <summary>Checks of one client address waiting for their turn; beyond that, try later.</summary>
    [Range(0, 10_000)]
    public int QueuedChecksPerAddress { get; set; } = 16;

    /// <summary>Password hashes computed at once on this node (PBKDF2 with 600,000 iterations takes
    /// a good part of a second of one core); by default half the cores, at least one, so that a
    /// flood of sign-ins never takes every core from the node's other work.</summary>
    [Range(1, 1024)]
    public int HashesAtOnce { get; set; } = Math.Max(1, Environment.ProcessorCount / 2);

    /// <summary>Password checks waiting for a hashing slot; beyond that, try later.</summary>
    [Range(0, 100_000)]
    public int QueuedHashes { get; set; } = 64;
}

/// <summary>How a password check ended.</summary>
public enum PasswordCheckOutcome
{
    /// <summary>The account exists and the password is its password.</summary>
    Matched,

    /// <summary>Unknown account, unusable account or wrong password: counted against the client address.</summary>
    Mismatched,

    /// <summary>The client address failed too often lately, or has too many checks waiting:
    /// nothing was looked up or checked.</summary>
    AddressLimited,

    /// <summary>The node has more checks waiting than <see cref="SignInOptions.QueuedHashes"/>:
    /// nothing was looked up or checked.</summary>
    Busy,
}

/// <summary>The outcome of <see cref="PasswordChecks.CheckAsync{T}"/>, with the account when it matched.</summary>
public readonly record struct PasswordCheck<T>(PasswordCheckOutcome Outcome, T? Account)
    where T : class;

/// <summary>
/// The one way a guessable password (a console administrator's, a relay account's) is checked.
/// Per client address: at most <see cref="SignInOptions.FailuresPerAddress"/> failures in a
/// sliding window, and a few checks at once, so that a guesser slows only itself. Per node: the
/// slow hash runs on the thread pool, never on the thread that serves a socket, and at most
/// <see cref="SignInOptions.HashesAtOnce"/> at once, with a bounded queue, so that a flood of
/// attempts cannot starve delivery, the relay or the console. An unknown account is checked
/// against a decoy hash, so that it takes as long as a wrong password.
/// </summary>
/// <remarks>The windows are kept by System.Threading.RateLimiting, which measures time with its own
/// clock: they hold back guessing and nothing else depends on them.</remarks>
public sealed class PasswordChecks : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _failures;
    private readonly PartitionedRateLimiter<IPAddress> _turns;
    private readonly SemaphoreSlim _hashing;
    private readonly int _queuedHashes;
    private int _waitingForHash;

    public PasswordChecks(IOptions<SignInOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options.Value;
        _failures = PartitionedRateLimiter.Create<IPAddress, IPAddress>(network => RateLimitPartition.GetSlidingWindowLimiter(network, _ => new SlidingWindowRateLimiterOptions
        {
            PermitLimit = o.FailuresPerAddress,
            Window = o.FailureWindow,
            SegmentsPerWindow = 10,
            QueueLimit = 0,
        }));
        _turns = PartitionedRateLimiter.Create<IPAddress, IPAddress>(network => RateLimitPartition.GetConcurrencyLimiter(network, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = o.ChecksAtOncePerAddress,
            QueueLimit = o.QueuedChecksPerAddress,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));
        _hashing = new SemaphoreSlim(o.HashesAtOnce, o.HashesAtOnce);
        _queuedHashes = o.QueuedHashes;
    }

    /// <summary>
    /// Checks <paramref name="password"/> from <paramref name="client"/> against the account that
    /// <paramref name="find"/> returns (with its stored hash), or null for none. <paramref name="find"/>
    /// runs only once the check has its hashing slot, so what it records (a sign-in attempt) is
    /// always followed by the check.
    /// </summary>
    public async Task<PasswordCheck<T>> CheckAsync<T>(
        IPAddress client, string? password, Func<CancellationToken, Task<(T Account, string PasswordHash)?>> find, CancellationToken cancellationToken)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(find);
        var network = NetworkOf(client);
        using var turn = await _turns.AcquireAsync(network, 1, cancellationToken).ConfigureAwait(false);
        using var budget = _failures.AttemptAcquire(network, 0);
        if (!turn.IsAcquired || !budget.IsAcquired)
        {
            return new(PasswordCheckOutcome.AddressLimited, null);
        }

        (T Account, string PasswordHash)? found;
        bool matches;
        using (var slot = await HashingSlotAsync(bounded: true, cancellationToken).ConfigureAwait(false))
        {
            if (slot is null)
            {
                return new(PasswordCheckOutcome.Busy, null);
            }

            found = await find(cancellationToken).ConfigureAwait(false);
            var hash = found?.PasswordHash;
            // Off the caller's thread, which may be the one serving sockets (herald serve completes
            // them inline on SQLite): the hash takes a good part of a second of CPU.
            matches = await Task.Run(
                () => password is { Length: > 0 and <= RelayPasswords.MaxLength } && RelayPasswords.Verify(password, hash),
                cancellationToken).ConfigureAwait(false);
        }

        if (found is { } account && matches)
        {
            return new(PasswordCheckOutcome.Matched, account.Account);
        }

        _failures.AttemptAcquire(network, 1).Dispose();
        return new(PasswordCheckOutcome.Mismatched, null);
    }

    /// <summary>A new password's hash for storing, computed like a check: off the caller's thread,
    /// within the node's bound (waiting as long as it takes: it is an administrator's change).</summary>
    public async Task<string> HashAsync(string password, CancellationToken cancellationToken)
    {
        using var slot = await HashingSlotAsync(bounded: false, cancellationToken).ConfigureAwait(false);
        return await Task.Run(() => RelayPasswords.Hash(password), cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _failures.Dispose();
        _turns.Dispose();
        _hashing.Dispose();
    }

    /// <summary>A hashing slot, released when disposed; null when <paramref name="bounded"/> and
    /// <see cref="SignInOptions.QueuedHashes"/> others are waiting for one already.</summary>
    private async Task<IDisposable?> HashingSlotAsync(bool bounded, CancellationToken cancellationToken)
    {
        if (!_hashing.Wait(0, CancellationToken.None))
        {
            if (Interlocked.Increment(ref _waitingForHash) > _queuedHashes && bounded)
            {
                Interlocked.Decrement(ref _waitingForHash);
                return null;
            }

            try
            {
                await _hashing.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waitingForHash);
            }
        }

        return new Slot(_hashing);
    }

    /// <summary>What one client counts as: its address, or for IPv6 its /64 network (one host
    /// usually holds a whole /64 and could otherwise guess from each of its addresses).</summary>
    internal static IPAddress NetworkOf(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    private sealed class Slot(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
