using System.Security.Cryptography.X509Certificates;
using Herald.Access;
using Herald.Credentials;
using Herald.Outbox;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>A scope's effective outgoing settings and the connection they name, as administrators see them.</summary>
public sealed record OutgoingSettingsView(EffectiveOutgoingSettings Effective, SmtpConnection? Connection);

/// <summary>A connection as a caller sees it: which scopes' own settings use it, and whether this
/// caller may change it (administers its owner) or only use it (it belongs to a scope above).</summary>
public sealed record ConnectionListing(SmtpConnection Connection, IReadOnlyList<ScopePath> UsedBy, bool Editable);

/// <summary>What a save did, with anything the administrator should know that is not an error
/// (a stored password dropped because the server changed).</summary>
public sealed record SettingsSaved(IReadOnlyList<string> Notes);

/// <summary>One connection change as the connection editor and the connections API state it:
/// the connection <paramref name="Name"/> owned by <paramref name="Owner"/>, which must be new
/// (<paramref name="IsNew"/> true), must exist (false), or either (null).</summary>
public sealed record ConnectionSave(ScopePath Owner, string? Name, bool? IsNew, ConnectionUpdate Change);

/// <summary>
/// The use cases of outgoing email settings and SMTP connections, for the API, the console and the
/// CLI alike. Each is given the caller and decides there who may (administrators of a scope change
/// its settings; administrators of a connection's owner, or an ancestor, change the connection;
/// a scope uses connections of its own or of the scopes above it), what is valid (every field,
/// named as the request names it), what changes (settings and connection in one transaction,
/// secrets sealed, nothing at all on any refusal) and that the settings cache forgets it.
/// </summary>
public sealed class OutgoingSettingsService(ISettingsStore store, OutgoingSettingsCache cache, CredentialVault vault, IOutboxStore outbox, TimeProvider time)
{
    private const string InvalidSummary = "The settings are not valid. Nothing was saved.";

    // ---------------------------------------------------------------- a scope's settings

    /// <summary>A scope's effective settings, each with where it comes from, and its connection.</summary>
    public async Task<Result<OutgoingSettingsView>> GetAsync(Caller caller, ScopePath scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.RefuseUnlessAdministers(scope, $"read the outgoing email settings of {scope}") is { } refusal)
        {
            return refusal;
        }

        if (await GetEffectiveAsync(scope, cancellationToken).ConfigureAwait(false) is not { } effective)
        {
            return Refusal.NotFound(ScopeMissing(scope).Message);
        }

        var connection = effective.ConnectionId.Value is { } id ? await store.GetConnectionAsync(id, cancellationToken).ConfigureAwait(false) : null;
        return new OutgoingSettingsView(effective, connection);
    }

    /// <summary>Saves the update, or refuses it and saves nothing.</summary>
    public async Task<Result<SettingsSaved>> ApplyAsync(Caller caller, OutgoingSettingsUpdate update, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(update);
        var scope = update.Scope;
        if (caller.RefuseUnlessAdministers(scope, $"change the outgoing email settings of {scope}") is { } refusal)
        {
            return refusal;
        }

        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.Invalid([ScopeMissing(scope)], InvalidSummary);
        }

        var errors = new List<FieldError>();
        var notes = new List<string>();
        var chain = await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false);
        var own = chain.FirstOrDefault(s => s.Scope == scope) ?? new ScopeOutgoingSettings(scope);
        var settings = ApplyScopeFields(own, update, errors);

        SmtpConnection? changed = null;
        if (update.Connection is not null || !update.ConnectionChange.IsEmpty)
        {
            var target = await TargetConnectionAsync(update, own, errors, cancellationToken).ConfigureAwait(false);
            if (target is { } found)
            {
                if (!update.ConnectionChange.IsEmpty)
                {
                    if ((caller.RefuseUnlessAdministers(found.Owner, $"change SMTP connection {ConnectionReference.Qualified(found.Owner, found.Name)}, which belongs to {found.Owner}")
                        ?? KerberosSettingsRules.RefuseNodeFiles(caller, update.ConnectionChange)) is { } notOwner)
                    {
                        return notOwner;
                    }

                    changed = await ApplyConnectionFieldsAsync(found.Existing, found.Owner, found.Name, update.ConnectionChange, errors, notes, cancellationToken).ConfigureAwait(false);
                }

                settings = settings with { ConnectionId = found.Existing?.Id ?? changed?.Id };
            }
        }

        if (errors.Count > 0)
        {
            return Refusal.Invalid(errors, InvalidSummary);
        }

        var wasOn = EffectiveOutgoingSettings.Resolve(scope, chain).Enabled.Value;
        await store.SaveOutgoingAsync(settings, changed, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        await ResumeIfTurnedOnAsync(scope, wasOn, cancellationToken).ConfigureAwait(false);
        if (update.Enabled == false)
        {
            notes.Add($"Email is turned off for scope {scope}: {OutgoingSettingsCache.TurnedOffMeans}.");
        }

        if (await SendAsNoteAsync(scope, cancellationToken).ConfigureAwait(false) is { } sendAs)
        {
            notes.Add(sendAs);
        }

        return new SettingsSaved(notes);
    }

    /// <summary>SharePoint's advice, said where it applies: when the account a scope's connection
    /// signs in with is a mailbox other than the scope's From address, Exchange and Microsoft 365
    /// refuse (or rewrite) the mail unless that account has Send As rights for it.</summary>
    private async Task<string?> SendAsNoteAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (await cache.GetEffectiveAsync(scope, cancellationToken).ConfigureAwait(false) is not { FromAddress.Value: { } from, ConnectionId.Value: { } id })
        {
            return null;
        }

        var connection = await cache.GetConnectionAsync(id, cancellationToken).ConfigureAwait(false);
        return connection?.Authentication.UserName is { } user
            && EmailAddress.TryParse(user, out var account, out _)
            && !string.Equals(account.Value, from.Value, StringComparison.OrdinalIgnoreCase)
            ? $"Scope {scope} sends as {from.Value} but SMTP connection {connection.Qualified} signs in as {account.Value}: that account needs 'Send As' rights for {from.Value} (Exchange, Microsoft 365), or the server refuses or rewrites the mail."
            : null;
    }

    /// <summary>Makes a scope inherit the named fields again (<c>enabled</c>, <c>connection</c>,
    /// <c>from</c>, <c>fromName</c>, <c>replyTo</c>, <c>charset</c>, <c>impersonation</c>), keeping its other settings.</summary>
    public async Task<Refusal?> RevertAsync(Caller caller, ScopePath scope, IReadOnlyCollection<string> fields, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(fields);
        if (caller.RefuseUnlessAdministers(scope, $"change the outgoing email settings of {scope}") is { } refusal)
        {
            return refusal;
        }

        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.NotFound(ScopeMissing(scope).Message);
        }

        if (fields.FirstOrDefault(f => !RevertibleFields.Contains(f, StringComparer.Ordinal)) is { } unknown)
        {
            return Refusal.Invalid("field", $"'{unknown}' is not a setting that can be inherited: use {string.Join(", ", RevertibleFields)}.");
        }

        var chain = await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false);
        if (chain.FirstOrDefault(s => s.Scope == scope) is not { } own)
        {
            return null;
        }

        var reverted = own with
        {
            Enabled = fields.Contains("enabled") ? null : own.Enabled,
            ConnectionId = fields.Contains("connection") ? null : own.ConnectionId,
            FromAddress = fields.Contains("from") ? null : own.FromAddress,
            FromName = fields.Contains("fromName") ? null : own.FromName,
            ReplyTo = fields.Contains("replyTo") ? null : own.ReplyTo,
            Charset = fields.Contains("charset") ? null : own.Charset,
            Impersonation = fields.Contains("impersonation") ? null : own.Impersonation,
        };
        await store.SaveOutgoingAsync(reverted, null, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        await ResumeIfTurnedOnAsync(scope, EffectiveOutgoingSettings.Resolve(scope, chain).Enabled.Value, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>A scope whose email a change turned back on (its own setting, or the one it
    /// inherits again): its waiting messages, and those of the scopes below it, go now instead of
    /// at the next retry of a backoff that grew while it was off.</summary>
    private async Task ResumeIfTurnedOnAsync(ScopePath scope, bool wasOn, CancellationToken cancellationToken)
    {
        if (!wasOn && await cache.GetEffectiveAsync(scope, cancellationToken).ConfigureAwait(false) is { Enabled.Value: true })
        {
            await outbox.ResumeScopeAsync(scope, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The fields <see cref="RevertAsync"/> takes.</summary>
    public static readonly IReadOnlyList<string> RevertibleFields = ["enabled", "connection", "from", "fromName", "replyTo", "charset", "impersonation"];

    /// <summary>Removes a scope's own settings so that it inherits again (and the connection those
    /// settings used when the scope owns it and nothing else uses it); false if it had none.</summary>
    public async Task<Result<bool>> ResetAsync(Caller caller, ScopePath scope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.RefuseUnlessAdministers(scope, $"change the outgoing email settings of {scope}") is { } refusal)
        {
            return refusal;
        }

        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.NotFound(ScopeMissing(scope).Message);
        }

        var chain = await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false);
        var own = chain.FirstOrDefault(s => s.Scope == scope);
        var ownConnection = own?.ConnectionId is { } id && await store.GetConnectionAsync(id, cancellationToken).ConfigureAwait(false) is { } used && used.Owner == scope
            ? id
            : null;
        var removed = await store.DeleteOutgoingAsync(scope, ownConnection, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        await ResumeIfTurnedOnAsync(scope, EffectiveOutgoingSettings.Resolve(scope, chain).Enabled.Value, cancellationToken).ConfigureAwait(false);
        return removed;
    }

    // ---------------------------------------------------------------- connections

    /// <summary>The connections the caller may see: those of the scopes it administers (which it
    /// may change) and those of the scopes above them (which its scopes may use).</summary>
    public async Task<Result<IReadOnlyList<ConnectionListing>>> ListConnectionsAsync(Caller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var all = await store.ListConnectionsAsync(cancellationToken).ConfigureAwait(false);
        var usedBy = await UsedByAsync(cancellationToken).ConfigureAwait(false);
        return all
            .Where(c => caller.AdministersAnyScopeIn(c.Owner))
            .OrderBy(c => c.Owner.Value, StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => new ConnectionListing(c, usedBy.TryGetValue(c.Id, out var scopes) ? scopes : [], caller.Administers(c.Owner)))
            .ToArray();
    }

    /// <summary>One connection; a connection the caller may not see answers as one that does not exist.</summary>
    public async Task<Result<ConnectionListing>> GetConnectionAsync(Caller caller, ScopePath owner, string? name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ConnectionReference.TryNormalizeName(name, out var normalized, out var error))
        {
            return Refusal.Invalid("name", error);
        }

        var connection = await FindAsync(owner, normalized, cancellationToken).ConfigureAwait(false);
        if (connection is null || !caller.AdministersAnyScopeIn(owner))
        {
            return Refusal.NotFound(ConnectionMissing(owner, normalized));
        }

        var usedBy = await UsedByAsync(cancellationToken).ConfigureAwait(false);
        return new ConnectionListing(connection, usedBy.TryGetValue(connection.Id, out var scopes) ? scopes : [], caller.Administers(owner));
    }

    /// <summary>The connection as <see cref="SaveConnectionAsync"/> would store it (secrets sealed),
    /// without storing it and without changing which connection any scope uses: for a Test before saving.</summary>
    public async Task<Result<(SmtpConnection Connection, IReadOnlyList<string> Notes)>> PrepareConnectionAsync(
        Caller caller, ConnectionSave save, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(save);
        var owner = save.Owner;
        if ((caller.RefuseUnlessAdministers(owner, $"change the SMTP connections of {owner}") ?? KerberosSettingsRules.RefuseNodeFiles(caller, save.Change)) is { } refusal)
        {
            return refusal;
        }

        if (!await store.ScopeExistsAsync(owner, cancellationToken).ConfigureAwait(false))
        {
            return Refusal.NotFound(ScopeMissing(owner).Message);
        }

        if (!ConnectionReference.TryNormalizeName(save.Name, out var name, out var nameError))
        {
            return Refusal.Invalid("name", nameError);
        }

        var existing = await FindAsync(owner, name, cancellationToken).ConfigureAwait(false);
        if (save.IsNew == true && existing is not null)
        {
            return Refusal.Conflict(new FieldError("name", $"An SMTP connection named '{name}' belongs to {owner} already."));
        }

        if (save.IsNew == false && existing is null)
        {
            return Refusal.NotFound(ConnectionMissing(owner, name));
        }

        var errors = new List<FieldError>();
        var notes = new List<string>();
        var connection = await ApplyConnectionFieldsAsync(existing, owner, name, save.Change, errors, notes, cancellationToken).ConfigureAwait(false);
        return errors.Count > 0 ? Refusal.Invalid(errors, InvalidSummary) : (connection, notes);
    }

    /// <summary>Adds or changes one connection (never which connection a scope uses).</summary>
    public async Task<Result<(SmtpConnection Connection, IReadOnlyList<string> Notes)>> SaveConnectionAsync(
        Caller caller, ConnectionSave save, CancellationToken cancellationToken)
    {
        var prepared = await PrepareConnectionAsync(caller, save, cancellationToken).ConfigureAwait(false);
        if (prepared.Refusal is not null)
        {
            return prepared;
        }

        await store.SaveConnectionAsync(prepared.Value.Connection, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return prepared;
    }

    /// <summary>Deletes a connection that no scope uses; otherwise says which scopes use it.</summary>
    public async Task<Refusal?> DeleteConnectionAsync(Caller caller, ScopePath owner, string? name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!ConnectionReference.TryNormalizeName(name, out var normalized, out var error))
        {
            return Refusal.Invalid("name", error);
        }

        if (caller.RefuseUnlessAdministers(owner, $"delete the SMTP connections of {owner}") is { } refusal)
        {
            return refusal;
        }

        if (await FindAsync(owner, normalized, cancellationToken).ConfigureAwait(false) is not { } connection)
        {
            return Refusal.NotFound(ConnectionMissing(owner, normalized));
        }

        var usedBy = await store.DeleteConnectionAsync(connection.Id, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return usedBy.Count == 0
            ? null
            : Refusal.Conflict($"SMTP connection {connection.Qualified} is used by {string.Join(", ", usedBy)}: choose another connection there first; nothing was deleted.");
    }

    // ---------------------------------------------------------------- reading for other services

    /// <summary>The scope's effective settings, or null when the scope does not exist. For
    /// services that have decided already that their caller may read them.</summary>
    public async Task<EffectiveOutgoingSettings?> GetEffectiveAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var chain = await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false);
        return EffectiveOutgoingSettings.Resolve(scope, chain);
    }

    public static FieldError ScopeMissing(ScopePath scope) =>
        new("scope", $"Scope '{scope}' does not exist: add it first ('herald scope add {scope}').");

    private static string ConnectionMissing(ScopePath owner, string name) =>
        $"No SMTP connection named '{name}' belongs to {owner}.";

    // ---------------------------------------------------------------- the rules

    private sealed record Target(ScopePath Owner, string Name, SmtpConnection? Existing);

    /// <summary>
    /// Which connection an update of a scope's settings uses and changes: the one it names (the
    /// nearest of that name owned by the scope or above, or exactly the one a qualified name
    /// gives); else, for a change of connection fields, the one the scope's own settings name;
    /// else the scope's own <c>default</c>, created by the change. Null with errors when the name
    /// is wrong or names a connection the scope may not use.
    /// </summary>
    private async Task<Target?> TargetConnectionAsync(OutgoingSettingsUpdate update, ScopeOutgoingSettings own, List<FieldError> errors, CancellationToken cancellationToken)
    {
        var scope = update.Scope;
        var creates = !update.ConnectionChange.IsEmpty;
        if (update.Connection is { } text)
        {
            if (!ConnectionReference.TryParse(text, out var reference, out var error))
            {
                errors.Add(new("connection", error));
                return null;
            }

            if (reference.Owner is { } owner)
            {
                if (!scope.IsSameOrDescendantOf(owner))
                {
                    errors.Add(new("connection",
                        $"SMTP connection {reference} belongs to {owner}, which is not {scope} or a scope above it: a scope uses only its own connections and those of the scopes above it."));
                    return null;
                }

                var exact = await FindAsync(owner, reference.Name, cancellationToken).ConfigureAwait(false);
                if (exact is null && !creates)
                {
                    errors.Add(new("connection", ConnectionMissing(owner, reference.Name)));
                    return null;
                }

                return new Target(owner, reference.Name, exact);
            }

            foreach (var candidate in scope.SelfAndAncestors())
            {
                if (await FindAsync(candidate, reference.Name, cancellationToken).ConfigureAwait(false) is { } nearest)
                {
                    return new Target(candidate, reference.Name, nearest);
                }
            }

            if (!creates)
            {
                errors.Add(new("connection", $"No SMTP connection named '{reference.Name}' belongs to {scope} or a scope above it."));
                return null;
            }

            return new Target(scope, reference.Name, null);
        }

        if (own.ConnectionId is { } id && await store.GetConnectionAsync(id, cancellationToken).ConfigureAwait(false) is { } current)
        {
            return new Target(current.Owner, current.Name, current);
        }

        var scopeDefault = await FindAsync(scope, ConnectionReference.DefaultName, cancellationToken).ConfigureAwait(false);
        return new Target(scope, ConnectionReference.DefaultName, scopeDefault);
    }

    private async Task<SmtpConnection?> FindAsync(ScopePath owner, string name, CancellationToken cancellationToken) =>
        (await store.ListConnectionsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(c => c.Owner == owner && c.Name == name);

    /// <summary>Each connection's id and the scopes whose own settings name it.</summary>
    private async Task<Dictionary<string, IReadOnlyList<ScopePath>>> UsedByAsync(CancellationToken cancellationToken)
    {
        var usedBy = new Dictionary<string, List<ScopePath>>(StringComparer.Ordinal);
        foreach (var settings in await store.ListOutgoingAsync(cancellationToken).ConfigureAwait(false))
        {
            if (settings.ConnectionId is { } id)
            {
                (usedBy.TryGetValue(id, out var list) ? list : usedBy[id] = []).Add(settings.Scope);
            }
        }

        return usedBy.ToDictionary(p => p.Key, p => (IReadOnlyList<ScopePath>)p.Value, StringComparer.Ordinal);
    }

    private static ScopeOutgoingSettings ApplyScopeFields(ScopeOutgoingSettings own, OutgoingSettingsUpdate update, List<FieldError> errors)
    {
        var result = own;
        if (update.Enabled is { } enabled)
        {
            result = result with { Enabled = enabled };
        }

        if (update.FromAddress is { } from && Address(from, "from", "From address", errors) is { } fromAddress)
        {
            result = result with { FromAddress = fromAddress };
        }

        if (update.FromName is { } fromName)
        {
            if (fromName.Any(char.IsControl) || fromName.Length > 200)
            {
                errors.Add(new("fromName", "The From display name must be at most 200 characters, on one line."));
            }
            else
            {
                result = result with { FromName = fromName.Trim().Length == 0 ? null : fromName.Trim() };
            }
        }

        if (update.ReplyTo is { } replyTo && Address(replyTo, "replyTo", "Reply-To address", errors) is { } replyToAddress)
        {
            result = result with { ReplyTo = replyToAddress };
        }

        if (update.Charset is { } charset)
        {
            if (Charsets.TryNormalize(charset, out var canonical, out var error))
            {
                result = result with { Charset = canonical };
            }
            else
            {
                errors.Add(new("charset", error));
            }
        }

        if (update.Impersonation is { } impersonation)
        {
            if (ImpersonationPolicyNames.Values.TryParse(impersonation, out var error, out var policy))
            {
                result = result with { Impersonation = policy };
            }
            else
            {
                errors.Add(new("impersonation", $"Impersonation policy {error}"));
            }
        }

        return result;
    }

    private static EmailAddress? Address(string text, string field, string label, List<FieldError> errors)
    {
        if (EmailAddress.TryParse(text, out var address, out var error))
        {
            return address;
        }

        errors.Add(new(field, $"{label}: {error}"));
        return null;
    }

    private async Task<SmtpConnection> ApplyConnectionFieldsAsync(
        SmtpConnection? existing, ScopePath owner, string name, ConnectionUpdate update, List<FieldError> errors, List<string> notes, CancellationToken cancellationToken)
    {
        var connection = existing ?? new SmtpConnection { Id = ConnectionReference.Qualified(owner, name), Owner = owner, Name = name, Host = "" };

        if (update.Host is { } host)
        {
            host = host.Trim();
            if (host.Length > 253 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                errors.Add(new("server", $"'{Shorten(host)}' is not a valid server name or IP address."));
            }
            else
            {
                connection = connection with { Host = host };
            }
        }
        else if (existing is null)
        {
            errors.Add(new("server", $"SMTP connection {connection.Qualified} is new: give its server."));
        }

        if (update.Port is { } port)
        {
            if (port is < 1 or > 65535)
            {
                errors.Add(new("port", $"Port {port} is out of range: use 1 to 65535 (25 when not given)."));
            }
            else
            {
                connection = connection with { Port = port };
            }
        }

        if (update.Security is { } securityName)
        {
            if (SmtpSecurityNames.Values.TryParse(securityName, out var error, out var security))
            {
                connection = connection with { Security = security };
            }
            else
            {
                errors.Add(new("security", $"Security {error}"));
            }
        }

        connection = ApplyLimits(connection, update, errors);

        if (update.Trust is { } trust)
        {
            connection = connection with { Trust = trust };
        }

        if (update.AllowPlaintextAuth is { } allowPlaintext)
        {
            connection = connection with { AllowPlaintextAuth = allowPlaintext };
        }

        // A stored secret goes only where it was entered for: a new server, port or weaker
        // security drops it unless the same change brings a new one.
        if (existing is not null && MovesAwayFrom(existing, connection))
        {
            var newPassword = update.Authentication is AuthenticationChange.ToSasl { Password: not null };
            if (!newPassword && connection.Authentication.Password is not null)
            {
                connection = connection with { Authentication = connection.Authentication with { Password = null } };
                notes.Add($"The stored password of {connection.Qualified} was dropped because {Move(existing, connection)}: give the password again to authenticate there.");
            }

            if (update.ClientCertificate is not ClientCertificateChange.Replace && connection.ClientCertificate is not null)
            {
                connection = connection with { ClientCertificate = null };
                notes.Add($"The client certificate of {connection.Qualified} was dropped because {Move(existing, connection)}: upload it again to use it there.");
            }

            // The tokens are presented to the server: its secrets and refresh token were entered for this one.
            if (connection.Authentication.OAuth is { HasSecrets: true } oauth)
            {
                connection = connection with { Authentication = connection.Authentication with { OAuth = oauth.WithoutSecrets() } };
                notes.Add($"The OAuth secrets of {connection.Qualified} (client secret, certificate, key or refresh token) were dropped because {Move(existing, connection)}: give them again, or sign in again, to get tokens for the new server.");
            }
        }

        if (update.ClientCertificate is not null || update.Authentication is not null)
        {
            connection = await ApplySecretsAsync(connection, update, errors, notes, cancellationToken).ConfigureAwait(false);
        }

        if (!connection.Authentication.IsAnonymous && connection.MaySendPasswordInClear && !connection.AllowPlaintextAuth)
        {
            errors.Add(new("security",
                $"Security {SmtpSecurityNames.Values.NameOf(connection.Security)} could send the password of {connection.Qualified} unencrypted"
                + (connection.Security == SmtpSecurity.StartTlsWhenAvailable ? " (a man in the middle can remove STARTTLS)" : "")
                + ": use starttls-required or implicit-tls, or set allow-plaintext-auth for a smart host on this machine or a trusted link."));
        }

        if (connection.ClientCertificate is not null && connection.Security == SmtpSecurity.None)
        {
            errors.Add(new("clientCertificate", $"A client certificate needs TLS: choose starttls-required, starttls-when-available or implicit-tls for {connection.Qualified}."));
        }

        return connection;
    }

    /// <summary>Whether the change takes the connection somewhere its secrets were not entered for.</summary>
    private static bool MovesAwayFrom(SmtpConnection before, SmtpConnection after) =>
        !string.Equals(before.Host, after.Host, StringComparison.OrdinalIgnoreCase) || before.Port != after.Port || Strength(after.Security) < Strength(before.Security);

    private static string Move(SmtpConnection before, SmtpConnection after) =>
        Strength(after.Security) < Strength(before.Security) && string.Equals(before.Host, after.Host, StringComparison.OrdinalIgnoreCase) && before.Port == after.Port
            ? $"its security was lowered from {SmtpSecurityNames.Values.NameOf(before.Security)} to {SmtpSecurityNames.Values.NameOf(after.Security)}"
            : $"its server changed from {before.Host}:{before.Port} to {after.Host}:{after.Port}";

    /// <summary>How much a security setting protects: required TLS (either way) over opportunistic over none.</summary>
    private static int Strength(SmtpSecurity security) => security switch
    {
        SmtpSecurity.None => 0,
        SmtpSecurity.StartTlsWhenAvailable => 1,
        _ => 2,
    };

    private static SmtpConnection ApplyLimits(SmtpConnection connection, ConnectionUpdate update, List<FieldError> errors)
    {
        TimeSpan? Timeout(TimeSpan? value, string field, string label)
        {
            if (value is { } timeout && (timeout < TimeSpan.FromSeconds(1) || timeout > TimeSpan.FromMinutes(10)))
            {
                errors.Add(new(field, $"The {label} timeout must be between 1 second and 10 minutes."));
                return null;
            }

            return value;
        }

        if (Timeout(update.ConnectTimeout, "connectTimeout", "connect") is { } connect)
        {
            connection = connection with { ConnectTimeout = connect };
        }

        if (Timeout(update.CommandTimeout, "commandTimeout", "command") is { } command)
        {
            connection = connection with { CommandTimeout = command };
        }

        if (update.ConnectionLimit is { } limit)
        {
            if (limit is >= 1 and <= 1000)
            {
                connection = connection with { ConnectionLimit = limit };
            }
            else
            {
                errors.Add(new("connectionLimit", $"Connection limit {limit} is out of range: use 1 to 1000."));
            }
        }

        if (update.RateLimitPerMinute is { } rate)
        {
            if (rate is >= 0 and <= 1_000_000)
            {
                connection = connection with { RateLimitPerMinute = rate == 0 ? null : rate };
            }
            else
            {
                errors.Add(new("rateLimitPerMinute", "The rate limit must be a number of messages per minute up to 1,000,000, or 0 for none."));
            }
        }

        if (update.EhloName is { } ehlo)
        {
            var name = ehlo.Trim().TrimEnd('.').ToLowerInvariant();
            if (name.Length == 0)
            {
                connection = connection with { EhloName = null };
            }
            else if (Delivery.EhloName.IsQualified(name))
            {
                connection = connection with { EhloName = name };
            }
            else
            {
                errors.Add(new("ehloName", $"EHLO name '{Shorten(ehlo)}' is not a fully qualified domain name (like relay.example.org): servers such as Postfix with reject_non_fqdn_helo_hostname refuse it, and spam filters score it. Give this machine's full name, or leave it empty to let Herald choose."));
            }
        }

        if (update.NodeTags is { } tags)
        {
            if (tags.Count > 32)
            {
                errors.Add(new("nodeTags", "A connection has at most 32 node tags."));
                return connection;
            }

            if (tags.Any(t => t is null))
            {
                errors.Add(new("nodeTags", "A node tag is a name, not null."));
                return connection;
            }

            var normalized = tags.Select(t => t.Trim().ToLowerInvariant()).Where(t => t.Length > 0).Distinct().ToArray();
            if (normalized.FirstOrDefault(t => !ConnectionReference.TryNormalizeName(t, out _, out _)) is { } bad)
            {
                errors.Add(new("nodeTags", $"Node tag '{Shorten(bad)}' is not valid: use letters, digits, '-', '_' or '.'."));
            }
            else
            {
                connection = connection with { NodeTags = normalized };
            }
        }

        return connection;
    }

    private async Task<SmtpConnection> ApplySecretsAsync(
        SmtpConnection connection, ConnectionUpdate update, List<FieldError> errors, List<string> notes, CancellationToken cancellationToken)
    {
        // The key is unlocked only when a secret is actually being stored.
        async Task<CredentialKey?> KeyAsync(string field)
        {
            var status = await vault.GetKeyAsync(initializeDatabase: true, cancellationToken).ConfigureAwait(false);
            if (status.Key is null)
            {
                errors.Add(new(field, status.Problem!));
            }

            return status.Key;
        }

        switch (update.ClientCertificate)
        {
            case ClientCertificateChange.Remove:
                connection = connection with { ClientCertificate = null };
                break;
            case ClientCertificateChange.Replace(var certificate):
                if (ClientCertificates.Check(certificate, time.GetUtcNow()) is { } problem)
                {
                    errors.Add(new("clientCertificate", problem));
                }
                else if (await KeyAsync("clientCertificate").ConfigureAwait(false) is { } key)
                {
                    var sealedPkcs12 = key.Seal(certificate.Export(X509ContentType.Pkcs12), SecretNames.ConnectionClientCertificate(connection.Id));
                    connection = connection with
                    {
                        ClientCertificate = new StoredClientCertificate(
                            sealedPkcs12, certificate.Subject, certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256), certificate.NotAfter.ToUniversalTime()),
                    };
                }

                break;
        }

        switch (update.Authentication)
        {
            case AuthenticationChange.ToAnonymous:
                // Saying "anonymous" explicitly removes stored credentials.
                connection = connection with { Authentication = SmtpAuthentication.Anonymous };
                break;
            case AuthenticationChange.ToOAuth oauth:
                connection = await OAuthSettingsRules.ApplyAsync(connection, oauth, KeyAsync, time.GetUtcNow(), errors, notes).ConfigureAwait(false);
                break;
            case AuthenticationChange.ToKerberos kerberos:
                connection = KerberosSettingsRules.Apply(connection, kerberos, errors);
                break;
            case AuthenticationChange.ToSasl sasl:
                var current = connection.Authentication;
                // From OAuth or Kerberos back to a password: nothing of them is kept, and a password is needed.
                var fromOtherKind = current.OAuth is not null || current.Kerberos is not null;

                var userName = sasl.UserName?.Trim() ?? current.UserName;
                if (string.IsNullOrEmpty(userName) || userName.Length > 256 || userName.Any(char.IsControl))
                {
                    errors.Add(new("username", "Authentication needs a user name of at most 256 characters on one line."));
                    break;
                }

                var mechanisms = fromOtherKind ? [] : current.Mechanisms;
                if (sasl.Mechanisms is { } requested)
                {
                    var normalized = new List<string>();
                    foreach (var mechanism in requested.Take(16))
                    {
                        if (SaslMechanisms.TryNormalize(mechanism, out var known))
                        {
                            normalized.Add(known);
                        }
                        else
                        {
                            errors.Add(new("auth", $"Unknown SASL mechanism '{Shorten(mechanism)}': use {string.Join(", ", SaslMechanisms.Known)}."));
                        }
                    }

                    mechanisms = normalized.Distinct().ToArray();
                }

                // NTLM sends the user and the domain apart: the name must say which is which.
                if (mechanisms.Contains("NTLM") && !NtlmAccount.TryParse(userName, out _, out var ntlmError))
                {
                    errors.Add(new("username", ntlmError!));
                }

                // Credentials not mentioned are kept.
                var password = current.Password;
                if (sasl.Password is { } plaintext)
                {
                    if (plaintext.Length is 0 or > 4096)
                    {
                        errors.Add(new("password", "A password is 1 to 4,096 characters."));
                        break;
                    }

                    password = await KeyAsync("password").ConfigureAwait(false) is { } key
                        ? key.Seal(plaintext, SecretNames.ConnectionPassword(connection.Id))
                        : null;
                }
                else if (password is null && (current.IsAnonymous || fromOtherKind))
                {
                    errors.Add(new("password", "Authentication needs a password."));
                }

                connection = connection with { Authentication = new SmtpAuthentication(userName, mechanisms, password) };
                break;
        }

        return connection;
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
