using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.Mvc.RazorPages.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.Authorization;

[CollectionDefinition(Name)]
public sealed class MatrixGroup : ICollectionFixture<MatrixHost>
{
    public const string Name = "Authorization matrix";
}

/// <summary>
/// The authorization matrix: every API endpoint and every console page handler, run by every
/// caller (none, sender /hr, admin /hr, admin /hr2, admin /hr.x, admin /hr/payroll, sender /,
/// admin /, and a directory user signed in as themselves) against resources of /, /hr, /hr/payroll and /hr2, each cell allowed or refused as the
/// rules say, and every write checked in the database.
/// </summary>
[Collection(MatrixGroup.Name)]
public sealed class AuthorizationMatrixTests(MatrixHost host)
{
    public static TheoryData<string> ApiCases => new(ApiMatrix.Cases.Select(c => c.Name));

    public static TheoryData<string> ConsoleCases => new(ConsoleMatrix.Cases.Select(c => c.Name));

    [Fact]
    public void Every_api_endpoint_has_a_rule_in_the_matrix()
    {
        var routed = ApiRoutes(host);
        var ruled = ApiMatrix.Cases.Select(c => c.Route).ToHashSet(StringComparer.Ordinal);
        Assert.True(routed.All(ruled.Contains), "Endpoints without a rule in ApiMatrix (decide who may use them): " + string.Join(", ", routed.Where(r => !ruled.Contains(r))));
        Assert.True(ruled.All(routed.Contains), "Rules in ApiMatrix for endpoints that no longer exist: " + string.Join(", ", ruled.Where(r => !routed.Contains(r))));
    }

    [Fact]
    public async Task Every_console_handler_has_a_rule_in_the_matrix()
    {
        var handlers = await ConsoleHandlersAsync(host);
        var ruled = ConsoleMatrix.Cases.Select(c => c.Route).ToHashSet(StringComparer.Ordinal);
        Assert.True(handlers.All(ruled.Contains), "Console handlers without a rule in ConsoleMatrix (decide who may use them): " + string.Join(", ", handlers.Where(r => !ruled.Contains(r))));
        Assert.True(ruled.All(handlers.Contains), "Rules in ConsoleMatrix for handlers that no longer exist: " + string.Join(", ", ruled.Where(r => !handlers.Contains(r))));
    }

    [Theory]
    [MemberData(nameof(ApiCases))]
    public async Task Api_cells_answer_as_the_rules_say(string @case) =>
        await RunAsync(ApiMatrix.Cases.Single(c => c.Name == @case), console: false);

    [Theory]
    [MemberData(nameof(ConsoleCases))]
    public async Task Console_cells_answer_as_the_rules_say(string @case) =>
        await RunAsync(ConsoleMatrix.Cases.Single(c => c.Name == @case), console: true);

    [Fact]
    public void The_matrix_size_is_printed()
    {
        var size = MatrixSize.Describe();
        TestContext.Current.TestOutputHelper?.WriteLine(size);
        Assert.Contains("cells", size, StringComparison.Ordinal);
    }

    private async Task RunAsync(MatrixCase @case, bool console)
    {
        var results = await CellRunner.RunAsync(host, @case, console);
        var grid = CellRunner.Grid(@case, results);
        TestContext.Current.TestOutputHelper?.WriteLine(grid);
        Assert.True(results.All(r => r.Passed), $"{results.Count(r => !r.Passed)} of {results.Count} cells failed:\n{grid}");
    }

    /// <summary>"GET /api/v1/messages/{id}" for every endpoint routing knows that is not a console page.</summary>
    internal static IReadOnlySet<string> ApiRoutes(MatrixHost host) =>
        host.Endpoints().OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<PageActionDescriptor>() is null)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => $"{m} {RoutePath(e.RoutePattern.RawText)}"))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>"GET /Settings" for every page (a page always answers GET) and "POST /Settings?handler=Save" for each other handler.</summary>
    internal static async Task<IReadOnlySet<string>> ConsoleHandlersAsync(MatrixHost host)
    {
        var loader = host.Services.GetRequiredService<PageLoader>();
        var handlers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in host.Endpoints().Where(e => e.Metadata.GetMetadata<PageActionDescriptor>() is not null).DistinctBy(e => e.Metadata.GetMetadata<PageActionDescriptor>()!.ViewEnginePath))
        {
            var page = endpoint.Metadata.GetMetadata<PageActionDescriptor>()!;
            var compiled = page as CompiledPageActionDescriptor ?? await loader.LoadAsync(page, endpoint.Metadata);
            handlers.Add($"GET {page.ViewEnginePath}");
            foreach (var handler in compiled.HandlerMethods.Where(h => !string.Equals(h.HttpMethod, "GET", StringComparison.OrdinalIgnoreCase)))
            {
                handlers.Add($"{handler.HttpMethod.ToUpperInvariant()} {page.ViewEnginePath}{(handler.Name is null ? "" : "?handler=" + handler.Name)}");
            }
        }

        return handlers;
    }

    private static string RoutePath(string? raw) => "/" + (raw ?? "").Trim('/');
}

/// <summary>How big the matrix is, counted from its tables (every cell of every case runs).</summary>
internal static class MatrixSize
{
    public static string Describe()
    {
        static (int Routes, int Cases, int Cells) Count(IReadOnlyList<MatrixCase> cases, int callers) =>
            (cases.Select(c => c.Route).Distinct().Count(), cases.Count, cases.Sum(c => callers * c.ScopesRun.Count));

        var api = Count(ApiMatrix.Cases, MatrixCaller.All.Count);
        var console = Count(ConsoleMatrix.Cases, MatrixCaller.Console.Count);
        return string.Create(CultureInfo.InvariantCulture,
            $"API: {api.Routes} endpoints ({api.Cases} cases) × {MatrixCaller.All.Count} callers × {MatrixCaller.ResourceScopes.Count} scopes (1 for the farm's own) = {api.Cells:N0} cells; " +
            $"console: {console.Routes} page handlers ({console.Cases} cases) × {MatrixCaller.Console.Count} callers × {MatrixCaller.ResourceScopes.Count} scopes (1 for the farm's own) = {console.Cells:N0} cells; " +
            $"{api.Cells + console.Cells:N0} cells run.");
    }
}
