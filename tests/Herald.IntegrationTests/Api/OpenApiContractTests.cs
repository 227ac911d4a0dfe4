using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Herald.IntegrationTests.Outbox;
using Herald.Testing;

namespace Herald.IntegrationTests.Api;

/// <summary>
/// The OpenAPI contract as a client developer relies on it: the committed docs/openapi.json is
/// what a running server serves (CI lints that file; HERALD_UPDATE_OPENAPI=1 rewrites it), every
/// keyed operation names the bearer scheme and its problem responses, and the required fields and
/// examples are what the server really demands and accepts.
/// </summary>
public sealed partial class OpenApiContractTests : IAsyncLifetime
{
    /// <summary>The public base URL the committed document is made with (its servers entry).</summary>
    public const string PublicUrl = "https://herald.example.org";

    private OutboxNode _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() =>
        _node = await OutboxNode.StartAsync(9, new Dictionary<string, string> { ["HERALD_Notifications__PublicBaseUrl"] = PublicUrl });

    public async ValueTask DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task The_committed_contract_is_the_one_the_server_serves()
    {
        using var http = _node.Server.Client();
        var served = await http.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct);
        var path = Path.Combine(Repository.Root, "docs", "openapi.json");
        var committed = File.Exists(path) ? await File.ReadAllTextAsync(path, Ct) : "";
        if (committed != served && Environment.GetEnvironmentVariable("HERALD_UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(path, served, Ct);
            committed = served;
        }

        Assert.True(committed == served, "docs/openapi.json differs from the document the server serves: run the test with HERALD_UPDATE_OPENAPI=1 to rewrite it, and commit it.");
        Assert.Equal(PublicUrl, JsonNode.Parse(served)!["servers"]![0]!["url"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_servers_entry_is_the_stored_public_url()
    {
        using var admin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        await SendAsync(admin, "PUT", "api/v1/settings/public-url", """{"publicUrl": "https://mail.example.net/herald"}""", HttpStatusCode.OK);

        var document = JsonNode.Parse(await admin.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;

        Assert.Equal("https://mail.example.net/herald", document["servers"]![0]!["url"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_keyed_operation_names_the_bearer_scheme_an_operation_id_and_its_problem_responses()
    {
        using var http = _node.Server.Client();
        var document = JsonNode.Parse(await http.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;
        var scheme = document["components"]!["securitySchemes"]!["apiKey"]!;
        Assert.Equal(("http", "bearer"), (scheme["type"]!.GetValue<string>(), scheme["scheme"]!.GetValue<string>()));

        var ids = new HashSet<string>();
        var problems = new List<string>();
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var where = $"{method.ToUpperInvariant()} {path}";
                var id = operation!["operationId"]?.GetValue<string>();
                if (id is null || !CamelCase().IsMatch(id) || !ids.Add(id))
                {
                    problems.Add($"{where}: operationId '{id}' is missing, not camelCase or used twice.");
                }

                if (operation["summary"] is null || operation["description"] is null)
                {
                    problems.Add($"{where}: no summary or description.");
                }

                var keyed = path.StartsWith("/api/v1/", StringComparison.Ordinal) || path == "/metrics";
                var security = operation["security"]?.AsArray();
                if (keyed ? security?.Any(s => s!["apiKey"] is not null) != true : security is not { Count: 0 })
                {
                    problems.Add($"{where}: security is {security?.ToJsonString() ?? "missing"}.");
                }

                var responses = operation["responses"]!.AsObject();
                foreach (var status in keyed ? new[] { "401", "403" } : [])
                {
                    if (responses[status]?["content"]?["application/problem+json"] is null)
                    {
                        problems.Add($"{where}: no {status} problem response.");
                    }
                }

                foreach (var (status, response) in responses.Where(r => r.Key[0] == '4'))
                {
                    if (response!["content"]?.AsObject().Select(c => c.Key).SingleOrDefault() != "application/problem+json")
                    {
                        problems.Add($"{where}: {status} is not application/problem+json.");
                    }
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(ids.Count >= 50, $"Only {ids.Count} operations.");
        Assert.Empty(IntegersAlsoStrings(document));
    }

    [Fact]
    public async Task Unknown_ids_and_unknown_routes_answer_404_as_problem_details()
    {
        using var http = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        foreach (var path in new[] { "api/v1/messages/0199a1b2c3d4e5f6", "api/v1/no-such-route", "api/v1/subscriptions/nope", "api/v1/users/nobody" })
        {
            using var response = await http.GetAsync(new Uri(path, UriKind.Relative), Ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(404, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["status"]!.GetValue<int>());
        }
    }

    [Fact]
    public async Task The_problems_a_submission_can_meet_are_served_as_documented()
    {
        using var anonymous = _node.Server.Client();
        using var sender = _node.Server.Client(await _node.KeyAsync("/hr", "sender"));
        var document = JsonNode.Parse(await anonymous.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;
        var documented = document["paths"]!["/api/v1/messages"]!["post"]!["responses"]!.AsObject();

        foreach (var (client, body, mediaType, status) in new (HttpClient, string, string, HttpStatusCode)[]
        {
            (anonymous, """{"scope": "/hr"}""", "application/json", HttpStatusCode.Unauthorized),
            (sender, """{"scope": "/finance", "to": ["a@example.org"], "text": "x"}""", "application/json", HttpStatusCode.Forbidden),
            (sender, """{"scope": """, "application/json", HttpStatusCode.BadRequest),
            (sender, "scope=/hr", "text/plain", HttpStatusCode.UnsupportedMediaType),
            (sender, """{"scope": "/hr", "text": "x"}""", "application/json", HttpStatusCode.UnprocessableEntity),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("api/v1/messages", UriKind.Relative)) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
            using var response = await client.SendAsync(request, Ct);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(documented[((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture)]?["content"]?["application/problem+json"]);
        }
    }

    [Fact]
    public async Task Each_example_is_accepted_and_each_required_field_is_demanded_by_the_server()
    {
        using var admin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        // The people the subscription and rule examples name.
        await SendAsync(admin, "PUT", "api/v1/users/alice", """{"name": "Alice Martin", "email": "alice@example.org"}""", HttpStatusCode.Created);
        await SendAsync(admin, "PUT", "api/v1/access", """{"scope": "/hr", "principal": "user:alice", "level": "view"}""", HttpStatusCode.Created);

        var document = JsonNode.Parse(await admin.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;
        var routes = new Dictionary<string, (string Method, string Path)>
        {
            ["submitMessage"] = ("POST", "api/v1/messages"),
            ["postEvents"] = ("POST", "api/v1/events"),
            ["createSubscription"] = ("POST", "api/v1/subscriptions"),
            ["createRule"] = ("POST", "api/v1/rules"),
            // Another scope than /, whose connection delivers the other tests' mail.
            ["putOutgoingSettings"] = ("PUT", "api/v1/settings/outgoing?scope=/finance"),
            ["importDirectory"] = ("POST", "api/v1/directory/import"),
        };
        var examples = Operations(document).Where(o => o.Operation["requestBody"]?["content"]?["application/json"]?["example"] is not null).ToArray();
        Assert.Equal(routes.Keys.Order(), examples.Select(e => e.Operation["operationId"]!.GetValue<string>()).Order());

        foreach (var (_, _, operation) in examples)
        {
            var (method, path) = routes[operation["operationId"]!.GetValue<string>()];
            var json = operation["requestBody"]!["content"]!["application/json"]!;
            var example = json["example"]!.AsObject();
            var schema = Resolve(document, json["schema"]!);
            foreach (var field in schema["required"]?.AsArray().Select(f => f!.GetValue<string>()) ?? [])
            {
                var without = example.DeepClone().AsObject();
                without.Remove(field);
                var refused = await SendAsync(admin, method, path, without.ToJsonString(), HttpStatusCode.UnprocessableEntity);
                Assert.True(refused["errors"]?[field] is not null, $"{method} {path} without {field} did not name it: {refused.ToJsonString()}");
            }

            await SendAsync(admin, method, path, example.ToJsonString(), method == "PUT" ? HttpStatusCode.OK : null);
        }

        var csv = document["paths"]!["/api/v1/directory/import"]!["post"]!["requestBody"]!["content"]!["text/csv"]!["example"]!.GetValue<string>();
        var imported = await SendAsync(admin, "POST", "api/v1/directory/import", csv, HttpStatusCode.OK, "text/csv");
        Assert.Equal(1, imported["usersChanged"]!.GetValue<int>());
    }

    [Fact]
    public async Task Outgoing_settings_require_no_field_and_submit_requires_only_the_scope_with_recipients_and_a_body()
    {
        using var admin = _node.Server.Client(await _node.KeyAsync("/", "admin"));
        var document = JsonNode.Parse(await admin.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), Ct))!;
        var schemas = document["components"]!["schemas"]!;
        Assert.Null(schemas["OutgoingSettingsRequest"]!["required"]);
        Assert.Equal(["scope"], schemas["SubmitRequest"]!["required"]!.AsArray().Select(f => f!.GetValue<string>()));

        // A PUT with one field changes that field and keeps the others.
        var saved = await SendAsync(admin, "PUT", "api/v1/settings/outgoing?scope=/finance", """{"fromName": "Finance"}""", HttpStatusCode.OK);
        Assert.Equal("Finance", saved["settings"]!["fromName"]!["value"]!.GetValue<string>());
        Assert.Equal("herald@example.org", saved["settings"]!["from"]!["value"]!.GetValue<string>());

        // Neither to nor subject is required: a message to a Bcc recipient without a subject is accepted.
        await SendAsync(admin, "POST", "api/v1/messages", """{"scope": "/hr", "bcc": ["audit@example.org"], "text": "x"}""", HttpStatusCode.Accepted);
    }

    /// <summary>Every operation of the document with its method and path.</summary>
    private static IEnumerable<(string Method, string Path, JsonNode Operation)> Operations(JsonNode document) =>
        document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(o => (o.Key, p.Key, o.Value!)));

    private static JsonNode Resolve(JsonNode document, JsonNode schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference ? document["components"]!["schemas"]![reference.Split('/')[^1]]! : schema;

    private static async Task<JsonNode> SendAsync(HttpClient http, string method, string path, string body, HttpStatusCode? expected, string mediaType = "application/json")
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
        using var response = await http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(
            expected is { } status ? response.StatusCode == status : response.IsSuccessStatusCode,
            $"{method} {path} answered {(int)response.StatusCode}, not {(int?)expected ?? 200}, to {body}:\n{text}");
        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!;
    }

    [GeneratedRegex("^[a-z][a-zA-Z0-9]+$")]
    private static partial Regex CamelCase();

    /// <summary>Schemas typed both a number and a string (what ASP.NET writes by default, as ["integer", "string"]).</summary>
    private static IEnumerable<string> IntegersAlsoStrings(JsonNode? node) => node switch
    {
        JsonObject o when o["type"] is JsonArray types && types.Any(t => t!.GetValue<string>() is "integer" or "number") && types.Any(t => t!.GetValue<string>() == "string")
            => [o.GetPath()],
        JsonObject o => o.SelectMany(p => IntegersAlsoStrings(p.Value)),
        JsonArray a => a.SelectMany(IntegersAlsoStrings),
        _ => [],
    };
}
