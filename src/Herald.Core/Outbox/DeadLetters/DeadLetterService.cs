using System.Globalization;
using System.Text.Json;
using Herald.Access;
using Herald.Scopes;
using Herald.Suppression;
using Microsoft.Extensions.Options;

namespace Herald.Outbox.DeadLetters;

/// <summary>Which dead letters, as a door received it: every field optional and unparsed, so that
/// Core names what is wrong. <see cref="Scope"/> is the scope and its subtree.</summary>
/// <param name="State">One dead-letter state or several, comma-separated (default: all of them).</param>
/// <param name="Domain">The recipient's domain, exactly (case-insensitive): <c>example.org</c>.</param>
/// <param name="Since">Reached its state at or after this time.</param>
/// <param name="Until">Reached its state before this time.</param>
/// <param name="After">The <c>next</c> of the page before.</param>
public sealed record DeadLetterQuery(
    string? Scope, string? State = null, string? Domain = null, DateTimeOffset? Since = null, DateTimeOffset? Until = null, string? After = null, int? Limit = null);

/// <summary>A recipient a bulk action names: its message and its address as listed.</summary>
public sealed record DeadLetterRecipient(string? MessageId, string? Recipient);

/// <summary>What a bulk action acts on: exactly the listed recipients, or everything
/// <see cref="Matching"/> selects (up to <see cref="DeadLetterService.MaxSelection"/>). One of the two.</summary>
public sealed record DeadLetterSelection(IReadOnlyList<DeadLetterRecipient>? Recipients, DeadLetterQuery? Matching);

/// <summary>What a bulk action did: of <see cref="Selected"/> recipients, <see cref="Changed"/> were
/// retried (or had their address suppressed); the others were skipped — no longer a dead letter
/// (retried already, say), not a recipient of the message named, or still suppressed.</summary>
public sealed record DeadLetterOutcome(int Selected, int Changed, int Skipped);

/// <summary>An export ready to be written: the doors set the type and file name, then stream it.</summary>
public sealed record DeadLetterExport(string ContentType, string FileName, Func<Stream, CancellationToken, Task> WriteAsync);

/// <summary>
/// Dead letters: the recipients delivery gave up on (expired, bounced, quarantined) or never tried
/// (suppressed), across the messages of a scope and the scopes below it, for the API, the console
/// and the CLI alike. Administrators of a scope list, export, retry and suppress them; a recipient
/// of a scope the caller does not administer is never shown and never changed.
/// </summary>
public sealed class DeadLetterService(
    IDeadLetterStore store, ISuppressionStore suppressions, SuppressionService suppression, OutboxSignal signal, IOptions<DeliveryOptions> options, TimeProvider time)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>The most recipients one bulk action takes, listed or matched.</summary>
    public const int MaxSelection = 10_000;

    private const int MaxMessageIdLength = 100;
    private const int MaxDomainLength = 253;
    private const int MaxStateLength = 100;

    public async Task<Result<DeadLetterPage>> ListAsync(Caller caller, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(query);
        var filter = Filter(caller, query, "list");
        return filter.Refusal is { } refusal ? refusal : await store.ListAsync(filter.Value!, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every dead letter the query selects, as CSV or JSON (<paramref name="format"/>),
    /// streamed page by page: an export never holds the whole list.</summary>
    public Result<DeadLetterExport> Export(Caller caller, DeadLetterQuery query, string? format)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(query);
        if (Exports.ParseFormat(format, out var csv) is { } badFormat)
        {
            return badFormat;
        }

        var filter = Filter(caller, query with { After = null, Limit = null }, "export");
        if (filter.Refusal is { } refusal)
        {
            return refusal;
        }

        var first = filter.Value! with { Limit = MaxLimit };
        var stamp = time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        return csv
            ? new DeadLetterExport("text/csv; charset=utf-8", $"dead-letters-{stamp}.csv", (output, ct) => WriteCsvAsync(first, output, ct))
            : new DeadLetterExport("application/json; charset=utf-8", $"dead-letters-{stamp}.json", (output, ct) => WriteJsonAsync(first, output, ct));
    }

    /// <summary>"Retry these": exactly the selected recipients are due again (an expired one gets a
    /// new maximum age), not the other recipients of their messages. A recipient that is no longer
    /// a dead letter — retried already, or sent since — is skipped, so the same retry twice sends
    /// once; a suppressed one is skipped while its address is still on a list.</summary>
    public async Task<Result<DeadLetterOutcome>> RetryAsync(Caller caller, DeadLetterSelection selection, CancellationToken cancellationToken)
    {
        var selected = await SelectAsync(caller, selection, "retry", cancellationToken).ConfigureAwait(false);
        if (selected.Refusal is { } refusal)
        {
            return refusal;
        }

        var (count, rows) = selected.Value;
        var now = time.GetUtcNow();
        var stillSuppressed = await StillSuppressedAsync(rows.Where(r => r.State == RecipientState.Suppressed).ToArray(), now, cancellationToken).ConfigureAwait(false);
        var keys = rows.Where(r => !stillSuppressed.Contains(r)).Select(r => new DeadLetterKey(r.MessageId, r.Ordinal)).ToArray();
        var retried = keys.Length == 0
            ? []
            : await store.RetryAsync(keys, DeadLetterStates.All, now, now + options.Value.MaximumAge, cancellationToken).ConfigureAwait(false);
        if (retried.Count > 0)
        {
            signal.Notify();
        }

        return new DeadLetterOutcome(count, retried.Count, Math.Max(0, count - retried.Count));
    }

    /// <summary>"Suppress these": each selected recipient's address goes on the suppression list of
    /// its message's scope (reason administrator), through <see cref="SuppressionService"/>. An
    /// address listed there already is skipped.</summary>
    public async Task<Result<DeadLetterOutcome>> SuppressAsync(Caller caller, DeadLetterSelection selection, CancellationToken cancellationToken)
    {
        var selected = await SelectAsync(caller, selection, "suppress", cancellationToken).ConfigureAwait(false);
        if (selected.Refusal is { } refusal)
        {
            return refusal;
        }

        var (count, rows) = selected.Value;
        var changed = 0;
        var added = new HashSet<(ScopePath, string)>();
        foreach (var row in rows)
        {
            var key = SuppressionAddress.KeyOf(row.Recipient) ?? row.Recipient;
            if (added.Contains((row.Scope, key)))
            {
                changed++;
                continue;
            }

            var entry = await suppression.AddAsync(
                caller,
                new SuppressionRequest(row.Scope.Value, row.Recipient, SuppressionReasonNames.Values.NameOf(SuppressionReason.Administrator), $"dead letters: suppress selected (message {row.MessageId})"),
                cancellationToken).ConfigureAwait(false);
            if (entry.Refusal is null)
            {
                added.Add((row.Scope, key));
                changed++;
            }
        }

        return new DeadLetterOutcome(count, changed, Math.Max(0, count - changed));
    }

    /// <summary>Whether <paramref name="id"/> can be a message id (what the outbox makes: letters,
    /// digits, <c>-</c>, <c>_</c>, <c>.</c>).</summary>
    public static bool IsMessageId(string? id) =>
        id is { Length: > 0 and <= MaxMessageIdLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>The dead letters a bulk action takes: those the caller administers, still dead;
    /// with the number the caller selected, so that the rest count as skipped.</summary>
    private async Task<Result<(int Count, IReadOnlyList<DeadLetter> Rows)>> SelectAsync(
        Caller caller, DeadLetterSelection selection, string verb, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(selection);
        if ((selection.Recipients is null) == (selection.Matching is null))
        {
            return Refusal.Invalid("recipients", $"Name the recipients to {verb}, or a filter that selects them; not both.");
        }

        if (selection.Matching is { } matching)
        {
            var filter = Filter(caller, matching with { After = null, Limit = null }, verb);
            if (filter.Refusal is { } refusal)
            {
                return refusal;
            }

            var page = await store.ListAsync(filter.Value! with { Limit = MaxSelection }, cancellationToken).ConfigureAwait(false);
            return page.Next is not null
                ? Refusal.Invalid("filter", $"The filter selects more than {MaxSelection.ToString("N0", CultureInfo.InvariantCulture)} recipients; narrow it (by time, state or domain) and {verb} them in parts.")
                : (page.Items.Count, page.Items);
        }

        var listed = selection.Recipients!;
        if (listed.Count > MaxSelection)
        {
            return Refusal.Invalid("recipients", $"A selection is at most {MaxSelection.ToString("N0", CultureInfo.InvariantCulture)} recipients; select fewer, or use a filter.");
        }

        if (listed.Count == 0)
        {
            return Refusal.Invalid("recipients", $"Select at least one recipient to {verb}.");
        }

        var errors = new List<FieldError>();
        for (var i = 0; i < listed.Count && errors.Count < 10; i++)
        {
            if (!IsMessageId(listed[i]?.MessageId))
            {
                errors.Add(new($"recipients[{i}].messageId", "A message id is what the list shows: letters, digits, '-', '_' and '.', at most 100."));
            }

            if (listed[i]?.Recipient is not { Length: > 0 and <= QueueService.MaxRecipientLength })
            {
                errors.Add(new($"recipients[{i}].recipient", $"A recipient is an address as the list shows it, at most {QueueService.MaxRecipientLength} characters."));
            }
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The selection is not valid; nothing was changed.");
        }

        var wanted = listed.Select(r => (r.MessageId!, r.Recipient!)).ToHashSet();
        var recipients = (await store.RecipientsOfAsync(wanted.Select(w => w.Item1).ToHashSet(StringComparer.Ordinal), cancellationToken).ConfigureAwait(false))
            .Where(r => caller.Administers(r.Scope))
            .ToArray();
        // A message of another scope answers exactly as one that does not exist, and the whole
        // selection is refused: nothing changes when part of it was never the caller's.
        var visible = recipients.Select(r => r.MessageId).ToHashSet(StringComparer.Ordinal);
        if (wanted.FirstOrDefault(w => !visible.Contains(w.Item1)) is ({ } missing, _))
        {
            return Refusal.NotFound($"No message '{missing}' in the scopes you administer; nothing was {(verb == "retry" ? "retried" : "suppressed")}.");
        }

        return (wanted.Count, recipients.Where(r => wanted.Contains((r.MessageId, r.Recipient)) && r.State.IsDeadLetter()).ToArray());
    }

    /// <summary>The suppressed recipients whose address a list of their scope (or one above it) still holds.</summary>
    private async Task<HashSet<DeadLetter>> StillSuppressedAsync(DeadLetter[] rows, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (rows.Length == 0)
        {
            return [];
        }

        var keyed = rows.Select(r => (Row: r, Key: SuppressionAddress.KeyOf(r.Recipient))).Where(r => r.Key is not null).ToArray();
        var found = await suppressions.MatchAsync(
            keyed.Select(r => r.Key!).ToHashSet(StringComparer.Ordinal), rows.SelectMany(r => r.Scope.SelfAndAncestors()).ToHashSet(), now, cancellationToken).ConfigureAwait(false);
        var entries = found.ToLookup(f => f.Key, f => f.Entry.Scope, StringComparer.Ordinal);
        return keyed.Where(r => entries[r.Key!].Any(scope => r.Row.Scope.IsSameOrDescendantOf(scope))).Select(r => r.Row).ToHashSet();
    }

    private static Result<DeadLetterFilter> Filter(Caller caller, DeadLetterQuery query, string verb)
    {
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(query.Scope, out var scope, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }
        else if (caller.RefuseUnlessAdministers(scope, $"{verb} the dead letters of {scope}") is { } refusal)
        {
            return refusal;
        }

        var states = ParseStates(query.State, errors);
        string? domain = null;
        var domainText = query.Domain?.Trim().TrimStart('@');
        if (!string.IsNullOrEmpty(domainText))
        {
            if (domainText.Length <= MaxDomainLength && SuppressionAddress.TryParse("x@" + domainText, out var parsed, out _))
            {
                domain = parsed.Domain;
            }
            else
            {
                errors.Add(new("domain", $"'{Printable(domainText)}' is not a domain: write it as example.org."));
            }
        }

        if (query.Since is { } since && query.Until is { } until && since >= until)
        {
            errors.Add(new("until", "The end of the time range is after its start."));
        }

        DeadLetterCursor? after = null;
        if (query.After is { Length: > 0 } text && !DeadLetterCursor.TryParse(text, out after))
        {
            errors.Add(new("after", "The page to continue from is the 'next' of the page before."));
        }

        if (query.Limit is < 1 or > MaxLimit)
        {
            errors.Add(new("limit", $"The limit is a number from 1 to {MaxLimit}."));
        }

        return errors.Count > 0
            ? Refusal.Invalid(errors, "The filter is not valid.")
            : new DeadLetterFilter(scope, states, domain, query.Since, query.Until, after, query.Limit ?? DefaultLimit);
    }

    private static IReadOnlyList<RecipientState> ParseStates(string? text, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return DeadLetterStates.All;
        }

        var states = new List<RecipientState>();
        foreach (var name in text.Length > MaxStateLength ? ["?"] : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (RecipientStateNames.Values.TryParse(name, out var state) && state.IsDeadLetter())
            {
                states.Add(state);
            }
            else
            {
                errors.Add(new("state", $"The state is one or more of {string.Join(", ", DeadLetterStates.Names(DeadLetterStates.All))}, comma-separated."));
                return [];
            }
        }

        return states.Distinct().ToArray();
    }

    private static string Printable(string text) =>
        new(text.Take(100).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    private Task WriteCsvAsync(DeadLetterFilter filter, Stream output, CancellationToken cancellationToken) =>
        Exports.WriteCsvAsync(output, "message_id,recipient,state,code,reply,at,scope,subject", RowsAsync(filter, cancellationToken), row => new[]
        {
            row.MessageId,
            row.Recipient,
            RecipientStateNames.Values.NameOf(row.State),
            row.Code?.ToString(CultureInfo.InvariantCulture) ?? "",
            row.Reply ?? "",
            Timestamp(row.At),
            row.Scope.Value,
            row.Subject ?? "",
        }, cancellationToken);

    private async Task WriteJsonAsync(DeadLetterFilter filter, Stream output, CancellationToken cancellationToken)
    {
        var writer = new Utf8JsonWriter(output);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartArray();
            await foreach (var row in RowsAsync(filter, cancellationToken).ConfigureAwait(false))
            {
                // The names the API's list uses.
                writer.WriteStartObject();
                writer.WriteString("messageId", row.MessageId);
                writer.WriteNumber("ordinal", row.Ordinal);
                writer.WriteString("recipient", row.Recipient);
                writer.WriteString("state", RecipientStateNames.Values.NameOf(row.State));
                if (row.Code is { } code)
                {
                    writer.WriteNumber("code", code);
                }
                else
                {
                    writer.WriteNull("code");
                }

                writer.WriteString("reply", row.Reply);
                writer.WriteString("at", row.At);
                writer.WriteString("scope", row.Scope.Value);
                writer.WriteString("subject", row.Subject);
                writer.WriteEndObject();
                if (writer.BytesPending > 64 * 1024)
                {
                    await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            writer.WriteEndArray();
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async IAsyncEnumerable<DeadLetter> RowsAsync(DeadLetterFilter filter, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var page = filter; ;)
        {
            var found = await store.ListAsync(page, cancellationToken).ConfigureAwait(false);
            foreach (var row in found.Items)
            {
                yield return row;
            }

            if (found.Next is null || found.Items.Count == 0)
            {
                yield break;
            }

            page = page with { After = found.Items[^1].Cursor };
        }
    }

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
