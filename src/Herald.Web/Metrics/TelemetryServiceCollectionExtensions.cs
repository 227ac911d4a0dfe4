using Herald.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Herald.Web.Metrics;

public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Herald's meter with ASP.NET Core, runtime and process metrics, served at <c>/metrics</c>
    /// under the names dashboards already use; OTLP export of metrics and traces only when the
    /// standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or a signal's own endpoint) is configured.
    /// Without OTLP nothing listens to Herald's activity source, so no span is even created; a
    /// host that wants traces elsewhere (a test's in-memory exporter) adds its own tracer
    /// provider and gets Herald's spans and ASP.NET Core's server spans in it.
    /// </summary>
    public static IServiceCollection AddHeraldTelemetry(this IServiceCollection services, IConfiguration configuration, string nodeName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var otlpMetrics = Configured(configuration, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        var otlpTraces = Configured(configuration, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("herald", serviceVersion: typeof(HeraldTelemetry).Assembly.GetName().Version?.ToString(3), serviceInstanceId: nodeName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(HeraldTelemetry.Name)
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddProcessInstrumentation()
                    .AddPrometheusExporter(prometheus =>
                    {
                        // Series keep the labels they had before OpenTelemetry (no otel_scope_*).
                        prometheus.ScopeInfoEnabled = false;
                        // Each scrape collects afresh, as the hand-written endpoint did.
                        prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
                    });
                if (otlpMetrics)
                {
                    metrics.AddOtlpExporter();
                }
            });

        // The gauges that read the database exist as long as a meter provider does.
        services.ConfigureOpenTelemetryMeterProvider((provider, _) => provider.GetRequiredService<NodeGauges>());
        // What any tracer provider of this host records: Herald's spans and ASP.NET Core's.
        services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource(HeraldTelemetry.Name).AddAspNetCoreInstrumentation());
        if (otlpTraces)
        {
            telemetry.WithTracing(tracing => tracing.AddOtlpExporter());
        }

        return services;
    }

    private static bool Configured(IConfiguration configuration, string signalEndpoint) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) || !string.IsNullOrWhiteSpace(configuration[signalEndpoint]);
}
