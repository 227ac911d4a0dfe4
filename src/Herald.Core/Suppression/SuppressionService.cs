using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Access;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Suppression;

/// <summary>Which entries to list or export, as a door received it: every field optional and
/// unparsed, so that Core names what is wrong. <see cref="Scope"/> is the scope and its subtree.</summary>
/// <param name="Address">An address (<c>bob@example.org</c>, compared as <see cref="SuppressionAddress"/>
/// says) or a whole domain (<c>@example.org</c>).</param>
/// <param name="Before">The <c>next</c> of the page before.</param>
public sealed record SuppressionQuery(string? Scope, string? Address = null, string? Reason = null, string? Before = null, int? Limit = null);

/// <summary>An entry to add, as a door received it.</summary>
/// <param name="Source">Where it came from; the caller ("administrator alice") when not given.</param>
public sealed record SuppressionRequest(string? Scope, string? Address, string? Reason, string? Source = null, DateTimeOffset? ExpiresAt = null);

/// <summary>An export ready to be written: the doors set the type and file name, then stream it.</summary>
public sealed record SuppressionExport(string ContentType, string FileName, Func<Stream, CancellationToken, Task> WriteAsync);

/// <summary>
/// The suppression lists' use cases, for the API, the console and the CLI alike: administrators
/// of a scope (or of a scope above it) list, add, remove and export its entries and those of the
/// scopes below it. An entry of a scope the caller does not administer answers as one that does
/// not exist, so that ids cannot be probed. The outbox enforces the lists through
/// <see cref="SuppressionCheck"/>; recipients add themselves through "unsubscribe from everything".
/// </summary>
public sealed class SuppressionService(ISuppressionStore store, ISettingsStore settings, TimeProvider time)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const int MaxSourceLength = 200;
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(3660);

    private const int MaxIdLength = 64;
    private const int MaxReasonLength = 32;

    /// <summary>How the API writes entries, and so the JSON export.</summary>
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public async Task<Result<SuppressionPage>> ListAsync(Caller caller, SuppressionQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(query);
        var filter = Filter(caller, query, "list");
        return filter.Refusal is { } refusal
            ? refusal
            : await store.ListAsync(filter.Value!, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every entry the query selects, as CSV or JSON (<paramref name="format"/>), streamed
    /// page by page: an export never holds the whole list.</summary>
    public Result<SuppressionExport> Export(Caller caller, SuppressionQuery query, string? format)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(query);
        if (Exports.ParseFormat(format, out var csv) is { } badFormat)
        {
            return badFormat;
        }

        var filter = Filter(caller, query with { Limit = null, Before = null }, "export");
        if (filter.Refusal is { } refusal)
        {
            return refusal;
        }

        var first = filter.Value! with { Limit = MaxLimit };
        var stamp = time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        return csv
            ? new SuppressionExport("text/csv; charset=utf-8", $"suppressions-{stamp}.csv", (output, ct) => WriteCsvAsync(first, output, ct))
            : new SuppressionExport("application/json; charset=utf-8", $"suppressions-{stamp}.json", (output, ct) => WriteJsonAsync(first, output, ct));
    }

    public async Task<Result<SuppressionEntry>> AddAsync(Caller caller, SuppressionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(request.Scope, out var scope, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }
        else if (caller.RefuseUnlessAdministers(scope, $"change the suppression list of {scope}") is { } refusal)
        {
            return refusal;
        }

        if (!SuppressionAddress.TryParse(request.Address, out var address, out var addressError))
        {
            errors.Add(new("address", addressError));
        }

        var reason = ParseReason(request.Reason, required: true, errors);
        var source = request.Source?.Trim();
        if (source is { Length: > MaxSourceLength } || (source is not null && source.Any(char.IsControl)))
        {
            errors.Add(new("source", $"The source is at most {MaxSourceLength} characters on one line."));
        }

        var now = time.GetUtcNow();
        if (request.ExpiresAt is { } expires && (expires <= now || expires > now + MaxLifetime))
        {
            errors.Add(new("expiresAt", $"The expiry is a time in the future, at most {MaxLifetime.TotalDays / 366:0} years ahead; leave it out for an entry that never expires."));
        }

        if (errors.Count == 0 && !await settings.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(ScopeService.Missing(scope));
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The entry is not valid; nothing was added.");
        }

        var actor = Actor(caller);
        var entry = new SuppressionEntry(
            NewId(now), scope, address!.Value, reason!.Value, string.IsNullOrEmpty(source) ? actor : source, now, actor, request.ExpiresAt);
        var (standing, added) = (await store.AddAsync([new NewSuppression(entry, address)], now, cancellationToken).ConfigureAwait(false))[0];
        return added
            ? standing
            : Refusal.Conflict(new FieldError("address", $"{standing.Address} is on the suppression list of {scope} already (entry {standing.Id}, {SuppressionReasonNames.Values.NameOf(standing.Reason)}); remove that entry first to change it."));
    }

    /// <summary>Removes an entry: Herald sends to the address again (unless another scope's entry holds).</summary>
    public async Task<Result<SuppressionEntry>> RemoveAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var missing = Refusal.NotFound(id is { Length: > 0 and <= MaxIdLength } && id.All(char.IsAsciiHexDigit)
            ? $"No suppression entry '{id}' in the scopes you administer."
            : "No such suppression entry in the scopes you administer.");
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength
            || await store.FindAsync(id, cancellationToken).ConfigureAwait(false) is not { } entry
            || !caller.Administers(entry.Scope))
        {
            return missing;
        }

        return await store.RemoveAsync(id, cancellationToken).ConfigureAwait(false) ? entry : missing;
    }

    /// <summary>"Unsubscribe from everything": the recipient of a notification of <paramref name="scope"/>
    /// puts their address on its list. The signed unsubscribe link is the authority, not a caller.
    /// False when the address is listed there already.</summary>
    public Task<bool> UnsubscribeAllAsync(ScopePath scope, string address, CancellationToken cancellationToken) =>
        AddOnBehalfAsync(scope, address, SuppressionReason.UnsubscribeAll, "unsubscribe link", "the recipient", cancellationToken);

    /// <summary>An entry that Herald itself adds, on the authority of what it read (a signed
    /// unsubscribe link, a bounce or complaint whose signed address named the message): no caller
    /// to check. <paramref name="source"/> is cut to <see cref="MaxSourceLength"/>. False when the
    /// address is listed there already, or is no address.</summary>
    public async Task<bool> AddOnBehalfAsync(
        ScopePath scope, string address, SuppressionReason reason, string source, string createdBy, CancellationToken cancellationToken) =>
        await AddOnBehalfAsync([new OnBehalfSuppression(scope, address, reason, source)], createdBy, cancellationToken).ConfigureAwait(false) == 1;

    /// <summary>Entries added on Herald's own authority, as above, in one transaction (a bounce
    /// mailbox's batch); what is no address is left out. Returns how many were new.</summary>
    public async Task<int> AddOnBehalfAsync(IReadOnlyList<OnBehalfSuppression> entries, string createdBy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var now = time.GetUtcNow();
        var valid = entries.Select(entry => OnBehalf(entry, createdBy, now)).OfType<NewSuppression>().ToArray();
        return valid.Length == 0 ? 0 : (await store.AddAsync(valid, now, cancellationToken).ConfigureAwait(false)).Count(r => r.Added);
    }

    /// <summary>The entry Herald adds on its own authority (see <see cref="AddOnBehalfAsync(IReadOnlyList{OnBehalfSuppression}, string, CancellationToken)"/>),
    /// for a store that writes it in a transaction of its own making; null when it is no address.</summary>
    public static NewSuppression? OnBehalf(OnBehalfSuppression entry, string createdBy, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var (scope, address, reason, source) = entry;
        ArgumentNullException.ThrowIfNull(source);
        return SuppressionAddress.TryParse(address, out var parsed, out _)
            ? new NewSuppression(
                new SuppressionEntry(NewId(now), scope, parsed.Value, reason, source.Length > MaxSourceLength ? source[..MaxSourceLength] : source, now, createdBy, null),
                parsed)
            : null;
    }

    /// <summary>Who did it, as an entry records it.</summary>
    private static string Actor(Caller caller) => caller switch
    {
        Caller.Key key => key.ApiKey.Name is { Length: > 0 } name ? $"API key {key.ApiKey.Id} ({name})" : $"API key {key.ApiKey.Id}",
        Caller.ConsoleAdministrator administrator => $"administrator {administrator.Name}",
        Caller.LocalOperator => "the local operator",
        _ => caller.PersonName ?? caller.Description,
    };

    private static string NewId(DateTimeOffset now) => Guid.CreateVersion7(now).ToString("N");

    private static SuppressionReason? ParseReason(string? text, bool required, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            if (required)
            {
                errors.Add(new("reason", $"A reason is required: one of {string.Join(", ", SuppressionReasonNames.Values.Names)}."));
            }

            return null;
        }

        if (text.Length <= MaxReasonLength && SuppressionReasonNames.Values.TryParse(text, out var reason))
        {
            return reason;
        }

        errors.Add(new("reason", $"The reason is one of {string.Join(", ", SuppressionReasonNames.Values.Names)}."));
        return null;
    }

    private static Result<SuppressionFilter> Filter(Caller caller, SuppressionQuery query, string verb)
    {
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(query.Scope, out var scope, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }
        else if (caller.RefuseUnlessAdministers(scope, $"{verb} the suppression list of {scope}") is { } refusal)
        {
            return refusal;
        }

        string? key = null, domain = null;
        var address = query.Address?.Trim();
        if (!string.IsNullOrEmpty(address))
        {
            // "@example.org": every address of the domain.
            if (address.StartsWith('@') && SuppressionAddress.TryParse("x" + address, out var ofDomain, out _))
            {
                domain = ofDomain.Domain;
            }
            else if (SuppressionAddress.TryParse(address, out var parsed, out var addressError))
            {
                key = parsed.Key;
            }
            else
            {
                errors.Add(new("address", address.StartsWith('@') ? $"'{address[..Math.Min(address.Length, 100)]}' is not a domain: write it as @example.org." : addressError));
            }
        }

        var reason = ParseReason(query.Reason, required: false, errors);
        if (query.Before is { } before && (before.Length > MaxIdLength || !before.All(char.IsAsciiHexDigit)))
        {
            errors.Add(new("before", "The page to continue from is the 'next' of the page before."));
        }

        if (query.Limit is < 1 or > MaxLimit)
        {
            errors.Add(new("limit", $"The limit is a number from 1 to {MaxLimit}."));
        }

        return errors.Count > 0
            ? Refusal.Invalid(errors, "The filter is not valid.")
            : new SuppressionFilter(scope, key, domain, reason, string.IsNullOrEmpty(query.Before) ? null : query.Before, query.Limit ?? DefaultLimit);
    }

    private Task WriteCsvAsync(SuppressionFilter filter, Stream output, CancellationToken cancellationToken) =>
        Exports.WriteCsvAsync(output, "id,scope,address,reason,source,created_at,created_by,expires_at", EntriesAsync(filter, cancellationToken), entry => new[]
        {
            entry.Id,
            entry.Scope.Value,
            entry.Address,
            SuppressionReasonNames.Values.NameOf(entry.Reason),
            entry.Source,
            Timestamp(entry.CreatedAt),
            entry.CreatedBy,
            entry.ExpiresAt is { } expires ? Timestamp(expires) : "",
        }, cancellationToken);

    private async Task WriteJsonAsync(SuppressionFilter filter, Stream output, CancellationToken cancellationToken)
    {
        var writer = new Utf8JsonWriter(output);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartArray();
            await foreach (var entry in EntriesAsync(filter, cancellationToken).ConfigureAwait(false))
            {
                JsonSerializer.Serialize(writer, entry, Json);
                if (writer.BytesPending > 64 * 1024)
                {
                    await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            writer.WriteEndArray();
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async IAsyncEnumerable<SuppressionEntry> EntriesAsync(SuppressionFilter filter, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var page = filter; ;)
        {
            var found = await store.ListAsync(page, cancellationToken).ConfigureAwait(false);
            foreach (var entry in found.Entries)
            {
                yield return entry;
            }

            if (found.Next is null)
            {
                yield break;
            }

            page = page with { Before = found.Next };
        }
    }

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
