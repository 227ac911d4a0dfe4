using Herald.Delivery;
using Herald.Relay;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Smtp;

public static class SmtpServiceCollectionExtensions
{
    /// <summary>The delivery client and its pool, the bounce mailboxes' IMAP/POP3 client, and the relay's options (section <c>Relay</c>), bound and validated.</summary>
    public static IServiceCollection AddHeraldSmtp(this IServiceCollection services) =>
        services
            .AddBoundOptions<RelayOptions>(RelayOptions.Section)
            .AddSingleton<IDeliveryClient, MailKitDeliveryClient>()
            .AddSingleton<IDeliveryPool, SmtpConnectionPool>()
            .AddSingleton<Herald.Operations.IConnectionDiagnosis, SmtpDiagnosis>()
            .AddSingleton<Herald.Bounces.IBounceMailboxClient, Herald.Smtp.Bounces.MailKitBounceMailbox>();
}
