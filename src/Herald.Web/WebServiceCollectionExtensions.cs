using Herald.Web.Bounces;
using Herald.Web.Console;
using Herald.Web.DeadLetters;
using Herald.Web.Health;
using Herald.Web.Metrics;
using Herald.Web.Notifications;
using Herald.Web.OpenApi;
using Herald.Web.Outbox;
using Herald.Web.Relay;
using Herald.Web.Security;
using Herald.Web.Settings;
using Herald.Web.Suppression;
using Herald.Web.Webhooks;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Web;

public static class WebServiceCollectionExtensions
{
    /// <summary>API key authentication, problem details and the OpenAPI document.</summary>
    public static IServiceCollection AddHeraldWeb(this IServiceCollection services)
    {
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();
        services.AddProblemDetails();
        services.AddHeraldOpenApi();
        services.AddHeraldConsole();
        // Enumerations are written by name, as in the CLI: "sent", "starttls-required".
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(
            new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.KebabCaseLower)));
        return services;
    }

    /// <summary>Every endpoint: health and the OpenAPI document for anyone, the rest for API keys.</summary>
    public static WebApplication MapHeraldApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHealthApi();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapMetricsApi();
        app.MapUnsubscribeEndpoints();
        var api = app.MapGroup("/api/v1").RequireAuthorization();
        api.MapOutboxApi();
        api.MapSettingsApi();
        api.MapRelayApi();
        api.MapTemplatesApi();
        api.MapDirectoryApi();
        api.MapDirectorySourcesApi();
        api.MapAccessApi();
        app.MapHeraldConsole();
        api.MapEventsApi();
        api.MapFailedEventsApi();
        api.MapExplainApi();
        api.MapSubscriptionsApi();
        api.MapRulesApi();
        api.MapSuppressionsApi();
        api.MapBounceMailboxApi();
        api.MapDeadLettersApi();
        api.MapWebhooksApi();
        return app;
    }
}
