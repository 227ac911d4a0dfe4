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
using Herald.Notifications.Digests;
using Herald.Telemetry;
using Herald.Work;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Herald;

public static class CoreServiceCollectionExtensions
{
    /// <summary>The domain services, with their options bound from the host's configuration
    /// (<c>Delivery</c>, <c>Outbox</c>, <c>Notifications</c>, <c>Work</c>, <c>Webhooks</c>; none registered: the
    /// defaults) and validated, at start-up for <c>herald serve</c> and before a CLI verb runs.
    /// The host supplies this node's passphrase source, a storage engine and a delivery client.</summary>
    public static IServiceCollection AddHeraldCore(this IServiceCollection services, NodePassphrase passphrase)
    {
        Charsets.EnsureRegistered();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(passphrase);
        services.AddSingleton<CredentialVault>();
        services.AddSingleton<CredentialKeyAdministration>();
        services.AddSingleton<OutgoingSettingsCache>();
        services.AddSingleton<OutgoingSettingsService>();
        services.AddSingleton<PublicUrlService>();
        services.AddSingleton<TestEmailService>();
        services.AddSingleton<ApiKeyService>();
        services.AddBoundOptions<DeliveryOptions>(DeliveryOptions.Section);
        services.AddBoundOptions<OutboxOptions>(OutboxOptions.Section);
        services.AddBoundOptions<NotificationOptions>(NotificationOptions.Section);
        services.AddBoundOptions<WorkOptions>(WorkOptions.Section);
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<DeliveryCapacity>();
        services.AddSingleton<IDeliveryRoom>(provider => provider.GetRequiredService<DeliveryCapacity>());
        services.AddSingleton<DeliveryConnections>();
        services.AddSingleton<DeliveryAttempt>();
        services.AddSingleton<Herald.Suppression.SuppressionCheck>();
        services.AddSingleton<Herald.Suppression.SuppressionService>();
        services.AddBoundOptions<Herald.Bounces.BounceOptions>(Herald.Bounces.BounceOptions.Section);
        services.AddSingleton<Herald.Bounces.BounceTokens>();
        services.AddSingleton<Herald.Bounces.BounceDomains>();
        services.AddSingleton<Herald.Bounces.BounceMetrics>();
        services.AddSingleton<Herald.Bounces.BounceProcessor>();
        services.AddSingleton<Herald.Bounces.BounceReader>();
        services.AddSingleton<Herald.Bounces.BounceMailboxService>();
        services.AddSingleton<OutboxWriter>();
        services.AddSingleton<SubmissionService>();
        services.AddSingleton<QueueService>();
        services.AddSingleton<Herald.Outbox.DeadLetters.DeadLetterService>();
        services.AddSingleton<ConnectionHealth>();
        services.AddSingleton<DeliveryMetrics>();
        services.AddSingleton<NotificationMetrics>();
        services.AddSingleton<NodeGauges>();
        services.AddSingleton<UpstreamSizeLimits>();
        services.AddSingleton<AccessTokens>();
        services.AddSingleton<OAuthSignInService>();
        services.TryAddSingleton<IReverseDnsResolver, SystemReverseDnsResolver>();
        services.AddSingleton<RelaySettingsCache>();
        services.AddSingleton<RelaySettingsService>();
        services.AddSingleton<RelayGateFactory>();
        services.AddBoundOptions<NotificationTemplateOptions>(NotificationTemplateOptions.Section);
        services.AddSingleton<TemplateCompiler>();
        services.AddSingleton<TemplateRenderer>();
        services.AddSingleton<TemplateChecks>();
        services.AddSingleton<NotificationTemplates>();
        services.AddSingleton<INotificationTemplates>(provider => provider.GetRequiredService<NotificationTemplates>());
        services.AddSingleton<TemplateService>();
        services.AddSingleton<UnsubscribeLinks>();
        services.AddSingleton<IUnsubscribeLinks>(provider => provider.GetRequiredService<UnsubscribeLinks>());
        services.AddSingleton<UnsubscribeService>();
        services.AddSingleton<UnsubscribeFromEverything>();
        services.AddSingleton<NotificationMailer>();
        services.AddSingleton<DirectoryCache>();
        services.AddSingleton<IDirectory>(provider => provider.GetRequiredService<DirectoryCache>());
        services.AddSingleton<DirectoryService>();
        services.AddSingleton<Herald.Notifications.Sync.DirectorySyncService>();
        services.AddBoundOptions<Herald.Notifications.Sync.DirectorySyncOptions>(Herald.Notifications.Sync.DirectorySyncOptions.Section);
        services.AddSingleton<Herald.Notifications.Sync.DirectorySyncScheduler>();
        services.AddBoundOptions<SignInOptions>(SignInOptions.Section);
        services.AddSingleton<PasswordChecks>();
        services.AddSingleton<AdministratorService>();
        services.AddSingleton<NotificationSignal>();
        services.AddSingleton<NotificationMatcher>();
        services.AddSingleton<Herald.Notifications.Subscriptions.SubscriptionService>();
        services.AddSingleton<Herald.Notifications.Subscriptions.RuleService>();
        services.AddSingleton<Herald.Notifications.Subscriptions.MyAlertsService>();
        services.AddSingleton<Herald.Notifications.SelfService.PersonSessions>();
        services.AddBoundOptions<Herald.Notifications.SelfService.SelfServiceOptions>(Herald.Notifications.SelfService.SelfServiceOptions.Section);
        services.AddSingleton<Herald.Notifications.SelfService.ManageLinks>();
        services.AddSingleton<Herald.Notifications.SelfService.IManageLinks>(provider => provider.GetRequiredService<Herald.Notifications.SelfService.ManageLinks>());
        services.AddSingleton<Herald.Notifications.SelfService.SignInLinkSignal>();
        services.AddSingleton<Herald.Notifications.SelfService.SignInLinks>();
        services.AddSingleton<Herald.Notifications.SelfService.SignInLinkMailer>();
        services.AddSingleton<Herald.Notifications.Events.EventService>();
        services.AddSingleton<Herald.Scopes.ScopeService>();
        services.AddSingleton<SubscriptionRecipients>();
        services.AddSingleton<ISubscriptionRecipients>(provider => provider.GetRequiredService<SubscriptionRecipients>());
        services.AddSingleton<NotificationFanOut>();
        services.AddSingleton<Herald.Notifications.Explain.ExplainService>();
        services.AddSingleton<Herald.Notifications.Subscriptions.NotificationTestSender>();
        services.AddSingleton<FailedWorkService>();
        services.AddBoundOptions<Herald.Webhooks.WebhookOptions>(Herald.Webhooks.WebhookOptions.Section);
        services.AddSingleton<Herald.Webhooks.WebhookSignal>();
        services.AddSingleton<Herald.Webhooks.WebhookSender>();
        services.AddSingleton<Herald.Webhooks.WebhookService>();
        services.AddSingleton<Herald.Operations.NodeChecks>();
        services.AddSingleton<Herald.Operations.NodeDoctor>();
        return services;
    }

    /// <summary>The node's background loops: delivery, notification fan-out, digests, directory sync, bounce mailboxes, webhooks.</summary>
    public static IServiceCollection AddHeraldWorkers(this IServiceCollection services)
    {
        services.AddHostedService<DeliveryWorker>();
        services.AddHostedService<ConnectionProbes>();
        services.AddHostedService<NotificationEngine>();
        services.AddHostedService<DigestScheduler>();
        services.AddHostedService<Herald.Webhooks.WebhookWorker>();
        services.AddHostedService(provider => provider.GetRequiredService<Herald.Notifications.Sync.DirectorySyncScheduler>());
        services.AddHostedService(provider => provider.GetRequiredService<Herald.Notifications.SelfService.SignInLinkMailer>());
        services.AddHostedService(provider => provider.GetRequiredService<Herald.Bounces.BounceReader>());
        return services;
    }

    /// <summary>Options of <paramref name="section"/>, bound from the registered configuration if
    /// there is one, validated by their annotations (and <see cref="System.ComponentModel.DataAnnotations.IValidatableObject"/>)
    /// when the host starts.</summary>
    public static IServiceCollection AddBoundOptions<T>(this IServiceCollection services, string section)
        where T : class
    {
        services.AddOptions<T>().ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(new BoundOptionsSection(typeof(T), section));
        services.AddSingleton<IConfigureOptions<T>>(provider => new ConfigureNamedOptions<T>(
            Options.DefaultName, options => provider.GetService<IConfiguration>()?.GetSection(section).Bind(options)));
        return services;
    }
}

/// <summary>An options class bound from configuration section <see cref="Section"/> (registered by
/// <see cref="CoreServiceCollectionExtensions.AddBoundOptions{T}"/>): what an operator can set, so
/// that the configuration reference (docs/configuration.md) is checked against what the node binds.</summary>
public sealed record BoundOptionsSection(Type Type, string Section);

