using Herald.Access;
using Herald.Credentials;
using Herald.Outbox;
using Herald.Notifications;
using Herald.Notifications.Digests;
using Herald.Notifications.Templates;
using Herald.Notifications.Unsubscribe;
using Herald.Relay;
using Herald.Storage.Access;
using Herald.Storage.Notifications;
using Herald.Storage.Outbox;
using Herald.Storage.Relay;
using Herald.Notifications.Events;
using Herald.Notifications.Subscriptions;
using Herald.Settings;
using Herald.Storage.Credentials;
using Herald.Storage.Database;
using Herald.Storage.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage;

public static class StorageServiceCollectionExtensions
{
    public static IServiceCollection AddHeraldStorage(this IServiceCollection services, HeraldDatabase database)
    {
        services.AddSingleton(database);
        services.AddSingleton<Herald.Operations.IDatabaseProbe>(database);
        services.AddSingleton<ISettingsStore, SqlSettingsStore>();
        services.AddSingleton<ICredentialKeyStore, SqlCredentialKeyStore>();
        services.AddSingleton<IConsoleKeyStore, SqlConsoleKeyStore>();
        services.AddSingleton<IOutboxStore, SqlOutboxStore>();
        services.AddSingleton<Herald.Outbox.DeadLetters.IDeadLetterStore, SqlDeadLetterStore>();
        services.AddSingleton<IApiKeyStore, SqlApiKeyStore>();
        services.AddSingleton<IRelayStore, SqlRelayStore>();
        services.AddSingleton<Herald.Suppression.ISuppressionStore, Herald.Storage.Suppression.SqlSuppressionStore>();
        services.AddSingleton<Herald.Bounces.IBounceStore, Herald.Storage.Bounces.SqlBounceStore>();
        services.AddSingleton<Herald.Webhooks.IWebhookStore, Herald.Storage.Webhooks.SqlWebhookStore>();
        services.AddSingleton<INotificationTemplateStore, SqlTemplateStore>();
        services.AddSingleton<IRecentEvents, SqlRecentEvents>();
        services.AddSingleton<ISigningKeyStore, SqlSigningKeyStore>();
        services.AddSingleton<Herald.Notifications.SelfService.ISignInLinkStore, SqlSignInLinkStore>();
        services.AddSingleton<IServiceSettingsStore, SqlServiceSettingsStore>();
        services.AddSingleton<Herald.Notifications.Explain.IExplainStore, SqlExplainStore>();
        services.AddSingleton<SqlDigestStore>();
        services.AddSingleton<IDigestStore>(provider => provider.GetRequiredService<SqlDigestStore>());
        services.AddSingleton<IDigestInbox>(provider => provider.GetRequiredService<SqlDigestStore>());
        services.AddSingleton<IDirectoryStore, SqlDirectoryStore>();
        services.AddSingleton<Herald.Notifications.Sync.IDirectorySourceStore, SqlDirectorySourceStore>();
        services.AddSingleton<IAdministratorStore, SqlAdministratorStore>();
        services.AddSingleton(provider => (IOutboxStatistics)provider.GetRequiredService<IOutboxStore>());
        services.AddSingleton<INotificationEventStore, SqlNotificationEventStore>();
        services.AddSingleton<SqlSubscriptionStore>();
        services.AddSingleton<ISubscriptionRegistry>(provider => provider.GetRequiredService<SqlSubscriptionStore>());
        services.AddSingleton<ISubscriptionStore>(provider => provider.GetRequiredService<SqlSubscriptionStore>());
        return services;
    }
}
