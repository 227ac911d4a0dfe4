using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Herald.Access;
using Herald.Delivery;
using Herald.Outbox;
using Herald.Settings;
using Herald.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MimeKit;
using MimeKit.Utils;

namespace Herald.Relay;

/// <summary>Creates the gate of each listener endpoint; the gates share the caches, the outbox
/// writer and this host's name.</summary>
public sealed class RelayGateFactory(
    RelaySettingsCache relaySettings,
    OutgoingSettingsCache outgoing,
    OutboxWriter writer,
    DiskSpaceGuard disk,
    UpstreamSizeLimits upstreamLimits,
    IReverseDnsResolver resolver,
    IOptions<OutboxOptions> outboxOptions,
    IOptions<DeliveryOptions> deliveryOptions,
    ILogger<RelayGate> logger,
    TimeProvider time,
    PasswordChecks passwords)
{
    /// <summary>The name this host gives itself in Received headers.</summary>
    public string HostName { get; init; } = System.Net.Dns.GetHostName();

    public RelayGate Create(string listen) =>
        new(listen, new RelayGate.Services(relaySettings, outgoing, writer, disk, upstreamLimits, resolver, outboxOptions.Value, deliveryOptions.Value, logger, time, HostName, passwords));
}

/// <summary>
/// One listener's policy and its way into the outbox. Every call reads the listener's current
/// settings (through <see cref="RelaySettingsCache"/>), so a change applies to the next session.
/// </summary>
public sealed partial class RelayGate(string listen, RelayGate.Services services) : IRelayGate
{
    private static readonly SmtpReply NotConfigured = new(554, "5.7.1", "This relay listener is no longer configured.");
    private static readonly SmtpReply DiskFull = new(452, "4.3.1", "Insufficient system storage; try again later.");
    private static readonly SmtpReply StorageFailed = new(451, "4.3.0", "The message could not be stored; try again later.");

    /// <summary>The longest header section a relayed message may have: it is read into memory to
    /// be rewritten, while the body may be spooled.</summary>
    public const int MaxHeaderSectionBytes = 1024 * 1024;

    private static readonly SmtpReply HeaderSectionTooLong = new(552, "5.3.4", $"The message's header section is longer than {MaxHeaderSectionBytes} bytes.");

    // RFC 4954 §6: 454 4.7.0 is AUTH's temporary failure; the client keeps its credentials and tries later.
    private static readonly SmtpReply AuthAddressLimited = new(454, "4.7.0", "Temporary authentication failure: too many failed authentications from your address; try again later.");
    private static readonly SmtpReply AuthBusy = new(454, "4.7.0", "Temporary authentication failure: the server is busy; try again later.");

    public string Listen => listen;

    public async ValueTask<SmtpReply?> AdmitAsync(RelayClient client, CancellationToken cancellationToken)
    {
        if (await ListenerAsync(cancellationToken).ConfigureAwait(false) is not { } listener)
        {
            LogRefused(services.Logger, client.Address, listen, "the listener is no longer configured");
            return NotConfigured;
        }

        var decision = await RelayAccessPolicy.EvaluateAsync(listener.Access, listener.Entries, client.Address, services.Resolver, cancellationToken).ConfigureAwait(false);
        if (decision.Admitted)
        {
            return null;
        }

        LogRefused(services.Logger, RelayAddresses.Normalize(client.Address), listen, decision.Reason);
        return new SmtpReply(554, "5.7.1", $"Access denied: {RelayAddresses.Normalize(client.Address)} may not use this relay.");
    }

    public async ValueTask<RelayAuthRules> AuthRulesAsync(RelayClient client, CancellationToken cancellationToken) =>
        await ListenerAsync(cancellationToken).ConfigureAwait(false) is { } listener
            ? new RelayAuthRules(listener.Auth == RelayAuthMode.Required, listener.AuthWithoutTls)
            : new RelayAuthRules(Required: true, AllowedWithoutTls: false);

    public async ValueTask<RelayAuthentication> AuthenticateAsync(RelaySessionInfo session, string userName, string password, CancellationToken cancellationToken)
    {
        var listener = await ListenerAsync(cancellationToken).ConfigureAwait(false);
        // The name as every door normalises it; a name that cannot be one is checked as unknown
        // (PasswordChecks hashes against a decoy then, so the time taken tells nothing).
        RelayUserName? name = RelayUserName.TryParse(userName, out var parsed, out _) ? parsed : null;
        var check = await services.Passwords.CheckAsync<RelayAccount>(
            session.Client.Address,
            password,
            async token => name is { } known && await services.RelaySettings.GetAccountAsync(known, token).ConfigureAwait(false) is { } found ? (found, found.PasswordHash) : null,
            cancellationToken).ConfigureAwait(false);
        var loggedName = LogText.Untrusted(userName);
        var loggedHelo = LogText.Untrusted(session.HeloName);
        switch (check.Outcome)
        {
            case PasswordCheckOutcome.AddressLimited:
                LogAuthenticationFailed(services.Logger, session.Client.Address, listen, loggedName, loggedHelo, "too many failed authentications from this address lately; nothing was checked");
                return RelayAuthentication.Later(AuthAddressLimited);
            case PasswordCheckOutcome.Busy:
                LogAuthenticationFailed(services.Logger, session.Client.Address, listen, loggedName, loggedHelo, "too many password checks waiting on this node; nothing was checked");
                return RelayAuthentication.Later(AuthBusy);
            case PasswordCheckOutcome.Matched when listener is not null && check.Account!.MayUse(listener):
                return RelayAuthentication.As(check.Account.UserName.Value);
        }

        LogAuthenticationFailed(services.Logger, session.Client.Address, listen, loggedName, loggedHelo,
            check.Account is not { } account ? "unknown user or wrong password" : listener is null ? "listener no longer configured" : $"the account's scope {account.Scope} does not cover this listener's scope {listener.Scope}");
        return RelayAuthentication.Invalid;
    }

    public async ValueTask<SmtpReply?> CheckSenderAsync(RelaySessionInfo session, string sender, long? declaredSize, CancellationToken cancellationToken)
    {
        if (await ListenerAsync(cancellationToken).ConfigureAwait(false) is not { } listener)
        {
            return NotConfigured;
        }

        if (listener.SenderDomains.Count > 0 && !InDomains(sender, listener.SenderDomains))
        {
            return new SmtpReply(550, "5.7.1", $"Sender <{sender}> is not permitted: this relay accepts senders in {string.Join(", ", listener.SenderDomains)}.");
        }

        var resolved = await EffectiveAsync(listener, cancellationToken).ConfigureAwait(false);
        if (resolved.Problem is { } problem)
        {
            return problem;
        }

        // Checked at MAIL, before the client sends the data: 452 now rather than a 250 that could be lost.
        if (!services.Disk.HasRoomFor((declaredSize ?? 0) * 2))
        {
            return DiskFull;
        }

        var limit = MaxMessageBytes(resolved);
        return declaredSize > limit
            ? new SmtpReply(552, "5.3.4", $"Message size exceeds fixed maximum message size ({limit} bytes).")
            : null;
    }

    public async ValueTask<SmtpReply?> CheckRecipientAsync(RelaySessionInfo session, string recipient, CancellationToken cancellationToken)
    {
        if (await ListenerAsync(cancellationToken).ConfigureAwait(false) is not { } listener)
        {
            return NotConfigured;
        }

        if (session.AuthenticatedAs is null && listener.OpenRelayProblem() is { } openRelay)
        {
            // Stored before open relays were refused at configuration: it relays nothing until fixed.
            LogOpenRelay(services.Logger, listen, openRelay.Message);
            return new SmtpReply(550, "5.7.1", $"<{recipient}>: relay not permitted: this listener is configured as an open relay; an administrator must restrict it.");
        }

        return listener.RecipientDomains.Count > 0 && !InDomains(recipient, listener.RecipientDomains)
            ? new SmtpReply(550, "5.7.1", $"<{recipient}>: relay not permitted.")
            : null;
    }

    public async ValueTask<SmtpReply> AcceptAsync(RelaySessionInfo session, RelayEnvelope envelope, MimeData message, CancellationToken cancellationToken)
    {
        // A trace starts here for relayed mail (not under a span the listener's tasks inherited from
        // the request that started them): the message stores it (NewMessage.TraceParent), and its
        // delivery attempts continue it up to the upstream's reply.
        if (Activity.Current is not null)
        {
            Activity.Current = null;
        }

        using var span = HeraldTelemetry.Source.StartActivity("relay accept", ActivityKind.Server);
        var reply = await AcceptMessageAsync(session, envelope, message, span, cancellationToken).ConfigureAwait(false);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("herald.relay.client", session.Client.Address.ToString());
            span.SetTag("herald.recipients", envelope.Recipients.Count);
            span.SetTag("herald.smtp.reply_code", reply.Code);
            if (reply.Code >= 400)
            {
                span.SetStatus(ActivityStatusCode.Error, $"{reply.Code} {reply.Text}");
            }
        }

        return reply;
    }

    private async ValueTask<SmtpReply> AcceptMessageAsync(RelaySessionInfo session, RelayEnvelope envelope, MimeData message, Activity? span, CancellationToken cancellationToken)
    {
        if (await ListenerAsync(cancellationToken).ConfigureAwait(false) is not { } listener)
        {
            return NotConfigured;
        }

        var resolved = await EffectiveAsync(listener, cancellationToken).ConfigureAwait(false);
        if (resolved.Problem is { } problem)
        {
            return problem;
        }

        var effective = resolved.Settings!;
        var now = services.Time.GetUtcNow();
        var id = Guid.CreateVersion7(now).ToString("N");
        span?.SetTag("herald.message.id", id);
        // Only the header section is read and rewritten (impersonation, a Message-ID when there is
        // none), wherever the message is (memory, or a spool file for a large transfer); the body
        // follows as the client sent it and is never read here.
        if (await HeaderSectionAsync(message, cancellationToken).ConfigureAwait(false) is not { } section)
        {
            return HeaderSectionTooLong;
        }

        var headers = RelayHeaders.Rewrite(section, effective, id, services.HostName);
        var prefix = Encoding.UTF8.GetBytes(ReceivedHeader(session, envelope, id, now, services.HostName));
        var mime = MimeData.Prefixed([.. prefix, .. headers.Headers], message, skip: section.Length);

        if (mime.Length > MaxMessageBytes(resolved))
        {
            return new SmtpReply(552, "5.3.4", $"Message size exceeds fixed maximum message size ({MaxMessageBytes(resolved)} bytes).");
        }

        if (!services.Disk.HasRoomFor(mime.Length * 2))
        {
            return DiskFull;
        }

        // The envelope sender is the scope's own address under either impersonation policy
        // (SenderIdentity.Decide), so bounces and SPF concern the configured domain. The null
        // sender stays null: it marks a bounce or another notification that must never be
        // answered (RFC 5321 §4.5.5), and an address put in its place would invite replies to
        // it, bounce loops included.
        var envelopeSender = envelope.Sender.Length == 0 ? "" : headers.Identity.EnvelopeSender.Value;
        var newMessage = new NewMessage(
            id, listener.Scope, MessageSource.Relay, envelopeSender, effective.ConnectionId.Value, headers.MessageId, mime,
            envelope.Recipients, IdempotencyKey: null, now, now + services.Delivery.MaximumAge)
        {
            Subject = headers.Subject ?? "",
        };
        try
        {
            // Checkpoint: the row is durable (group commit) before 250 is sent. Not cut short by the
            // session's end: a spooled message is read from its file while the batch commits, and
            // the file goes as soon as this returns; the store's own timeouts bound the wait.
            var stored = await services.Writer.EnqueueAsync([newMessage], CancellationToken.None).ConfigureAwait(false);
            LogAccepted(services.Logger, stored[0].Id, session.Client.Address, listen, envelope.Recipients.Count, mime.Length);
            return new SmtpReply(250, "2.0.0", $"Ok: queued as {stored[0].Id}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Never a 250 for a message that may not be stored: the client keeps it and retries.
            LogStoreFailed(services.Logger, ex, session.Client.Address, listen);
            return StorageFailed;
        }
    }

    /// <summary>The trace header of RFC 5321 §4.4: from the client (its HELO name and address),
    /// by this host, with the protocol (RFC 3848: ESMTPS under TLS, A when authenticated), the
    /// outbox id, the recipient when there is only one, and the date.</summary>
    public static string ReceivedHeader(RelaySessionInfo session, RelayEnvelope envelope, string id, DateTimeOffset now, string hostName)
    {
        var address = RelayAddresses.Normalize(session.Client.Address);
        var literal = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"IPv6:{address}" : address.ToString();
        var helo = Sanitize(session.HeloName) ?? $"[{literal}]";
        var protocol = "ESMTP" + (session.Tls ? "S" : "") + (session.AuthenticatedAs is null ? "" : "A");
        var header = new StringBuilder()
            .Append($"Received: from {helo} ([{literal}])\r\n")
            .Append($"\tby {hostName} (Herald) with {protocol} id {id}");
        if (envelope.Recipients.Count == 1)
        {
            header.Append($"\r\n\tfor <{Sanitize(envelope.Recipients[0])}>");
        }

        return header.Append($"; {DateUtils.FormatDate(now)}\r\n").ToString();
    }

    /// <summary>The message's header section (up to the empty line before the body), read from
    /// its start; null when it is longer than <see cref="MaxHeaderSectionBytes"/>.</summary>
    private static async ValueTask<byte[]?> HeaderSectionAsync(MimeData message, CancellationToken cancellationToken)
    {
        var most = (int)Math.Min(message.Length, MaxHeaderSectionBytes);
        byte[] start;
        if (message.Bytes is { } bytes)
        {
            start = bytes.AsSpan(0, most).ToArray();
        }
        else
        {
            start = new byte[most];
            await using var stream = await message.OpenReadAsync(cancellationToken).ConfigureAwait(false);
            await stream.ReadExactlyAsync(start, cancellationToken).ConfigureAwait(false);
        }

        var length = RelayHeaders.HeaderSectionLength(start);
        return length == start.Length && start.Length < message.Length ? null : start[..length];
    }

    private static string? Sanitize(string? text) =>
        string.IsNullOrWhiteSpace(text) ? null : new string(text.Take(255).Select(c => c is > ' ' and < '\x7f' && c is not '(' and not ')' and not ';' ? c : '?').ToArray());

    private static bool InDomains(string mailbox, IReadOnlyList<string> domains) =>
        RelayAddresses.DomainOf(mailbox) is { } domain && domains.Contains(domain, StringComparer.OrdinalIgnoreCase);

    private long MaxMessageBytes((EffectiveOutgoingSettings? Settings, SmtpReply? Problem) resolved)
    {
        long limit = services.Outbox.MaxMessageBytes;
        if (resolved.Settings?.ConnectionId.Value is { } connection && services.UpstreamLimits.Get(connection) is { } upstream)
        {
            limit = Math.Min(limit, upstream);
        }

        return limit;
    }

    private ValueTask<RelayListenerSettings?> ListenerAsync(CancellationToken cancellationToken) =>
        services.RelaySettings.GetListenerAsync(listen, cancellationToken);

    private async ValueTask<(EffectiveOutgoingSettings? Settings, SmtpReply? Problem)> EffectiveAsync(RelayListenerSettings listener, CancellationToken cancellationToken)
    {
        // A scope that cannot send is an administrator's problem to fix: 451, so clients keep the
        // message. One whose email is only turned off takes it: it waits in the queue, as the API's do.
        var check = await services.Outgoing.CheckRouteAsync(listener.Scope, cancellationToken).ConfigureAwait(false);
        if (check.Route is { } route)
        {
            return (route.Settings, null);
        }

        LogNotConfigured(services.Logger, listen, check.Problem!);
        return (null, new SmtpReply(451, "4.3.5", $"The relay cannot send now: {check.Problem!.TrimEnd('.')}."));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay {Listen} refused client {Address}: {Reason}")]
    private static partial void LogRefused(ILogger logger, System.Net.IPAddress address, string listen, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay {Listen}: authentication as {UserName} from {Address} (EHLO {HeloName}) failed: {Reason}")]
    private static partial void LogAuthenticationFailed(ILogger logger, System.Net.IPAddress address, string listen, string userName, string heloName, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Relay {Listen}: message {Id} from {Address} stored for {Recipients} recipient(s), {Bytes} bytes")]
    private static partial void LogAccepted(ILogger logger, string id, System.Net.IPAddress address, string listen, int recipients, long bytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "Relay {Listen} refuses every recipient: {Problem}")]
    private static partial void LogOpenRelay(ILogger logger, string listen, string problem);

    [LoggerMessage(Level = LogLevel.Error, Message = "Relay {Listen}: a message from {Address} could not be stored; the client was told to retry (451)")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception, System.Net.IPAddress address, string listen);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay {Listen} cannot accept mail: {Problem}")]
    private static partial void LogNotConfigured(ILogger logger, string listen, string problem);

    /// <summary>What every gate shares.</summary>
    public sealed record Services(
        RelaySettingsCache RelaySettings,
        OutgoingSettingsCache Outgoing,
        OutboxWriter Writer,
        DiskSpaceGuard Disk,
        UpstreamSizeLimits UpstreamLimits,
        IReverseDnsResolver Resolver,
        OutboxOptions Outbox,
        DeliveryOptions Delivery,
        ILogger Logger,
        TimeProvider Time,
        string HostName,
        PasswordChecks Passwords);
}
