using Herald.Operations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Health;

public static class HealthApi
{
    /// <summary><c>GET /healthz</c>: the node is up and its database answers; <c>GET /readyz</c>:
    /// it can do its work (<see cref="NodeChecks.ReadinessAsync"/>).</summary>
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", async Task<Results<Ok<HealthReport>, JsonHttpResult<HealthReport>>> (NodeChecks checks, CancellationToken cancellationToken) =>
        {
            var found = new List<NodeCheck>();
            await checks.SchemaAsync(found, NodeChecks.DefaultTimeout, cancellationToken).ConfigureAwait(false);
            // Alive is the database answering; whether it is migrated is readiness's question.
            var healthy = found.Any(c => c is { Name: NodeChecks.Names.Database, Status: CheckStatus.Ok });
            var report = new HealthReport(healthy ? "ok" : "database unavailable");
            return healthy
                ? TypedResults.Ok(report)
                : TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).WithTags("Operations").WithName("getHealth").WithSummary("Check the node's health")
            .WithDescription("For load balancers and monitors, without a key: 200 when the node is up and its database answers, 503 otherwise.")
            .Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);

        app.MapGet("/readyz", async Task<Results<Ok<ReadinessReport>, JsonHttpResult<ReadinessReport>>> (NodeChecks checks, CancellationToken cancellationToken) =>
        {
            var report = ReadinessReport.From(await checks.ReadinessAsync(cancellationToken).ConfigureAwait(false));
            return report.Status == CheckStatus.Fail
                ? TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable)
                : TypedResults.Ok(report);
        }).WithTags("Operations").WithName("getReadiness").WithSummary("Check that the node can do its work")
            .WithDescription("For load balancers, orchestrators and monitors, without a key: 200 when the database answers and has every migration, "
                + "the node's credential key is the database's and every background worker runs; 503 naming the failing check otherwise. "
                + "A check that only warns (no credential key set yet, a database migrated by a newer release) leaves the node ready.")
            .Produces<ReadinessReport>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }
}

public sealed record HealthReport(string Status);

/// <summary>What <c>/readyz</c> answers: the overall status (the worst check's) and each check.</summary>
public sealed record ReadinessReport(CheckStatus Status, IReadOnlyList<ReadinessCheck> Checks)
{
    public static ReadinessReport From(NodeReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new(report.Status, [.. report.Checks.Select(c => new ReadinessCheck(c.Name, c.Status, c.Detail))]);
    }
}

/// <summary>One check: its name, how it came out, and a sentence (never a secret).</summary>
public sealed record ReadinessCheck(string Name, CheckStatus Status, string Detail);
