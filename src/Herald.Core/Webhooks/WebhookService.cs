using Herald.Access;
using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Webhooks;

/// <summary>An endpoint to add, as a door received it (unparsed, so that Core names what is wrong).</summary>
/// <param name="EventTypes">The types to send; none (or null) means every type.</param>
public sealed record WebhookRequest(string? Scope, string? Url, string? Description = null, IReadOnlyList<string>? EventTypes = null);

/// <summary>A change to an endpoint; what is null stays as it is.</summary>
public sealed record WebhookChange(string? Url = null, string? Description = null, IReadOnlyList<string>? EventTypes = null, bool? Enabled = null);

/// <summary>
/// The webhook use cases, for the API, the console and the CLI alike: administrators of a scope
/// (or of a scope above it) list, add, change and remove its endpoints and read and retry their
/// deliveries. An endpoint of a scope the caller does not administer answers as one that does
/// not exist. The secret is generated here, returned once by <see cref="CreateAsync"/>, and
/// otherwise only ever sealed with the credential key.
/// </summary>
public sealed class WebhookService(IWebhookStore store, ISettingsStore settings, CredentialVault vault, WebhookSignal signal, TimeProvider time)
{
    public const int MaxDescriptionLength = 200;
    public const int MaxEndpointsPerScope = 50;
    public const int DefaultLogSize = 50;
    public const int MaxLogSize = 500;
    private const int MaxIdLength = 64;

    public async Task<Result<IReadOnlyList<WebhookEndpoint>>> ListAsync(Caller caller, string? scopeText, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ScopePath.TryParse(scopeText, out var scope, out var error))
        {
            return Refusal.Invalid("scope", error);
        }

        if (caller.RefuseUnlessAdministers(scope, $"list the webhooks of {scope}") is { } refusal)
        {
            return refusal;
        }

        return Result.Of(await store.ListAsync(scope, cancellationToken).ConfigureAwait(false));
    }

    public async Task<Result<CreatedWebhook>> CreateAsync(Caller caller, WebhookRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(request.Scope, out var scope, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }
        else if (caller.RefuseUnlessAdministers(scope, $"add a webhook to {scope}") is { } refusal)
        {
            return refusal;
        }

        var url = ParseUrl(request.Url, errors);
        var description = ParseDescription(request.Description, errors) ?? "";
        var types = ParseTypes(request.EventTypes, errors) ?? [];
        if (errors.Count == 0 && !await settings.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(ScopeService.Missing(scope));
        }

        if (errors.Count == 0 && (await store.ListAsync(scope, cancellationToken).ConfigureAwait(false)).Count(e => e.Scope == scope) >= MaxEndpointsPerScope)
        {
            errors.Add(new("url", $"Scope {scope} has {MaxEndpointsPerScope} webhooks already; remove one first."));
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The webhook is not valid; nothing was added.");
        }

        var status = await vault.GetKeyAsync(initializeDatabase: true, cancellationToken).ConfigureAwait(false);
        if (status.Key is not { } key)
        {
            return Refusal.Unavailable(status.Problem!);
        }

        var now = time.GetUtcNow();
        var endpoint = new WebhookEndpoint(Guid.CreateVersion7(now).ToString("N"), scope, url!, description, types, Enabled: true, now, Actor(caller), null, null);
        var secret = WebhookSignature.NewSecret();
        await store.AddAsync(endpoint, key.Seal(secret, SecretNames.WebhookSecret(endpoint.Id)), cancellationToken).ConfigureAwait(false);
        return new CreatedWebhook(endpoint, secret);
    }

    public async Task<Result<WebhookEndpoint>> UpdateAsync(Caller caller, string? id, WebhookChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(change);
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return refusal;
        }

        var endpoint = found.Value!;
        var errors = new List<FieldError>();
        var url = change.Url is null ? endpoint.Url : ParseUrl(change.Url, errors);
        var description = change.Description is null ? endpoint.Description : ParseDescription(change.Description, errors);
        var types = change.EventTypes is null ? endpoint.EventTypes : ParseTypes(change.EventTypes, errors);
        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The change is not valid; nothing was saved.");
        }

        var enabled = change.Enabled ?? endpoint.Enabled;
        var changed = endpoint with
        {
            Url = url!,
            Description = description!,
            EventTypes = types!,
            Enabled = enabled,
            // Enabled again: its failures are forgiven and its waiting deliveries go out.
            FailingSince = enabled && !endpoint.Enabled ? null : endpoint.FailingSince,
            DisabledReason = enabled ? null : endpoint.DisabledReason,
        };
        if (!await store.UpdateAsync(changed, time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            return NotFound(id);
        }

        signal.Notify();
        return changed;
    }

    public async Task<Result<WebhookEndpoint>> RemoveAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return refusal;
        }

        return await store.RemoveAsync(found.Value!.Id, cancellationToken).ConfigureAwait(false) ? found.Value : NotFound(id);
    }

    /// <summary>The endpoint, its last attempts (newest first) and what still waits to be delivered.</summary>
    public async Task<Result<WebhookLog>> LogAsync(Caller caller, string? id, int? limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return refusal;
        }

        if (limit is < 1 or > MaxLogSize)
        {
            return Refusal.Invalid("limit", $"The limit is 1 to {MaxLogSize}.");
        }

        var size = limit ?? DefaultLogSize;
        var (attempts, waiting) = await store.LogAsync(found.Value!.Id, size, size, cancellationToken).ConfigureAwait(false);
        return new WebhookLog(found.Value, attempts, waiting);
    }

    /// <summary>Sends a delivery again now, with every try again: one that waits (or was
    /// quarantined) is due at once, one that was delivered is delivered once more.</summary>
    public async Task<Result<WebhookDelivery>> RetryAsync(Caller caller, string? id, string? deliveryId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return refusal;
        }

        var missing = Refusal.NotFound($"Webhook {found.Value!.Id} has no delivery '{Shown(deliveryId)}'.");
        if (string.IsNullOrEmpty(deliveryId) || deliveryId.Length > MaxIdLength)
        {
            return missing;
        }

        if (!await store.RetryAsync(found.Value.Id, deliveryId, time.GetUtcNow(), cancellationToken).ConfigureAwait(false)
            || await store.FindDeliveryAsync(found.Value.Id, deliveryId, cancellationToken).ConfigureAwait(false) is not { } delivery)
        {
            return missing;
        }

        signal.Notify();
        return delivery;
    }

    /// <summary>Endpoints that Herald disabled after days of failures, in the scopes the caller
    /// administers: what the console's banner names.</summary>
    public async Task<IReadOnlyList<WebhookEndpoint>> DisabledAsync(Caller caller, ScopePath scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.Administers(scope) ? await store.ListDisabledAsync(scope, cancellationToken).ConfigureAwait(false) : [];
    }

    private async Task<Result<WebhookEndpoint>> FindAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength
            || await store.FindAsync(id, cancellationToken).ConfigureAwait(false) is not { } endpoint
            || !caller.Administers(endpoint.Scope))
        {
            return NotFound(id);
        }

        return endpoint;
    }

    private static Refusal NotFound(string? id) => Refusal.NotFound($"No webhook '{Shown(id)}' in the scopes you administer.");

    // An id is echoed only when it could be one (hex), so that a reply never repeats arbitrary input.
    private static string Shown(string? id) => id is { Length: > 0 and <= MaxIdLength } && id.All(char.IsAsciiLetterOrDigit) ? id : "…";

    private static Uri? ParseUrl(string? text, List<FieldError> errors)
    {
        if (WebhookUrl.TryParse(text, out var url, out var error))
        {
            return url;
        }

        errors.Add(new("url", error));
        return null;
    }

    private static string? ParseDescription(string? text, List<FieldError> errors)
    {
        var description = text?.Trim() ?? "";
        if (description.Length > MaxDescriptionLength || description.Any(char.IsControl))
        {
            errors.Add(new("description", $"The description is at most {MaxDescriptionLength} characters on one line."));
            return null;
        }

        return description;
    }

    private static string[]? ParseTypes(IReadOnlyList<string>? types, List<FieldError> errors)
    {
        if (types is null)
        {
            return [];
        }

        if (types.Count > WebhookEventTypes.All.Count)
        {
            errors.Add(new("eventTypes", $"At most {WebhookEventTypes.All.Count} event types."));
            return null;
        }

        var parsed = types.Select(t => t?.Trim() ?? "").Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        if (parsed.FirstOrDefault(t => !WebhookEventTypes.All.Contains(t, StringComparer.Ordinal)) is { } unknown)
        {
            errors.Add(new("eventTypes", $"'{(unknown.Length > 40 ? unknown[..40] + "…" : unknown)}' is not an event type; they are {string.Join(", ", WebhookEventTypes.All)}."));
            return null;
        }

        return [.. WebhookEventTypes.All.Where(parsed.Contains)];
    }

    private static string Actor(Caller caller) => caller switch
    {
        Caller.Key key => key.ApiKey.Name is { Length: > 0 } name ? $"API key {key.ApiKey.Id} ({name})" : $"API key {key.ApiKey.Id}",
        Caller.ConsoleAdministrator administrator => $"administrator {administrator.Name}",
        Caller.LocalOperator => "the local operator",
        _ => caller.PersonName ?? caller.Description,
    };
}

/// <summary>Wakes the webhook loop when deliveries are made due by hand.</summary>
public sealed class WebhookSignal : Outbox.WakeSignal;
