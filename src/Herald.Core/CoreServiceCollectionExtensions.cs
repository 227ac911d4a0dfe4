using Herald.Access;
using Herald.Credentials;
using Herald.Outbox;
using Herald.Delivery;
using Herald.Notifications;
using Herald.Notifications.Templates;
using Herald.Notifications.Unsubscribe;
using Herald.Relay;
using Herald.Notifications.FanOut;
using Herald.Notifications.Matching;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Herald;

public static class CoreServiceCollectionExtensions
{
    /// <summary>The domain services. The host supplies this node's passphrase source, a
    /// storage engine and a delivery client.</summary>
    public static IServiceCollection AddHeraldCore(this IServiceCollection services, NodePassphrase passphrase)
    {
        Charsets.EnsureRegistered();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(passphrase);
        services.AddSingleton<CredentialVault>();
        services.AddSingleton<CredentialKeyAdministration>();
        services.AddSingleton<OutgoingSettingsCache>();
        services.AddSingleton<OutgoingSettingsService>();
        services.AddSingleton<TestEmailService>();
        services.AddSingleton<ApiKeyService>();
        services.AddOptions<DeliveryOptions>();
        services.AddOptions<OutboxOptions>();
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<DeliveryHandoff>();
        services.AddSingleton<OutboxWriter>();
        services.AddSingleton<SubmissionService>();
        services.AddSingleton<ConnectionHealth>();
        services.AddSingleton<DeliveryMetrics>();
        services.AddSingleton<UpstreamSizeLimits>();
        services.AddSingleton<AccessTokens>();
        services.AddSingleton<OAuthSignInService>();
        services.TryAddSingleton<IReverseDnsResolver, SystemReverseDnsResolver>();
        services.AddSingleton<RelaySettingsCache>();
        services.AddSingleton<RelaySettingsService>();
        services.AddSingleton<RelayGateFactory>();
        services.AddSingleton<TemplateCompiler>();
        services.AddSingleton<NotificationTemplates>();
        services.AddSingleton<INotificationTemplates>(provider => provider.GetRequiredService<NotificationTemplates>());
        services.AddSingleton<TemplateService>();
        services.AddOptions<NotificationOptions>();
        services.AddSingleton<UnsubscribeLinks>();
        services.AddSingleton<IUnsubscribeLinks>(provider => provider.GetRequiredService<UnsubscribeLinks>());
        services.AddSingleton<UnsubscribeService>();
        services.AddSingleton<NotificationMailer>();
        services.AddSingleton<DirectoryCache>();
        services.AddSingleton<IDirectory>(provider => provider.GetRequiredService<DirectoryCache>());
        services.AddSingleton<DirectoryService>();
        services.AddOptions<SignInOptions>();
        services.AddSingleton<PasswordChecks>();
        services.AddSingleton<AdministratorService>();
        services.AddSingleton<NotificationSignal>();
        services.AddSingleton<NotificationMatcher>();
        services.AddSingleton<Herald.Notifications.Subscriptions.SubscriptionService>();
        services.AddSingleton<SubscriptionRecipients>();
        services.AddSingleton<ISubscriptionRecipients>(provider => provider.GetRequiredService<SubscriptionRecipients>());
        services.AddSingleton<NotificationFanOut>();
        return services;
    }
}
