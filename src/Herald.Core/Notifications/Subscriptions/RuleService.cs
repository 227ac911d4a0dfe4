using Herald.Access;
using Herald.Notifications.Matching;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Notifications.Subscriptions;

/// <summary>
/// Notification rules, for the API, the console and the CLI alike: administrators of a rule's
/// scope (or an ancestor) list, add, change, remove and test them; a rule of a scope the caller
/// does not administer answers exactly as one that does not exist. The scope must exist, and each
/// <c>user:…</c> and <c>group:…</c> a rule names must be in the directory (a rule naming nobody
/// would send them nothing, silently). Every change reaches this node's match index before the
/// use case returns.
/// </summary>
public sealed class RuleService(
    ISubscriptionRegistry store, ISettingsStore settings, IDirectory directory, NotificationMatcher matcher, NotificationTestSender tester, TimeProvider time)
{
    private const string NotValid = "The rule is not valid; nothing was saved.";
    private const string NotTested = "The rule is not valid; nothing was sent.";

    public async Task<Result<IReadOnlyList<NotificationRule>>> ListAsync(Caller caller, string? scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        var filter = SubscriptionRequests.OptionalScope(scope, errors);
        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, "The filter is not valid.");
        }

        if (filter is { } path && !caller.Administers(path))
        {
            return NotAllowed(caller, path);
        }

        var rules = await store.ListRulesAsync(filter, cancellationToken).ConfigureAwait(false);
        return Result.Of<IReadOnlyList<NotificationRule>>(rules.Where(r => caller.Administers(r.Scope)).ToArray());
    }

    /// <summary>One rule; one of a scope the caller does not administer is not found, as one that does not exist.</summary>
    public async Task<Result<NotificationRule>> FindAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return DirectoryIds.TryCheck(id, out _) && await store.FindRuleAsync(id!, cancellationToken).ConfigureAwait(false) is { } found && caller.Administers(found.Scope)
            ? found
            : NotFound(id);
    }

    /// <summary>Adds a rule; its id (a new one when left out) must be free.</summary>
    public Task<Result<Saved<NotificationRule>>> CreateAsync(Caller caller, RuleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var id = request.Id ?? $"rule-{Guid.CreateVersion7(time.GetUtcNow()):N}";
        return SaveAsync(caller, request with { Id = id }, addOnly: true, cancellationToken);
    }

    /// <summary>Adds the rule <paramref name="id"/>, or replaces it when the caller administers it.</summary>
    public Task<Result<Saved<NotificationRule>>> PutAsync(Caller caller, string id, RuleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Id is not null && request.Id != id
            ? Task.FromResult<Result<Saved<NotificationRule>>>(Refusal.Invalid("id", "The id in the body differs from the one in the path."))
            : SaveAsync(caller, request with { Id = id }, addOnly: false, cancellationToken);
    }

    public async Task<Refusal?> RemoveAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        if (found.Value is not { } rule)
        {
            return found.Refusal;
        }

        if (!await store.RemoveRuleAsync(rule.Id, rule.Scope, time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            return NotFound(id);
        }

        await matcher.LearnChangesAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>Sends a sample of the saved rule's first event type to each of its recipients (less
    /// those who opted out) now, through the scope's connection: the server's answer per recipient.</summary>
    public async Task<Result<NotificationTestResult>> TestAsync(Caller caller, string? id, CancellationToken cancellationToken)
    {
        var found = await FindAsync(caller, id, cancellationToken).ConfigureAwait(false);
        return found.Value is not { } rule
            ? found.Refusal!
            : await tester.TestRuleAsync(rule, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The same test for a rule not saved: the request the create route takes, checked as
    /// it checks it (the caller, every field, the scope, the recipients), and nothing stored.</summary>
    public async Task<Result<NotificationTestResult>> TestDraftAsync(Caller caller, RuleRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = time.GetUtcNow();
        var checkedRule = await CheckAsync(caller, request with { Id = request.Id ?? "draft" }, now, now, NotTested, cancellationToken).ConfigureAwait(false);
        return checkedRule.Value is not { } rule
            ? checkedRule.Refusal!
            : await tester.TestRuleAsync(rule, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Result<Saved<NotificationRule>>> SaveAsync(Caller caller, RuleRequest request, bool addOnly, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        var id = request.Id!;
        if (!SubscriptionRequests.CheckId(id, errors))
        {
            return Refusal.Invalid(errors, NotValid);
        }

        var now = time.GetUtcNow();
        var existing = await store.FindRuleAsync(id, cancellationToken).ConfigureAwait(false);
        if (existing is not null && !addOnly && !caller.Administers(existing.Scope))
        {
            // A rule of a scope the caller does not administer is, to the caller, not there.
            return NotFound(id);
        }

        if (existing is not null && addOnly)
        {
            return Taken(id);
        }

        var checkedRule = await CheckAsync(caller, request, existing?.CreatedAt ?? now, now, NotValid, cancellationToken).ConfigureAwait(false);
        if (checkedRule.Value is not { } rule)
        {
            return checkedRule.Refusal!;
        }

        var outcome = await store.SaveRuleAsync(rule, stored => !addOnly && caller.Administers(stored), cancellationToken).ConfigureAwait(false);
        if (outcome == SaveOutcome.Taken)
        {
            return Taken(id);
        }

        await matcher.LearnChangesAsync(cancellationToken).ConfigureAwait(false);
        return new Saved<NotificationRule>(rule, outcome == SaveOutcome.Created);
    }

    /// <summary>What a rule request must be, saved or tested: every field, the caller an
    /// administrator of its scope, the scope there, and every user and group it names.</summary>
    private async Task<Result<NotificationRule>> CheckAsync(
        Caller caller, RuleRequest request, DateTimeOffset createdAt, DateTimeOffset now, string notValid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        if (!SubscriptionRequests.CheckId(request.Id!, errors) || SubscriptionRequests.Check(request, request.Id!, createdAt, now, errors) is not { } rule)
        {
            return Refusal.Invalid(errors, notValid);
        }

        if (!caller.Administers(rule.Scope))
        {
            return NotAllowed(caller, rule.Scope);
        }

        if (!await settings.ScopeExistsAsync(rule.Scope, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Invalid([ScopeService.Missing(rule.Scope)], notValid);
        }

        return await CheckRecipientsAsync(request, rule, cancellationToken).ConfigureAwait(false) is { Count: > 0 } missing
            ? Refusal.Invalid(missing, notValid)
            : rule;
    }

    /// <summary>Each user and group the rule names must be in the directory; the problem is named
    /// by the recipient's place in the request (<c>recipients[2]</c>).</summary>
    private async Task<List<FieldError>> CheckRecipientsAsync(RuleRequest request, NotificationRule rule, CancellationToken cancellationToken)
    {
        var view = await directory.CurrentAsync(cancellationToken).ConfigureAwait(false);
        var missing = new List<FieldError>();
        var written = request.Recipients ?? [];
        var named = rule.Recipients.ToHashSet();
        for (var i = 0; i < written.Count; i++)
        {
            if (Principal.TryParse(written[i], out var principal, out _) && named.Remove(principal)
                && (principal.Kind == PrincipalKind.User ? view.FindUser(principal.Id) is null : view.FindGroup(principal.Id) is null))
            {
                missing.Add(new FieldError($"recipients[{i}]", $"There is no {principal} in the directory."));
            }
        }

        return missing;
    }

    private static Refusal NotFound(string? id) => Refusal.NotFound($"There is no rule '{DirectoryIds.Printable(id)}'.");

    private static Refusal Taken(string id) =>
        Refusal.Conflict(new FieldError("id", $"The id '{id}' is taken by another rule: choose another id, or leave it out for a new one."));

    private static Refusal NotAllowed(Caller caller, ScopePath scope) =>
        Refusal.NotAllowed($"{caller.Description} may not manage the rules of scope {scope}: it is not an administrator of it.");
}
