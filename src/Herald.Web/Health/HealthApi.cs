using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Herald.Web.Health;

public static class HealthApi
{
    /// <summary><c>GET /healthz</c>: the node is up and its database answers.</summary>
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app, Func<CancellationToken, Task<bool>> databaseAnswers)
    {
        app.MapGet("/healthz", async Task<Results<Ok<HealthReport>, JsonHttpResult<HealthReport>>> (CancellationToken cancellationToken) =>
        {
            var healthy = await databaseAnswers(cancellationToken).ConfigureAwait(false);
            var report = new HealthReport(healthy ? "ok" : "database unavailable");
            return healthy
                ? TypedResults.Ok(report)
                : TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).WithTags("Operations").WithName("getHealth").WithSummary("Check the node's health")
            .WithDescription("For load balancers and monitors, without a key: 200 when the node is up and its database answers, 503 otherwise.")
            .Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }
}

public sealed record HealthReport(string Status);
