using System.Collections.Concurrent;
using System.Net;
using Herald.Access;
using Herald.Scopes;
using Herald.Settings;

namespace Herald.Relay;

public static class RelayAccessModeNames
{
    public static readonly NamedValues<RelayAccessMode> Values = new((RelayAccessMode.OnlyList, "only-list"), (RelayAccessMode.AllExcept, "all-except"));
}

public static class RelayAuthModeNames
{
    public static readonly NamedValues<RelayAuthMode> Values = new((RelayAuthMode.None, "none"), (RelayAuthMode.Required, "required"));
}

/// <summary>A change to one listener, from any door; a null field keeps the stored value (or the
/// default for a new listener), a list replaces the stored list.</summary>
public sealed record RelayListenerUpdate(string? Listen)
{
    public string? Scope { get; init; }

    public string? Access { get; init; }

    public IReadOnlyList<string>? Entries { get; init; }

    public string? Auth { get; init; }

    public IReadOnlyList<string>? SenderDomains { get; init; }

    public IReadOnlyList<string>? RecipientDomains { get; init; }

    public bool? AuthWithoutTls { get; init; }
}

/// <summary>A listener as an administrator sees it; <see cref="Stored"/> is false for the implied
/// default, which runs until an administrator of <c>/</c> removes or replaces it.</summary>
public sealed record RelayListenerView(RelayListenerSettings Listener, bool Stored);

/// <summary>A relay account added, or changed (a new password, perhaps a new scope).</summary>
public sealed record RelayAccountSaved(RelayAccount Account, bool Created);

/// <summary>
/// The use cases of the relay's settings, for the API, the console and the CLI alike, each given
/// the caller (docs/architecture.md, "Who may do what"):
/// <list type="bullet">
/// <item>Listeners bind an endpoint on every node, so only administrators of <c>/</c> add, move
/// (to another scope) and remove them, the implied default included, and only they decide
/// whether AUTH may be offered without TLS. A listener scope's administrators edit its lists:
/// the access mode and entries, anonymous or authenticated submission, and the sender and
/// recipient domains.</item>
/// <item>Accounts are managed by the administrators of their scope; moving one to another scope
/// needs both. Names are <see cref="RelayUserName"/>s.</item>
/// <item>A listener of a scope the caller does not administer answers as one that does not exist.</item>
/// </list>
/// Every field is validated (an open relay refused) and nothing is stored on any refusal; the
/// relay's cache learns of each change at once on this node and within seconds on the others.
/// </summary>
public sealed class RelaySettingsService(IRelayStore store, ISettingsStore settings, RelaySettingsCache cache, TimeProvider time)
{
    /// <summary>What <c>herald serve</c> listens on until an administrator of <c>/</c> removes it or
    /// stores a listener on its endpoint: loopback only, anonymous, into <c>/</c>; nothing outside
    /// this machine can reach it. Storing other listeners leaves it running.</summary>
    public static readonly RelayListenerSettings DefaultListener = new(
        "127.0.0.1:2525", ScopePath.Root, RelayAccessMode.OnlyList, ["127.0.0.0/8", "::1"], RelayAuthMode.None, [], [], AuthWithoutTls: false);

    private const string InvalidListener = "The relay listener is not valid; nothing was saved.";
    private const string InvalidAccount = "The relay account is not valid; nothing was saved.";

    /// <summary>The listeners in force: those stored, and the implied default unless it was removed
    /// or a listener is stored on its endpoint.</summary>
    public static IReadOnlyList<RelayListenerView> InForce(IReadOnlyList<RelayListenerSettings> stored, bool defaultRemoved) =>
        defaultRemoved || stored.Any(l => l.Listen == DefaultListener.Listen)
            ? stored.Select(l => new RelayListenerView(l, Stored: true)).ToArray()
            : [new RelayListenerView(DefaultListener, Stored: false), .. stored.Select(l => new RelayListenerView(l, Stored: true))];

    /// <summary>Whether the caller may add, move and remove listeners, and decide whether they
    /// offer AUTH without TLS (doors show those controls only then).</summary>
    public static bool ManagesEndpoints(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return caller.AdministersRoot;
    }

    /// <summary>The listeners in force in the scopes the caller administers.</summary>
    public async Task<Result<IReadOnlyList<RelayListenerView>>> ListListenersAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var all = await InForceAsync(cancellationToken).ConfigureAwait(false);
        return all.Where(v => caller.Administers(v.Listener.Scope)).ToArray();
    }

    /// <summary>One listener in force, when the caller administers its scope.</summary>
    public async Task<Result<RelayListenerView>> GetListenerAsync(Caller caller, string? listen, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var found = RelayAddresses.TryParseEndpoint(listen, out var endpoint, out _)
            ? await FindVisibleAsync(caller, RelayAddresses.Format(endpoint), cancellationToken).ConfigureAwait(false)
            : null;
        return found is null ? ListenerMissing(listen) : found;
    }

    /// <summary>
    /// Adds a listener or changes one. <paramref name="isNew"/>: true when the caller means to
    /// add (an existing endpoint is then a conflict), false when it means to change (a missing one
    /// is not found), null for either (the API's PUT, the CLI's <c>relay set</c>).
    /// </summary>
    public async Task<Result<RelayListenerView>> SaveListenerAsync(Caller caller, RelayListenerUpdate update, bool? isNew, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(update);
        if (!RelayAddresses.TryParseEndpoint(update.Listen, out var endpoint, out var listenError))
        {
            return Refusal.Invalid([new("listen", listenError)], InvalidListener);
        }

        var listen = RelayAddresses.Format(endpoint);
        var inForce = await InForceAsync(cancellationToken).ConfigureAwait(false);
        // A listener of a scope the caller does not administer is, to the caller, not there.
        var existing = inForce.FirstOrDefault(v => v.Listener.Listen == listen && caller.Administers(v.Listener.Scope));
        if (existing is null)
        {
            // One in force of a scope the caller does not administer answers as a missing one
            // to whoever could not add it either.
            if (isNew == false || (!ManagesEndpoints(caller) && inForce.Any(v => v.Listener.Listen == listen)))
            {
                return ListenerMissing(listen);
            }

            if (RefuseUnlessManagesEndpoints(caller, $"add a relay listener on {listen}") is { } notRoot)
            {
                return notRoot;
            }
        }
        else if (isNew == true)
        {
            return Refusal.Conflict(new FieldError("listen", $"A relay listener on {listen} exists already: change it instead."));
        }

        var before = existing?.Listener ?? DefaultListener with { Listen = listen, Entries = [] };
        var errors = new List<FieldError>();
        var listener = Apply(before, update, errors);
        if (existing is not null && (listener.Scope != before.Scope || listener.AuthWithoutTls != before.AuthWithoutTls)
            && RefuseUnlessManagesEndpoints(caller, listener.Scope != before.Scope
                ? $"move relay listener {listen} to scope {listener.Scope}"
                : $"change whether relay listener {listen} offers AUTH without TLS") is { } rootOnly)
        {
            return rootOnly;
        }

        if (errors.Count == 0 && listener.OpenRelayProblem() is { } openRelay)
        {
            errors.Add(openRelay);
        }

        if (errors.Count == 0 && !await settings.ScopeExistsAsync(listener.Scope, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(OutgoingSettingsService.ScopeMissing(listener.Scope));
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, InvalidListener);
        }

        if (inForce.FirstOrDefault(v => v.Listener.Listen != listen && Overlaps(v.Listener.Listen, endpoint)) is { } taken)
        {
            return Refusal.Conflict(new FieldError("listen", taken.Stored
                ? $"{listen} would take the port of relay listener {taken.Listener.Listen}: a listener on every address and one on a single address cannot share a port. Remove that listener first, or use another port."
                : $"{listen} would take the port of the implied default listener {taken.Listener.Listen}: remove the default first ('herald relay remove --listen {taken.Listener.Listen}'), or use another port."));
        }

        await store.SaveListenerAsync(listener, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return new RelayListenerView(listener, Stored: true);
    }

    /// <summary>Removes a listener (administrators of <c>/</c>): a stored one, or the implied
    /// default, which then stays removed until one is stored on its endpoint again.</summary>
    public async Task<Result<RelayListenerSettings>> RemoveListenerAsync(Caller caller, string? listen, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!RelayAddresses.TryParseEndpoint(listen, out var endpoint, out _)
            || await FindVisibleAsync(caller, RelayAddresses.Format(endpoint), cancellationToken).ConfigureAwait(false) is not { } found)
        {
            return ListenerMissing(listen);
        }

        var listener = found.Listener;
        if (RefuseUnlessManagesEndpoints(caller, $"remove relay listener {listener.Listen}") is { } notRoot)
        {
            return notRoot;
        }

        // Removing whatever listens on the default's endpoint removes the default with it, so
        // that nothing starts listening there again behind the administrator's back.
        await store.RemoveListenerAsync(listener.Listen, removeDefault: listener.Listen == DefaultListener.Listen, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return listener;
    }

    /// <summary>The relay accounts of the scopes the caller administers (never a password).</summary>
    public async Task<Result<IReadOnlyList<RelayAccount>>> ListAccountsAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return (await store.ListAccountsAsync(cancellationToken).ConfigureAwait(false)).Where(a => caller.Administers(a.Scope)).ToArray();
    }

    /// <summary>Adds an account or sets its password and scope; the password is hashed here and
    /// never kept or returned. An existing account is the caller's to change only when it
    /// administers the account's scope as well as the new one.</summary>
    public async Task<Result<RelayAccountSaved>> SaveAccountAsync(Caller caller, string? scope, string? userName, string? password, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }

        if (!RelayUserName.TryParse(userName, out var name, out var nameError))
        {
            errors.Add(new("user", nameError));
        }

        if (string.IsNullOrEmpty(password) || password.Length > RelayPasswords.MaxLength || password.Any(char.IsControl))
        {
            errors.Add(new("password", $"A password is required: 1 to {RelayPasswords.MaxLength} characters on one line."));
        }

        if (errors.Any(e => e.Field == "scope"))
        {
            return Refusal.Invalid(errors, InvalidAccount);
        }

        // An account of a scope the caller does not administer is, to the caller, not there: it
        // can be neither changed nor moved nor told apart from one that does not exist.
        var existing = errors.Count == 0 ? await store.FindAccountAsync(name, cancellationToken).ConfigureAwait(false) : null;
        if (existing is not null && !caller.Administers(existing.Scope))
        {
            return Refusal.NotFound($"No relay account '{name}' in the scopes you administer; choose another name for a new one.");
        }

        if (caller.RefuseUnlessAdministers(path, $"add relay accounts to {path}") is { } refusal)
        {
            return refusal;
        }

        if (errors.Count == 0 && !await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(OutgoingSettingsService.ScopeMissing(path));
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, InvalidAccount);
        }

        var account = new RelayAccount(name, path, RelayPasswords.Hash(password!), existing?.CreatedAt ?? time.GetUtcNow());
        var created = await store.SaveAccountAsync(account, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return new RelayAccountSaved(account, created);
    }

    /// <summary>Removes an account of a scope the caller administers.</summary>
    public async Task<Result<RelayAccount>> RemoveAccountAsync(Caller caller, string? userName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!RelayUserName.TryParse(userName, out var name, out _)
            || await store.FindAccountAsync(name, cancellationToken).ConfigureAwait(false) is not { } account
            || !caller.Administers(account.Scope))
        {
            return Refusal.NotFound(name.Value is null ? "No such relay account in the scopes you administer." : $"No relay account '{name}' in the scopes you administer.");
        }

        await store.RemoveAccountAsync(name, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return account;
    }

    /// <summary>The listener after the update, with every problem found by field (pure: nothing is read or saved).</summary>
    public static RelayListenerSettings Apply(RelayListenerSettings listener, RelayListenerUpdate update, List<FieldError> errors)
    {
        var result = listener;
        if (update.Scope is not null)
        {
            if (ScopePath.TryParse(update.Scope, out var scope, out var scopeError))
            {
                result = result with { Scope = scope };
            }
            else
            {
                errors.Add(new("scope", scopeError));
            }
        }

        if (update.Access is not null)
        {
            if (RelayAccessModeNames.Values.TryParse(update.Access, out var accessError, out var access))
            {
                result = result with { Access = access };
            }
            else
            {
                errors.Add(new("access", $"Access {accessError}"));
            }
        }

        if (update.Auth is not null)
        {
            if (RelayAuthModeNames.Values.TryParse(update.Auth, out var authError, out var auth))
            {
                result = result with { Auth = auth };
            }
            else
            {
                errors.Add(new("auth", $"Auth {authError}"));
            }
        }

        if (update.Entries is { } entries)
        {
            result = result with { Entries = List(entries, "entries", errors, Entry) };
        }
        else if (result.Access != listener.Access && listener.Entries.Count > 0)
        {
            // The same list would flip meaning: the allowed clients would become the refused ones.
            errors.Add(new("entries", $"The access mode changes from {RelayAccessModeNames.Values.NameOf(listener.Access)} to {RelayAccessModeNames.Values.NameOf(result.Access)}: give the new list of entries too."));
        }

        if (update.SenderDomains is { } senders)
        {
            result = result with { SenderDomains = List(senders, "senderDomains", errors, Domain) };
        }

        if (update.RecipientDomains is { } recipients)
        {
            result = result with { RecipientDomains = List(recipients, "recipientDomains", errors, Domain) };
        }

        if (update.AuthWithoutTls is { } withoutTls)
        {
            result = result with { AuthWithoutTls = withoutTls };
        }

        return result;
    }

    private static string? Entry(string text, out string? error) =>
        RelayAccessEntry.TryParse(text, out var entry, out error) ? entry.Text : null;

    private static string? Domain(string text, out string? error)
    {
        if (RelayAddresses.TryNormalizeDomain(text, out var domain))
        {
            error = null;
            return domain;
        }

        error = $"'{text}' is not a domain name such as example.org.";
        return null;
    }

    private delegate string? Normalizer(string text, out string? error);

    private static string[] List(IReadOnlyList<string> texts, string field, List<FieldError> errors, Normalizer normalize)
    {
        var result = new List<string>();
        for (var i = 0; i < texts.Count; i++)
        {
            if (normalize(texts[i], out var error) is { } value)
            {
                if (!result.Contains(value, StringComparer.Ordinal))
                {
                    result.Add(value);
                }
            }
            else
            {
                errors.Add(new($"{field}[{i}]", error!));
            }
        }

        return [.. result];
    }

    /// <summary>Why the caller may not add a relay listener (the console asks before it offers
    /// the form); null when it may.</summary>
    public static Refusal? RefuseUnlessMayAddListeners(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return RefuseUnlessManagesEndpoints(caller, "add a relay listener");
    }

    private static Refusal? RefuseUnlessManagesEndpoints(Caller caller, string what) =>
        ManagesEndpoints(caller)
            ? null
            : Refusal.NotAllowed($"{caller.Description} may not {what}: relay listeners bind an endpoint on every node, so only administrators of / add, move and remove them and decide whether they offer AUTH without TLS.");

    private async Task<IReadOnlyList<RelayListenerView>> InForceAsync(CancellationToken cancellationToken) =>
        InForce(
            await store.ListListenersAsync(cancellationToken).ConfigureAwait(false),
            await store.IsDefaultListenerRemovedAsync(cancellationToken).ConfigureAwait(false));

    private async Task<RelayListenerView?> FindVisibleAsync(Caller caller, string listen, CancellationToken cancellationToken) =>
        (await InForceAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(v => v.Listener.Listen == listen && caller.Administers(v.Listener.Scope));

    /// <summary>The same sentence whatever was asked for: a refusal repeats nothing of what it refuses.</summary>
    private static Refusal ListenerMissing(string? listen) =>
        Refusal.NotFound(RelayAddresses.TryParseEndpoint(listen, out _, out _)
            ? "No such relay listener in the scopes you administer."
            : "That is not a relay listener's address (host:port), nor one in the scopes you administer.");

    /// <summary>Whether two endpoints cannot both be bound: the same port in the same address
    /// family, on the same address or with either on every address (0.0.0.0, [::]).</summary>
    private static bool Overlaps(string other, IPEndPoint endpoint) =>
        RelayAddresses.TryParseEndpoint(other, out var bound, out _)
        && bound.Port == endpoint.Port
        && bound.AddressFamily == endpoint.AddressFamily
        && (bound.Address.Equals(endpoint.Address) || IsAny(bound.Address) || IsAny(endpoint.Address));

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}

/// <summary>
/// The relay's settings as the sessions read them: listeners and accounts come from the store at
/// most once per <see cref="Lifetime"/>, so that a change made with the CLI or on another node
/// applies to the next session within seconds, without a restart.
/// </summary>
public sealed class RelaySettingsCache(IRelayStore store, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<RelayUserName, (DateTimeOffset Until, RelayAccount? Account)> _accounts = new();
    private volatile Listeners? _listeners;

    /// <summary>The listeners in force (<see cref="RelaySettingsService.InForce"/>).</summary>
    public async ValueTask<IReadOnlyList<RelayListenerSettings>> GetListenersAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_listeners is { } cached && cached.Until > now)
        {
            return cached.All;
        }

        var stored = await store.ListListenersAsync(cancellationToken).ConfigureAwait(false);
        var defaultRemoved = await store.IsDefaultListenerRemovedAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<RelayListenerSettings> all = RelaySettingsService.InForce(stored, defaultRemoved).Select(v => v.Listener).ToArray();
        _listeners = new Listeners(now + Lifetime, all);
        return all;
    }

    public async ValueTask<RelayListenerSettings?> GetListenerAsync(string listen, CancellationToken cancellationToken) =>
        (await GetListenersAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(l => l.Listen == listen);

    public async ValueTask<RelayAccount?> GetAccountAsync(RelayUserName userName, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_accounts.TryGetValue(userName, out var cached) && cached.Until > now)
        {
            return cached.Account;
        }

        var account = await store.FindAccountAsync(userName, cancellationToken).ConfigureAwait(false);
        // Names that do not exist are not remembered: a client trying many names cannot fill memory.
        if (account is not null)
        {
            _accounts[userName] = (now + Lifetime, account);
        }

        return account;
    }

    public void Invalidate()
    {
        _listeners = null;
        _accounts.Clear();
    }

    private sealed record Listeners(DateTimeOffset Until, IReadOnlyList<RelayListenerSettings> All);
}
