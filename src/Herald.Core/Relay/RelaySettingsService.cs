using System.Collections.Concurrent;
using System.Text.RegularExpressions;
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

/// <summary>A change to one listener, from the CLI or the API; a null field keeps the stored
/// value (or the default for a new listener), a list replaces the stored list.</summary>
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

/// <summary>
/// The one place where relay listeners and accounts change (CLI and API): every field is
/// validated and, on any error, nothing is saved. When no listener is stored, the relay runs the
/// implied <see cref="DefaultListener"/>; the first stored listener replaces it.
/// </summary>
public sealed partial class RelaySettingsService(IRelayStore store, ISettingsStore settings, RelaySettingsCache cache, TimeProvider time)
{
    /// <summary>What <c>herald serve</c> listens on while no listener is stored: loopback only,
    /// anonymous, into <c>/</c>; nothing outside this machine can reach it.</summary>
    public static readonly RelayListenerSettings DefaultListener = new(
        "127.0.0.1:2525", ScopePath.Root, RelayAccessMode.OnlyList, ["127.0.0.0/8", "::1"], RelayAuthMode.None, [], [], AuthWithoutTls: false);

    public async Task<(RelayListenerSettings? Saved, IReadOnlyList<FieldError> Errors)> SetListenerAsync(RelayListenerUpdate update, CancellationToken cancellationToken)
    {
        if (!RelayAddresses.TryParseEndpoint(update.Listen, out var endpoint, out var listenError))
        {
            return (null, [new("listen", listenError)]);
        }

        var listen = RelayAddresses.Format(endpoint);
        var existing = (await store.ListListenersAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(l => l.Listen == listen);
        var errors = new List<FieldError>();
        var listener = Apply(existing ?? DefaultListener with { Listen = listen, Entries = [] }, update, errors);
        if (errors.Count == 0 && !await settings.ScopeExistsAsync(listener.Scope, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(OutgoingSettingsService.ScopeMissing(listener.Scope));
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        await store.SaveListenerAsync(listener, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return (listener, []);
    }

    /// <summary>The stored listener with that endpoint, or null.</summary>
    public async Task<RelayListenerSettings?> FindStoredListenerAsync(string? listen, CancellationToken cancellationToken) =>
        RelayAddresses.TryParseEndpoint(listen, out var endpoint, out _)
            ? (await store.ListListenersAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(l => l.Listen == RelayAddresses.Format(endpoint))
            : null;

    public async Task<bool> RemoveListenerAsync(RelayListenerSettings listener, CancellationToken cancellationToken)
    {
        var removed = await store.RemoveListenerAsync(listener.Listen, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return removed;
    }

    /// <summary>Adds an account or sets its password and scope; the password is hashed here and
    /// never kept or returned.</summary>
    public async Task<(bool Created, IReadOnlyList<FieldError> Errors)> SetAccountAsync(string? scope, string? userName, string? password, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        if (!ScopePath.TryParse(scope, out var path, out var scopeError))
        {
            errors.Add(new("scope", scopeError));
        }

        if (userName is null || !UserNamePattern().IsMatch(userName))
        {
            errors.Add(new("user", "A relay user name is 1 to 128 characters: letters, digits, '.', '_', '-', '+' or '@'."));
        }

        if (string.IsNullOrEmpty(password) || password.Length > RelayPasswords.MaxLength || password.Any(char.IsControl))
        {
            errors.Add(new("password", $"A password is required: 1 to {RelayPasswords.MaxLength} characters on one line."));
        }

        if (errors.Count == 0 && !await settings.ScopeExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(OutgoingSettingsService.ScopeMissing(path));
        }

        if (errors.Count > 0)
        {
            return (false, errors);
        }

        var created = await store.SaveAccountAsync(new RelayAccount(userName!, path, RelayPasswords.Hash(password!), time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return (created, []);
    }

    public async Task<bool> RemoveAccountAsync(string userName, CancellationToken cancellationToken)
    {
        var removed = await store.RemoveAccountAsync(userName, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return removed;
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

    [GeneratedRegex("^[A-Za-z0-9._+@-]{1,128}$")]
    private static partial Regex UserNamePattern();
}

/// <summary>
/// The relay's settings as the sessions read them: listeners and accounts come from the store at
/// most once per <see cref="Lifetime"/>, so that a change made with the CLI or on another node
/// applies to the next session within seconds, without a restart.
/// </summary>
public sealed class RelaySettingsCache(IRelayStore store, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, RelayAccount? Account)> _accounts = new(StringComparer.Ordinal);
    private volatile Listeners? _listeners;

    /// <summary>The listeners in force: the stored ones, or the default one while none is stored.</summary>
    public async ValueTask<IReadOnlyList<RelayListenerSettings>> GetListenersAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_listeners is { } cached && cached.Until > now)
        {
            return cached.All;
        }

        var stored = await store.ListListenersAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<RelayListenerSettings> all = stored.Count == 0 ? [RelaySettingsService.DefaultListener] : stored;
        _listeners = new Listeners(now + Lifetime, all);
        return all;
    }

    public async ValueTask<RelayListenerSettings?> GetListenerAsync(string listen, CancellationToken cancellationToken) =>
        (await GetListenersAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(l => l.Listen == listen);

    public async ValueTask<RelayAccount?> GetAccountAsync(string userName, CancellationToken cancellationToken)
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
