using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications;

/// <summary>One address a notification goes to; <see cref="User"/> is null for an address that is
/// no user (a rule's address, a group's alias).</summary>
public sealed record NotificationRecipient(EmailAddress Address, DirectoryUser? User)
{
    /// <summary>How the recipient is named in opt-outs and unsubscribe links.</summary>
    public string Key => User?.Id ?? Address.Value.ToLowerInvariant();
}

/// <summary>Subject and bodies of one notification, rendered from the scope's templates.</summary>
public sealed record RenderedNotification(string Subject, string Text, string? Html);

/// <summary>The window a digest covers: events received in [<see cref="Start"/>, <see cref="End"/>).</summary>
public sealed record DigestWindow(DateTimeOffset Start, DateTimeOffset End, NotificationFrequency Frequency);

/// <summary>Renders notifications from the scope's Liquid templates (the nearest scope that
/// overrides the event type, else the built-in default). Templates are checked when saved, so
/// rendering does not fail on a template's syntax.</summary>
public interface INotificationTemplates
{
    ValueTask<RenderedNotification> RenderEventAsync(
        NotificationEvent notificationEvent, NotificationRecipient recipient, string sourceName, Uri unsubscribe, CancellationToken cancellationToken);

    ValueTask<RenderedNotification> RenderDigestAsync(
        Subscription subscription, IReadOnlyList<NotificationEvent> events, DigestWindow window, NotificationRecipient recipient, Uri unsubscribe, CancellationToken cancellationToken);
}

/// <summary>Signed, expiring one-click unsubscribe links (RFC 8058) that any node can check.</summary>
public interface IUnsubscribeLinks
{
    ValueTask<Uri> CreateAsync(NotificationOrigin origin, CancellationToken cancellationToken);
}

/// <summary>Who receives what a subscription matches, now.</summary>
public interface ISubscriptionRecipients
{
    /// <summary>A personal subscription's owner; a group subscription's recipients as the group's
    /// delivery says (members, alias, both), without members who opted out. Only users with at
    /// least View on the subscription's scope, and an alias only when the group holds View.</summary>
    ValueTask<IReadOnlyList<NotificationRecipient>> ResolveAsync(Subscription subscription, IDirectoryView directory, CancellationToken cancellationToken);
}

/// <summary>Keeps the events that matched a daily or weekly subscription until its digest goes out.</summary>
public interface IDigestInbox
{
    Task AddAsync(IReadOnlyList<DigestEntry> entries, CancellationToken cancellationToken);
}

public sealed record DigestEntry(string SubscriptionId, EventKey Event, DateTimeOffset ReceivedAt);
