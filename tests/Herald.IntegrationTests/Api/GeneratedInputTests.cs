using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Herald.IntegrationTests.Outbox;
using Herald.Storage.Database;

namespace Herald.IntegrationTests.Api;

/// <summary>
/// Every POST and PUT route of the OpenAPI document, sent random JSON bodies (wrong types, huge
/// and deeply nested values, Unicode, nulls, the schema's own property names with wrong values)
/// from a seed printed by the test: the node never answers 500, a 4xx stores nothing, and the
/// node still answers afterwards. A failure names the seed, the route and the body.
/// </summary>
public sealed class GeneratedInputTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int BodiesPerRoute = 25;

    private OutboxNode _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _node = await OutboxNode.StartAsync(9);

    [Fact]
    public async Task No_generated_body_makes_a_route_fail_or_store_anything_it_refused()
    {
        var seed = Environment.GetEnvironmentVariable("HERALD_FUZZ_SEED") is { } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        output.WriteLine($"Seed {seed} (rerun with HERALD_FUZZ_SEED={seed}).");
        var random = new Random(seed);
        using var admin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var document = JsonNode.Parse(await admin.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;
        var routes = Routes(document).ToArray();
        Assert.True(routes.Length >= 10, $"The OpenAPI document lists only {routes.Length} POST/PUT routes.");

        var failures = new List<string>();
        foreach (var (method, template, properties) in routes)
        {
            for (var i = 0; i < BodiesPerRoute; i++)
            {
                await CheckAsync(admin, method, Fill(template, random), Body(random, properties), $"seed {seed}", failures);
            }
        }

        using var health = await admin.GetAsync(new Uri("healthz", UriKind.Relative), Ct);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.False(_node.Server.Process.HasExited, "herald serve exited.");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(20)));
    }

    /// <summary>
    /// JSON lets a client put null where a list's item or a map's value belongs; C#'s nullable
    /// annotations do not reach a collection's items, so each door must name such a slot. Every
    /// list and map the request schemas declare, at any depth, is sent holding a null.
    /// </summary>
    [Fact]
    public async Task A_null_in_any_list_or_map_of_any_request_is_refused_not_a_500()
    {
        using var admin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var document = JsonNode.Parse(await admin.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;
        var failures = new List<string>();
        var sent = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var method in new[] { "post", "put" })
            {
                var schema = item![method]?["requestBody"]?["content"]?["application/json"]?["schema"];
                foreach (var body in NullSlots(document, schema, 0))
                {
                    sent++;
                    var filled = System.Text.RegularExpressions.Regex.Replace(path, @"\{[^}]+\}", "x");
                    await CheckAsync(admin, method.ToUpperInvariant(), filled, body!.ToJsonString(), "null slot", failures);
                    await CheckAsync(admin, method.ToUpperInvariant(), filled + "?scope=/", body.ToJsonString(), "null slot", failures);
                }
            }
        }

        Assert.True(sent >= 20, $"Only {sent} null slots were found in the request schemas.");
        Assert.False(_node.Server.Process.HasExited, "herald serve exited.");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(20)));
    }

    private static readonly string[] ParameterValues =
    [
        "", "%20", "x", "-1", "0", "2147483648", "99999999999999999999", "1e308", "NaN", "%00", "%E2%80%AE", "%2F%2F", "%2Fhr%2F..%2Ffinance",
        "..", new string('a', 5_000), "2026-13-45T99:00:00Z", "-0001-01-01", "true", "%5B%5D", "user:", "group:x:y", "%C3%A9%F0%9F%91%8D", "a%40b%40c",
    ];

    /// <summary>
    /// Every GET and DELETE route, each of its parameters in turn given values a client may send
    /// by mistake or on purpose (empty, huge, negative, out of range, malformed dates and paths,
    /// control characters): never a 500, and a refused DELETE removes nothing.
    /// </summary>
    [Fact]
    public async Task No_parameter_value_makes_a_get_or_delete_route_fail()
    {
        using var admin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var document = JsonNode.Parse(await admin.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;
        var failures = new List<string>();
        var sent = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var method in new[] { "get", "delete" })
            {
                var parameters = (item![method]?["parameters"] as JsonArray ?? []).Select(p => (Name: p!["name"]!.GetValue<string>(), In: p["in"]!.GetValue<string>())).ToArray();
                foreach (var parameter in parameters)
                {
                    foreach (var value in ParameterValues)
                    {
                        var filled = System.Text.RegularExpressions.Regex.Replace(path, @"\{([^}]+)\}", m => m.Groups[1].Value == parameter.Name ? (value.Length == 0 ? "%20" : value) : "x");
                        var target = parameter.In == "query" ? $"{filled}?{parameter.Name}={value}" : filled;
                        await CheckAsync(admin, method.ToUpperInvariant(), target, null, $"{parameter.In} parameter {parameter.Name}", failures);
                        sent++;
                    }
                }
            }
        }

        Assert.True(sent >= 500, $"Only {sent} requests were sent: the document lists fewer parameters than it should.");
        Assert.False(_node.Server.Process.HasExited, "herald serve exited.");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(20)));
    }

    /// <summary>A value of <paramref name="schema"/> for each list or map inside it, that slot holding null.</summary>
    private static IEnumerable<JsonNode?> NullSlots(JsonNode document, JsonNode? schema, int depth)
    {
        schema = Resolve(document, schema);
        if (schema is null || depth > 5)
        {
            yield break;
        }

        var types = schema["type"] is JsonArray many ? many.Select(t => t!.GetValue<string>()).ToArray() : [schema["type"]?.GetValue<string>() ?? ""];
        if (types.Contains("array"))
        {
            yield return new JsonArray((JsonNode?)null);
            foreach (var inner in NullSlots(document, schema["items"], depth + 1))
            {
                yield return new JsonArray(inner);
            }
        }

        if (schema["additionalProperties"] is JsonObject values)
        {
            yield return new JsonObject { ["X-Slot"] = null };
            foreach (var inner in NullSlots(document, values, depth + 1))
            {
                yield return new JsonObject { ["X-Slot"] = inner };
            }
        }

        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (name, property) in properties)
            {
                foreach (var inner in NullSlots(document, property, depth + 1))
                {
                    yield return new JsonObject { [name] = inner };
                }
            }
        }
    }

    private static JsonNode? Resolve(JsonNode document, JsonNode? schema)
    {
        if (schema?["oneOf"] is JsonArray choices)
        {
            schema = choices.FirstOrDefault(c => c?["$ref"] is not null) ?? schema;
        }

        return schema?["$ref"]?.GetValue<string>() is { } reference && reference.StartsWith("#/components/schemas/", StringComparison.Ordinal)
            ? document["components"]?["schemas"]?[reference["#/components/schemas/".Length..]]
            : schema;
    }

    /// <summary>Sends one body and notes a 5xx answer, or a 4xx answer that stored rows.</summary>
    private async Task CheckAsync(HttpClient admin, string method, string path, string? body, string origin, List<string> failures)
    {
        var before = await CountRowsAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path.TrimStart('/'), UriKind.Relative))
        {
            Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
        };
        int status;
        string answer;
        try
        {
            using var response = await admin.SendAsync(request, Ct);
            status = (int)response.StatusCode;
            answer = await response.Content.ReadAsStringAsync(Ct);
        }
        catch (HttpRequestException) when (body?.Length > 60_000)
        {
            // Kestrel answers 413 to a body over the route's limit and closes the
            // connection before the client has finished sending it.
            status = 413;
            answer = "(connection closed while sending)";
        }

        if (status >= 500 && status != 507)
        {
            failures.Add($"{method} {path} answered {status} ({origin}) to: {Shorten(body ?? "")}\n{Shorten(answer)}");
        }
        else if (status is >= 400 and < 500)
        {
            var after = await CountRowsAsync();
            var changed = before.Where(t => after[t.Key] != t.Value).Select(t => $"{t.Key} {t.Value}→{after[t.Key]}").ToArray();
            if (changed.Length > 0)
            {
                failures.Add($"{method} {path} answered {status} but stored rows ({string.Join(", ", changed)}) ({origin}) for: {Shorten(body ?? "")}");
            }
        }
    }

    /// <summary>Each POST and PUT operation with the property names its request schema declares.</summary>
    private static IEnumerable<(string Method, string Template, IReadOnlyList<string> Properties)> Routes(JsonNode document)
    {
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var method in new[] { "post", "put" })
            {
                if (item![method] is not { } operation)
                {
                    continue;
                }

                var schema = operation["requestBody"]?["content"]?["application/json"]?["schema"];
                yield return (method.ToUpperInvariant(), path, PropertiesOf(document, schema).Distinct().ToArray());
            }
        }
    }

    private static IEnumerable<string> PropertiesOf(JsonNode document, JsonNode? schema, int depth = 0)
    {
        schema = Resolve(document, schema);
        if (schema is null || depth > 4)
        {
            yield break;
        }

        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (name, property) in properties)
            {
                yield return name;
                foreach (var nested in PropertiesOf(document, property?["items"] ?? property, depth + 1))
                {
                    yield return nested;
                }
            }
        }
    }

    private static readonly string[] PathValues = ["x", "default", "127.0.0.1%3A2525", "%2F", "..", "a%00b", "%E2%80%AE", new string('z', 300), "0199a1b2c3d4e5f6a7b8c9d0e1f2a3b4", "-1"];

    private static readonly string[] QueryValues = ["/", "/hr", "/nowhere", "", "%2F%2F", "/HR", "/hr/../finance", "/hr%00"];

    private static string Fill(string template, Random random)
    {
        var path = System.Text.RegularExpressions.Regex.Replace(template, @"\{[^}]+\}", _ => PathValues[random.Next(PathValues.Length)]);
        return random.Next(3) == 0 ? path : $"{path}?scope={QueryValues[random.Next(QueryValues.Length)]}";
    }

    private static string Body(Random random, IReadOnlyList<string> properties)
    {
        switch (random.Next(12))
        {
            case 0:
                return "";
            case 1:
                return "{\"unterminated\": ";
            case 2:
                return new string('[', 5_000) + new string(']', 5_000);
            case 3:
                return JsonSerializer.Serialize(Value(random, properties, 0));
            default:
                var body = new JsonObject();
                foreach (var name in properties.Where(_ => random.Next(3) > 0))
                {
                    body[name] = Value(random, properties, 1);
                }

                if (random.Next(4) == 0)
                {
                    body[RandomText(random, 8)] = Value(random, properties, 1);
                }

                return body.ToJsonString();
        }
    }

    private static JsonNode? Value(Random random, IReadOnlyList<string> properties, int depth)
    {
        switch (random.Next(depth > 3 ? 8 : 11))
        {
            case 0:
                return null;
            case 1:
                return random.Next(2) == 0;
            case 2:
                return random.Next(6) switch
                {
                    0 => 0,
                    1 => -1,
                    2 => int.MaxValue,
                    3 => long.MinValue,
                    4 => 1e308,
                    _ => random.Next(-100_000, 100_000),
                };
            case 3:
                return RandomText(random, random.Next(20) == 0 ? 70_000 : 40);
            case 4:
                return "/hr";
            case 5:
                return "a@example.org";
            case 6:
                return "starttls-required";
            case 7:
                return random.Next(2) == 0 ? "2026-12-06T10:00:00Z" : "P1D";
            case 8:
                var array = new JsonArray();
                // A long list only at the top of a value: long lists nested in long lists made
                // bodies of billions of values, which no server would ever be sent (the test ran out of memory).
                for (var i = random.Next(depth == 0 && random.Next(10) == 0 ? 3_000 : 5); i > 0; i--)
                {
                    array.Add(Value(random, properties, depth + 1));
                }

                return array;
            default:
                var obj = new JsonObject();
                for (var i = random.Next(5); i > 0; i--)
                {
                    obj[properties.Count > 0 && random.Next(2) == 0 ? properties[random.Next(properties.Count)] : RandomText(random, 6)] = Value(random, properties, depth + 1);
                }

                return obj;
        }
    }

    private static readonly string[] Pieces = ["a", "Z", "0", " ", "\r\n", "\t", "é", "ß", "İ", "\u202E", "👍", "\u0000", "%", "_", ".", "/", "\\", "\"", "<script>", "'; DROP TABLE scopes; --", "{{ 1 | divided_by: 0 }}"];

    private static string RandomText(Random random, int length)
    {
        var text = new StringBuilder();
        while (text.Length < length)
        {
            text.Append(Pieces[random.Next(Pieces.Length)]);
        }

        return text.ToString();
    }

    private System.Data.Common.DbConnection? _database;
    private string[] _tables = [];

    /// <summary>Rows per table, in one statement on one connection (it runs twice per request).</summary>
    private async Task<Dictionary<string, long>> CountRowsAsync()
    {
        if (_database is null)
        {
            using var sqlite = new SqliteDatabase(_node.Cli.DataDirectory);
            _database = await sqlite.OpenAsync(Ct);
            // Delivery attempts are written by the background worker, whatever a request did.
            _tables = (await _database.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"))
                .Where(t => t is not ("delivery_attempts" or "schema_migrations" or "secrets"))
                .ToArray();
        }

        var counts = (IDictionary<string, object>)await _database.QuerySingleAsync(
            "SELECT " + string.Join(", ", _tables.Select(t => $"(SELECT COUNT(*) FROM \"{t}\") AS \"{t}\"")));
        return counts.ToDictionary(c => c.Key, c => Convert.ToInt64(c.Value, CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }

    private static string Shorten(string text) => text.Length <= 400 ? text : text[..400] + $"… ({text.Length} characters)";

    public async ValueTask DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        await _node.DisposeAsync();
    }
}
