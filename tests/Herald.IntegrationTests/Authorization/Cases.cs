using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace Herald.IntegrationTests.Authorization;

/// <summary>What a cell checks besides the answer.</summary>
internal enum Effect
{
    /// <summary>Allowed: the answer shows the resource (its marker); refused: it does not.</summary>
    Read,

    /// <summary>The answer lists the resource exactly when <see cref="MatrixCase.Lists"/> lets the caller see it.</summary>
    List,

    /// <summary>The database is read before and after: refused, nothing changed; allowed, what should have.</summary>
    Write,

    /// <summary>Only the answer (a test email: the effect is on an SMTP server, none listens).</summary>
    Answer,
}

/// <summary>What an allowed write does to what <see cref="MatrixCase.Probe"/> reads.</summary>
internal enum Change
{
    Changed,
    Removed,
    Created,
}

/// <summary>Something seeded for a cell: its id, scope and a marker only it contains.</summary>
internal sealed record Seeded(string Id, string Scope, string Marker);

/// <summary>One cell: who calls, on what scope, with which resource, and a fresh marker for what it writes.</summary>
internal sealed record Cell(MatrixCaller Caller, string Scope, Seeded? Resource, string Marker, int Number)
{
    public Seeded Seeded => Resource ?? throw new InvalidOperationException("This case seeds nothing.");
}

/// <summary>A request as a cell sends it: JSON for the API, a form (with the session's
/// anti-forgery token added) for the console.</summary>
internal sealed record CellRequest(HttpMethod Method, string Path)
{
    public object? Json { get; init; }

    public IReadOnlyList<(string Name, string Value)>? Form { get; init; }

    public (string ContentType, string Text)? Body { get; init; }

    /// <summary>A Cookie header of its own (an anti-forgery cookie a seed was given by a page).</summary>
    public string? Cookie { get; init; }

    /// <summary>A file field of a multipart form (the console's import).</summary>
    public (string Field, string FileName, string Text)? File { get; init; }

    public static CellRequest Get(string path) => new(HttpMethod.Get, path);

    public static CellRequest Delete(string path) => new(HttpMethod.Delete, path);

    public static CellRequest Post(string path, object? json = null) => new(HttpMethod.Post, path) { Json = json };

    public static CellRequest Put(string path, object? json) => new(HttpMethod.Put, path) { Json = json };

    public static CellRequest Patch(string path, object? json) => new(HttpMethod.Patch, path) { Json = json };

    public static CellRequest Posted(string path, params (string Name, string Value)[] form) => new(HttpMethod.Post, path) { Form = form };
}

/// <summary>
/// One operation of the matrix: the route or page handler it runs (as routing names it), its rule
/// (<see cref="Policy"/>) and how a cell builds its request and checks what happened. A route may
/// have several cases (creating and changing through one PUT follow different rules).
/// </summary>
internal sealed record MatrixCase(string Route, Policy Policy, Effect Effect)
{
    public string Variant { get; init; } = "";

    /// <summary>What the cell acts on, made fresh in the cell's scope (none: the scope itself).</summary>
    public Func<MatrixHost, string, Task<Seeded>>? Seed { get; init; }

    /// <summary>What the cell acts on when it belongs to the caller (my alerts): made for every cell.</summary>
    public Func<MatrixHost, string, MatrixCaller, Task<Seeded>>? SeedFor { get; init; }

    public required Func<Cell, CellRequest> Request { get; init; }

    /// <summary>For writes: the stored state the request may change, as text (null: absent).</summary>
    public Func<MatrixHost, Cell, Task<string?>>? Probe { get; init; }

    public Change Change { get; init; } = Change.Changed;

    /// <summary>For lists: who sees the seeded resource in the answer.</summary>
    public Policy? Lists { get; init; }

    /// <summary>The farm as a whole (the directory, metrics): run once, not per scope.</summary>
    public bool Global { get; init; }

    /// <summary>Signs in or out: runs in a copy of the caller's browser.</summary>
    public bool OwnSession { get; init; }

    public string Name => Variant.Length == 0 ? Route : $"{Route} ({Variant})";

    public IReadOnlyList<string> ScopesRun => Global ? ["/"] : MatrixCaller.ResourceScopes;

    public override string ToString() => Name;
}

/// <summary>What one cell expected and saw.</summary>
internal sealed record CellResult(MatrixCaller Caller, string Scope, Outcome Expected, Outcome Actual, string? Problem)
{
    public bool Passed => Problem is null;
}

/// <summary>Runs every cell of a case against the host: seeds, sends, classifies, reads back.</summary>
internal static class CellRunner
{
    public static async Task<IReadOnlyList<CellResult>> RunAsync(MatrixHost host, MatrixCase @case, bool console)
    {
        var callers = console ? MatrixCaller.Console : MatrixCaller.All;
        // The scopes' cells touch different things, so they run side by side; each scope's callers in turn.
        var byScope = await Task.WhenAll(@case.ScopesRun.Select(scope => RunScopeAsync(host, @case, scope, callers, console)));
        return byScope.SelectMany(r => r).OrderBy(r => IndexOf(callers, r.Caller)).ToArray();
    }

    private static int IndexOf(IReadOnlyList<MatrixCaller> callers, MatrixCaller caller) => callers.Select((c, i) => (c, i)).First(x => x.c == caller).i;

    private static async Task<IReadOnlyList<CellResult>> RunScopeAsync(MatrixHost host, MatrixCase @case, string scope, IReadOnlyList<MatrixCaller> callers, bool console)
    {
        var results = new List<CellResult>();
        Seeded? current = null;
        foreach (var caller in callers)
        {
            if (@case.SeedFor is not null)
            {
                current = await @case.SeedFor(host, scope, caller);
            }
            else if (@case.Seed is not null && current is null)
            {
                current = await @case.Seed(host, scope);
            }

            var cell = new Cell(caller, scope, current, host.Marker(), host.Next());
            var (result, consumed) = await RunCellAsync(host, @case, cell, console);
            results.Add(result);
            if (consumed)
            {
                current = null;
            }
        }

        return results;
    }

    private static async Task<(CellResult Result, bool Consumed)> RunCellAsync(MatrixHost host, MatrixCase @case, Cell cell, bool console)
    {
        // The API takes keys only: a person's console session is nobody there.
        var expected = @case.Policy.Expect(console || cell.Caller.Role != Role.Person ? cell.Caller : MatrixCaller.Nobody, cell.Scope);
        var before = @case.Probe is null ? null : await @case.Probe(host, cell);
        var request = @case.Request(cell);
        HttpStatusCode status;
        string body;
        string? location;
        var ownSession = @case.OwnSession && console ? host.CopyOfSession(cell.Caller) : ((HttpClient, string)?)null;
        try
        {
            using var message = Build(request, console ? (ownSession?.Item2 ?? host.Session(cell.Caller).Token) : null);
            // A Cookie header of the request's own is sent by a client that keeps no cookies (one that does drops it).
            using var cookieless = request.Cookie is not null && !console ? host.Api(cell.Caller, cookies: false) : null;
            var client = cookieless ?? (console ? ownSession?.Item1 ?? host.Session(cell.Caller).Browser
                : cell.Caller.Role == Role.Person ? host.Session(cell.Caller).Browser : host.ApiClient(cell.Caller));
            using var response = await client.SendAsync(message, TestContext.Current.CancellationToken);
            status = response.StatusCode;
            body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            location = response.Headers.Location?.OriginalString;
        }
        finally
        {
            ownSession?.Item1.Dispose();
        }

        var actual = Classify(status, location, console);
        var problems = new List<string>();
        if (actual != expected)
        {
            problems.Add($"expected {expected}, got {(int)status}{(location is null ? "" : " → " + location)}");
        }

        var changed = false;
        switch (@case.Effect)
        {
            case Effect.Read when cell.Resource is { } seeded:
                if (actual == Outcome.Allowed && !body.Contains(seeded.Marker, StringComparison.Ordinal))
                {
                    problems.Add($"allowed but the answer does not show {seeded.Marker}");
                }
                else if (actual != Outcome.Allowed && body.Contains(seeded.Marker, StringComparison.Ordinal))
                {
                    problems.Add($"refused but the answer shows {seeded.Marker}");
                }

                break;
            case Effect.List when cell.Resource is { } seeded:
                var listed = body.Contains(seeded.Marker, StringComparison.Ordinal);
                var shouldList = actual == Outcome.Allowed && (@case.Lists ?? @case.Policy).Allows(cell.Caller, cell.Scope);
                if (listed != shouldList)
                {
                    problems.Add(listed ? $"lists {seeded.Marker} of {cell.Scope}, which it may not see" : $"does not list {seeded.Marker} of {cell.Scope}");
                }

                break;
            case Effect.Write:
                var after = await @case.Probe!(host, cell);
                changed = after != before;
                if (actual != Outcome.Allowed && changed)
                {
                    problems.Add($"refused but the database changed: {Short(before)} → {Short(after)}");
                }
                else if (actual == Outcome.Allowed)
                {
                    var did = @case.Change switch
                    {
                        Change.Removed => before is not null && after is null,
                        Change.Created => before is null && after is not null,
                        _ => after is not null && changed,
                    };
                    if (!did)
                    {
                        problems.Add($"allowed but the database does not show it {@case.Change.ToString().ToLowerInvariant()}: {Short(before)} → {Short(after)}");
                    }
                }

                break;
        }

        if (actual == Outcome.Rejected)
        {
            problems.Add("the request itself was rejected: " + Short(body));
        }

        var result = new CellResult(cell.Caller, cell.Scope, expected, actual, problems.Count == 0 ? null : string.Join("; ", problems));
        // Something allowed (or wrongly changed) is used up: the next caller gets a fresh one.
        return (result, @case.Effect == Effect.Write && (changed || actual == Outcome.Allowed));
    }

    internal static Outcome Classify(HttpStatusCode status, string? location, bool console) => (int)status switch
    {
        401 => Outcome.SignIn,
        403 => Outcome.Forbidden,
        404 => Outcome.NotFound,
        // The challenge sends the visitor to sign in and back (ReturnUrl); signing out ends on /signin plainly.
        302 or 303 when console && location is not null && location.Contains("/signin?", StringComparison.OrdinalIgnoreCase) => Outcome.SignIn,
        >= 200 and < 400 => Outcome.Allowed,
        _ => Outcome.Rejected,
    };

    private static HttpRequestMessage Build(CellRequest request, string? token)
    {
        var message = new HttpRequestMessage(request.Method, new Uri(request.Path.TrimStart('/'), UriKind.Relative));
        if (request.Cookie is { } cookie)
        {
            message.Headers.Add("Cookie", cookie);
        }

        if (request.File is { } file)
        {
            var multipart = new MultipartFormDataContent
            {
                { new StringContent(token ?? ""), "__RequestVerificationToken" },
            };
            foreach (var (name, value) in request.Form ?? [])
            {
                multipart.Add(new StringContent(value), name);
            }

            multipart.Add(new ByteArrayContent(Encoding.UTF8.GetBytes(file.Text)), file.Field, file.FileName);
            message.Content = multipart;
        }
        else if (request.Form is not null || (token is not null && request.Method != HttpMethod.Get))
        {
            var fields = (request.Form ?? []).Select(f => new KeyValuePair<string, string>(f.Name, f.Value)).ToList();
            if (token is not null)
            {
                fields.Add(new("__RequestVerificationToken", token));
            }

            message.Content = new FormUrlEncodedContent(fields);
        }
        else if (request.Body is { } body)
        {
            message.Content = new StringContent(body.Text, Encoding.UTF8, body.ContentType);
        }
        else if (request.Json is { } json)
        {
            message.Content = JsonContent.Create(json, json.GetType());
        }

        return message;
    }

    private static string Short(string? text) => text is null ? "(none)" : text.Length > 300 ? text[..300] + "…" : text;

    /// <summary>A case's cells as a grid: callers down, scopes across; each cell "ok" or what went wrong.</summary>
    public static string Grid(MatrixCase @case, IReadOnlyList<CellResult> results)
    {
        var text = new StringBuilder().AppendLine(CultureInfo.InvariantCulture, $"{@case.Name}: {@case.Policy.Who}");
        foreach (var row in results.GroupBy(r => r.Caller))
        {
            text.Append(CultureInfo.InvariantCulture, $"  {row.Key.Label,-18}");
            foreach (var cell in row)
            {
                text.Append(CultureInfo.InvariantCulture, $" {cell.Scope}: {(cell.Passed ? cell.Actual.ToString() : "FAIL " + cell.Problem)};");
            }

            text.AppendLine();
        }

        return text.ToString();
    }
}
