using Herald.Access;
using Herald.Scopes;
using Herald.Telemetry;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Web.Metrics;

/// <summary><c>GET /metrics</c>: OpenTelemetry's Prometheus exporter, for an administrator key of <c>/</c>.</summary>
public static class MetricsApi
{
    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: scrape => scrape.Use(AdministratorOfRootAsync), optionsName: null)
            .RequireAuthorization()
            .WithMetadata(new HttpMethodMetadata([HttpMethods.Get]))
            .WithTags("Operations").WithName("getMetrics").WithSummary("Get Prometheus metrics")
            .WithDescription("Herald's outbox, delivery, notification, quarantine and connection metrics, with ASP.NET Core, .NET runtime and process metrics, in the Prometheus text format (OpenMetrics when asked for), for an administrator key of /.")
            .WithMetadata(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(string), ["text/plain", "application/openmetrics-text"]));
        return app;
    }

    /// <summary>Refuses every key but an administrator's of <c>/</c> (authentication ran before);
    /// then reads the database's counts once for the gauges of the collection that follows.</summary>
    private static async Task AdministratorOfRootAsync(HttpContext context, RequestDelegate next)
    {
        if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
        {
            await refusal.ExecuteAsync(context).ConfigureAwait(false);
            return;
        }

        await context.RequestServices.GetRequiredService<NodeGauges>().RefreshAsync(context.RequestAborted).ConfigureAwait(false);
        await next(context).ConfigureAwait(false);
    }
}
