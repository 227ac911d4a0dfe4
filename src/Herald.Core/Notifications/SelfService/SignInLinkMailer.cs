using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Work;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Herald.Notifications.SelfService;

/// <summary>
/// Works on requests for sign-in links, off the request that stored them (so the page answers
/// alike, in the same time, whoever has the address): finds the directory user with the address
/// and queues the link for them in the outbox of <c>/</c>, Herald's own mail, visible in the queue
/// like any other message. One kind of loop (<see cref="WorkLoop{TItem}"/>); a request is claimed
/// for <see cref="Lease"/>, and a node that dies meanwhile lets another node take it.
/// </summary>
public sealed partial class SignInLinkMailer(
    ISignInLinkStore store,
    IDirectory directory,
    NotificationMailer mailer,
    PublicUrlService publicUrl,
    SignInLinkSignal signal,
    IOptions<SelfServiceOptions> options,
    IOptions<WorkOptions> work,
    TimeProvider time,
    ILogger<SignInLinkMailer> logger) : BackgroundService, IWorkItems<SignInLinkRequest>
{
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    private DateTimeOffset _lastPurge = DateTimeOffset.MinValue;
    private WorkLoop<SignInLinkRequest>? _loop;

    private WorkLoop<SignInLinkRequest> Loop => _loop ??= new WorkLoop<SignInLinkRequest>(
        this, new WorkRoom(8), new WorkLoopSettings(8, 2, PollInterval), signal, leases: null, work.Value, time, logger);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Loop.RunAsync(stoppingToken);

    /// <summary>One round now: every request waiting is worked on; returns how many were claimed.</summary>
    public Task<int> RunOnceAsync(CancellationToken cancellationToken) => Loop.RunOnceAsync(cancellationToken);

    /// <summary>The outbox key that makes one request one message, however often it is worked on.</summary>
    public static string IdempotencyKey(string requestId) => "sign-in-link:" + requestId;

    string IWorkItems<SignInLinkRequest>.Kind => "sign-in link";

    // The request's id only: the address someone typed is not for the log.
    string IWorkItems<SignInLinkRequest>.NameOf(SignInLinkRequest item) => item.Id;

    int IWorkItems<SignInLinkRequest>.FailuresOf(SignInLinkRequest item) => 0;

    async Task<IReadOnlyList<SignInLinkRequest>> IWorkItems<SignInLinkRequest>.ClaimAsync(int most, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (now - _lastPurge >= PurgeInterval)
        {
            // Kept as long as the rate limits count them and their links can be used, then forgotten.
            var settings = options.Value;
            await store.PurgeAsync(now - settings.SignInLimitWindow - settings.SignInLinkLifetime, cancellationToken).ConfigureAwait(false);
            _lastPurge = now;
        }

        return await store.ClaimAsync(most, now, now + Lease, cancellationToken).ConfigureAwait(false);
    }

    async Task IWorkItems<SignInLinkRequest>.ProcessAsync(SignInLinkRequest item, CancellationToken cancellationToken)
    {
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        if (view.FindUserByEmail(item.Address) is not { } user)
        {
            await store.CompleteAsync(item.Id, SignInLinkOutcome.NoUser, null, null, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        var token = SignInLinks.NewToken();
        var lifetime = options.Value.SignInLinkLifetime;
        var expires = time.GetUtcNow() + lifetime;
        // Checkpoint: the link's hash is stored before the mail is queued, so the link in the mail
        // always works. A node that dies between the two leaves a link nobody received; the person
        // asks again.
        await store.CompleteAsync(item.Id, SignInLinkOutcome.Sent, user.Id, SignInLinks.HashOf(token), expires, cancellationToken).ConfigureAwait(false);
        var link = new Uri($"{await publicUrl.GetBaseUrlAsync(cancellationToken).ConfigureAwait(false)}/signin/link/{token}");
        var email = new NotificationEmail(new NotificationRecipient(user.Email, user), Content(user, link, lifetime), Unsubscribe: null, IdempotencyKey(item.Id));
        var outcome = await mailer.SendAsync(ScopePath.Root, MessageSource.Notification, [email], cancellationToken).ConfigureAwait(false);
        if (outcome.Problem is { } problem)
        {
            LogCannotSend(logger, item.Id, problem);
        }
    }

    Task IWorkItems<SignInLinkRequest>.FailAsync(SignInLinkRequest item, ItemFailure failure, CancellationToken cancellationToken) =>
        store.CompleteAsync(item.Id, SignInLinkOutcome.Failed, null, null, null, cancellationToken);

    Task IWorkItems<SignInLinkRequest>.PostponeAsync(SignInLinkRequest item, DateTimeOffset retryAt, CancellationToken cancellationToken) =>
        store.ReleaseAsync(item.Id, retryAt, cancellationToken);

    /// <summary>The mail: who it is for, the link, how long it works, and what to do if it was not asked for.</summary>
    public static RenderedNotification Content(DirectoryUser user, Uri link, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(link);
        var minutes = (int)Math.Round(lifetime.TotalMinutes);
        var text = $"""
            Hello {user.Name},

            Open this link to sign in to Herald and manage your alerts:

            {link.AbsoluteUri}

            It works once, for {minutes} minutes. If you did not ask for it, ignore this mail: nobody can use it without reading your mail.
            """;
        var html = $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Your Herald sign-in link</title></head>
            <body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#222">
            <p>Hello {System.Net.WebUtility.HtmlEncode(user.Name)},</p>
            <p>Open this link to sign in to Herald and manage your alerts:</p>
            <p><a href="{System.Net.WebUtility.HtmlEncode(link.AbsoluteUri)}">Sign in to Herald</a></p>
            <p style="color:#666">It works once, for {minutes} minutes. If you did not ask for it, ignore this mail: nobody can use it without reading your mail.</p>
            </body></html>
            """;
        return new RenderedNotification("Your Herald sign-in link", text + "\n", html);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The sign-in link of request {Request} was not queued: {Problem}")]
    private static partial void LogCannotSend(ILogger logger, string request, string problem);
}
