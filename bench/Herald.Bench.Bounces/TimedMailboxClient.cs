using System.Diagnostics;
using Herald.Bounces;

namespace Herald.Bench.Bounces;

/// <summary>The production mailbox client with a stopwatch around each call, so that the figure
/// splits into IMAP (open, fetch, settle) and what Herald does with each report (the rest).</summary>
internal sealed class TimedMailboxClient(IBounceMailboxClient inner) : IBounceMailboxClient
{
    public TimeSpan Opening { get; private set; }

    public TimeSpan Fetching { get; private set; }

    public TimeSpan Settling { get; private set; }

    public TimeSpan Committing { get; private set; }

    public async Task<IBounceMailboxSession> OpenAsync(MailboxLogin login, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var session = await inner.OpenAsync(login, cancellationToken).ConfigureAwait(false);
        Opening += Stopwatch.GetElapsedTime(started);
        return new Session(this, session);
    }

    private sealed class Session(TimedMailboxClient owner, IBounceMailboxSession inner) : IBounceMailboxSession
    {
        public bool MovesKeptMail => inner.MovesKeptMail;

        public bool StaysCurrent => inner.StaysCurrent;

        public async Task<IReadOnlyList<FetchedMail>> FetchAsync(FetchLimits limits, IReadOnlySet<string> skip, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            var fetched = await inner.FetchAsync(limits, skip, cancellationToken).ConfigureAwait(false);
            owner.Fetching += Stopwatch.GetElapsedTime(started);
            return fetched;
        }

        public async Task SettleAsync(IReadOnlyList<string> processed, IReadOnlyList<string> kept, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            await inner.SettleAsync(processed, kept, cancellationToken).ConfigureAwait(false);
            owner.Settling += Stopwatch.GetElapsedTime(started);
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            await inner.CommitAsync(cancellationToken).ConfigureAwait(false);
            owner.Committing += Stopwatch.GetElapsedTime(started);
        }

        public Task WaitForMailAsync(TimeSpan most, CancellationToken cancellationToken) => inner.WaitForMailAsync(most, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
