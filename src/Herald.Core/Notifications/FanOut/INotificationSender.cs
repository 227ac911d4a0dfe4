using Herald.Outbox;
using Herald.Scopes;

namespace Herald.Notifications.FanOut;

/// <summary>Where a fan-out's emails go: the <see cref="NotificationMailer"/> (composes them in
/// the scope's settings and writes them to the outbox in batches).</summary>
public interface INotificationSender
{
    Task<MailerOutcome> SendAsync(ScopePath scope, MessageSource source, IReadOnlyList<NotificationEmail> emails, CancellationToken cancellationToken);
}

public sealed class MailerNotificationSender(NotificationMailer mailer) : INotificationSender
{
    public Task<MailerOutcome> SendAsync(ScopePath scope, MessageSource source, IReadOnlyList<NotificationEmail> emails, CancellationToken cancellationToken) =>
        mailer.SendAsync(scope, source, emails, cancellationToken);
}
