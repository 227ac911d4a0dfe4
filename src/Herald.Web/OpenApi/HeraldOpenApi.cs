using System.Text.Json.Nodes;
using Herald.Notifications;
using Herald.Notifications.Events;
using Herald.Scopes;
using Herald.Settings;
using Herald.Web.Notifications;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Herald.Web.OpenApi;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>, built from the endpoints themselves (names,
/// summaries, result types) and completed here with what a client generator needs: the bearer
/// scheme on every operation that takes a key, the problem responses each kind of route really
/// gives, closed vocabularies, required fields, plain integers, examples and the public URL.
/// </summary>
public static class HeraldOpenApi
{
    /// <summary>The name of the API key's security scheme in the document.</summary>
    public const string SecurityScheme = "apiKey";

    private const string ProblemJson = "application/problem+json";

    public static IServiceCollection AddHeraldOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer(DescribeDocumentAsync);
            options.AddOperationTransformer(DescribeOperationAsync);
            options.AddSchemaTransformer(DescribeSchemaAsync);
        });

    /// <summary>Where clients reach this farm: the stored public URL (or this node's own until one is stored).</summary>
    private static ValueTask<string> PublicBaseUrlAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        services.GetRequiredService<PublicUrlService>().GetBaseUrlAsync(cancellationToken);

    private static async Task DescribeDocumentAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Herald API",
            Version = "v1",
            Description = "Submit email into Herald's outbox, post events for notifications, and administer outgoing email settings, "
                + "SMTP connections, the relay, templates, the directory, subscriptions and rules. Every call under /api/v1 takes an API key "
                + "(`Authorization: Bearer hrk_…`, made with `herald apikey create`); errors are RFC 9457 problem details.",
            Contact = new OpenApiContact { Name = "The administrators of this Herald farm" },
        };
        var publicUrl = await PublicBaseUrlAsync(context.ApplicationServices, cancellationToken).ConfigureAwait(false);
        document.Servers = [new OpenApiServer { Url = publicUrl, Description = "This Herald farm (its public URL)." }];
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SecurityScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "hrk_…",
            Description = "An API key made with `herald apikey create --scope /hr --role sender|admin`: a sender submits into its scope and below, an administrator also administers it.",
        };
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
        await ComponentAsync<ProblemDetails>(document, context, cancellationToken).ConfigureAwait(false);
        await ComponentAsync<HttpValidationProblemDetails>(document, context, cancellationToken).ConfigureAwait(false);
    }

    private static readonly (string Name, string Description)[] Tags =
    [
        ("Messages", "Submit email into the outbox and follow each recipient's delivery."),
        ("Suppressions", "Addresses no mail from a scope reaches (hard bounces, complaints, unsubscribe from everything, administrators' entries), inherited down the scope tree."),
        ("Bounces", "A scope's bounce mailbox: where DSNs and complaints for its mail arrive, read over IMAP or POP3; its secrets are write-only."),
        ("Dead letters", "Recipients delivery gave up on or never tried (expired, bounced, failed, suppressed): list, retry, suppress and export them in bulk."),
        ("Webhooks", "Endpoints told, signed as Standard Webhooks says, about recipient state changes and finished events of a scope and below; their delivery logs and retries."),
        ("Notifications", "Events, subscriptions and rules: who is told of what, and when."),
        ("Templates", "The Liquid templates of notifications, per scope and event type."),
        ("Directory", "Users and groups that subscriptions and rules name."),
        ("Access", "Who may view, edit or administer a scope."),
        ("Settings", "Outgoing email settings of scopes and the SMTP connections they use."),
        ("Relay", "The SMTP relay's listeners, access lists and accounts."),
        ("Operations", "Health and metrics for monitoring."),
    ];

    private static async Task ComponentAsync<T>(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        if (document.Components!.Schemas?.ContainsKey(typeof(T).Name) != true)
        {
            document.AddComponent(typeof(T).Name, await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken).ConfigureAwait(false));
        }
    }

    private static async Task DescribeOperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var document = context.Document!;
        var keyed = metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any();
        operation.Security = keyed ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecurityScheme, document)] = [] }] : [];
        if (operation.OperationId is { } id)
        {
            await RequestBodyAsync(operation, id, context, cancellationToken).ConfigureAwait(false);
        }

        var parameters = operation.Parameters ?? [];
        if (keyed)
        {
            Problem(operation, document, StatusCodes.Status401Unauthorized, "No API key, or one that is unknown or revoked.");
            Problem(operation, document, StatusCodes.Status403Forbidden, "The key's role or scope does not allow this.");
        }

        if (parameters.Any(p => p.In == ParameterLocation.Path || p.Name == "scope"))
        {
            Problem(operation, document, StatusCodes.Status404NotFound, "Nothing by that name in the scopes the key may see.");
        }

        if (operation.RequestBody is not null)
        {
            Problem(operation, document, StatusCodes.Status400BadRequest, "The body is not JSON of the expected shape.");
            Problem(operation, document, StatusCodes.Status413PayloadTooLarge, "The body is larger than the server accepts.");
            Problem(operation, document, StatusCodes.Status415UnsupportedMediaType, "The body is not of a media type this operation reads.");
        }

        if (operation.RequestBody is not null || parameters.Any(p => p.In == ParameterLocation.Query))
        {
            Problem(operation, document, StatusCodes.Status422UnprocessableEntity, "A field is not valid: `errors` names each one; nothing was stored.", nameof(HttpValidationProblemDetails));
        }

        foreach (var (operationId, name, words) in ApiContract.ParameterVocabularies)
        {
            if (operation.OperationId == operationId && parameters.FirstOrDefault(p => p.Name == name)?.Schema is OpenApiSchema schema)
            {
                schema.Enum = Words(words);
            }
        }
    }

    /// <summary>Bodies the endpoint reads by hand (events, the directory import) and the examples of the main requests.</summary>
    private static async Task RequestBodyAsync(OpenApiOperation operation, string id, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var document = context.Document!;
        if (id == "postEvents")
        {
            var one = await ReferenceAsync<EventSubmission>(document, context, cancellationToken).ConfigureAwait(false);
            var batch = await ReferenceAsync<EventsApi.EventBatch>(document, context, cancellationToken).ConfigureAwait(false);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = $"One event, or {{\"events\": [...]}} with 1 to {EventLimits.MaxBatch}.",
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchema { OneOf = [one, batch] } } },
            };
        }
        else if (id == "importDirectory")
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Description = $"At most {DirectoryApi.MaxImportBytes / (1024 * 1024)} MiB; all or nothing.",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new()
                    {
                        Schema = await ReferenceAsync<DirectoryImport.ImportFile>(document, context, cancellationToken).ConfigureAwait(false),
                    },
                    ["text/csv"] = new()
                    {
                        Schema = new OpenApiSchema
                        {
                            Type = JsonSchemaType.String,
                            Description = $"RFC 4180 CSV; the first line names the columns, any of {string.Join(",", DirectoryImport.CsvColumns)} (kind, id and name are required). "
                                + "kind is user or group; members are separated by spaces or ';'.",
                        },
                        Example = JsonValue.Create(ApiContract.DirectoryCsvExample),
                    },
                },
            };
        }

        if (ApiContract.Examples.TryGetValue(id, out var example) && operation.RequestBody?.Content?.TryGetValue("application/json", out var json) == true)
        {
            json.Example = JsonNode.Parse(example);
        }
    }

    private static async Task<IOpenApiSchema> ReferenceAsync<T>(OpenApiDocument document, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var name = typeof(T).Name;
        if (document.Components?.Schemas?.ContainsKey(name) != true)
        {
            document.AddComponent(name, await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken).ConfigureAwait(false));
        }

        return new OpenApiSchemaReference(name, document);
    }

    private static List<JsonNode> Words(IReadOnlyList<string> words) => words.Select(w => (JsonNode)JsonValue.Create(w)).ToList();

    /// <summary>A problem response, unless the endpoint already declares one for the status.</summary>
    private static void Problem(OpenApiOperation operation, OpenApiDocument document, int status, string description, string schema = nameof(ProblemDetails))
    {
        operation.Responses ??= [];
        var code = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!operation.Responses.ContainsKey(code))
        {
            operation.Responses[code] = new OpenApiResponse
            {
                Description = description,
                Content = new Dictionary<string, OpenApiMediaType> { [ProblemJson] = new() { Schema = new OpenApiSchemaReference(schema, document) } },
            };
        }
    }

    private static Task DescribeSchemaAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        // The server reads numbers only as JSON numbers for clients' purposes: "25" for a port is
        // tolerated, but a generated client should send 25, so the document says integer.
        if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && type.HasFlag(JsonSchemaType.String))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        if (context.JsonTypeInfo.Type.IsEnum && schema.Enum is { Count: > 0 })
        {
            // Written by name (JsonStringEnumConverter): say so, or generators make integer enums.
            schema.Type = JsonSchemaType.String;
        }

        if (context.JsonTypeInfo.Type == typeof(ScopePath))
        {
            // Written as its path by ScopePath's JSON converter.
            schema.Type = JsonSchemaType.String;
            schema.Description = "A scope: a path such as / or /hr/payroll.";
        }

        if (context.JsonPropertyInfo is { } property)
        {
            foreach (var (owner, name, words) in ApiContract.Vocabularies)
            {
                if (name == property.Name && (owner.IsAssignableFrom(property.DeclaringType) || property.DeclaringType.IsAssignableFrom(owner)))
                {
                    schema.Enum = Words(words);
                    if (schema.Type?.HasFlag(JsonSchemaType.Null) == true)
                    {
                        schema.Enum.Add(null!);
                    }
                }
            }
        }
        else if (ApiContract.Required.TryGetValue(context.JsonTypeInfo.Type, out var required))
        {
            schema.Required = required.Count == 0 ? null : new HashSet<string>(required);
            foreach (var name in required)
            {
                // A field the server demands is not null either.
                if (schema.Properties is { } properties && properties.TryGetValue(name, out var found) && found is OpenApiSchema { Type: { } t } field)
                {
                    field.Type = t & ~JsonSchemaType.Null;
                }
            }
        }

        return Task.CompletedTask;
    }
}
