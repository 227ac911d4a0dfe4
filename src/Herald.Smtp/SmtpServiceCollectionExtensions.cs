using Herald.Delivery;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Smtp;

public static class SmtpServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldSmtp(this IServiceCollection services) =>
        services
            .AddSingleton<IDeliveryClient, MailKitDeliveryClient>()
            .AddSingleton<IDeliveryPool, SmtpConnectionPool>();
}
