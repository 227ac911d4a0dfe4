using Herald.Access;
using Herald.Scopes;
using Herald.Telemetry;
using Herald.Web.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Metrics;

/// <summary><c>GET /metrics</c>: OpenTelemetry's Prometheus exporter, for an administrator key of <c>/</c>.</summary>
public static class MetricsApi
{
    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        // The exporter's own middleware writes the scrape. It runs inside a minimal-API endpoint
        // rather than as MapPrometheusScrapingEndpoint's bare request delegate, which the OpenAPI
        // document cannot describe: getMetrics stays in the contract clients generate from.
        var scrape = app.CreateApplicationBuilder()
            .UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: _ => true, path: null, configureBranchedPipeline: null, optionsName: null)
            .Build();
        app.MapGet("/metrics", async (HttpContext context, NodeGauges gauges) =>
        {
            if (context.Refuse(ScopePath.Root, ApiKeyRole.Admin) is { } refusal)
            {
                return (IResult)refusal;
            }

            // The database's counts, read once for every gauge of the collection that follows.
            await gauges.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
            await scrape(context).ConfigureAwait(false);
            return Results.Empty;
        }).RequireAuthorization().WithTags("Operations").WithName("getMetrics").WithSummary("Get Prometheus metrics")
            .WithDescription("Herald's outbox, delivery, notification, quarantine and connection metrics, with ASP.NET Core, .NET runtime and process metrics, in the Prometheus text format (OpenMetrics when the Accept header asks for it), for an administrator key of /.")
            .Produces<string>(StatusCodes.Status200OK, "text/plain", "application/openmetrics-text");
        return app;
    }
}
