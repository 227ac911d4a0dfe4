using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Herald.Credentials;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>
/// The one place where outgoing email settings change, for the CLI, the API and the console:
/// every field is validated, secrets are sealed, and the scope's settings and its connection are
/// saved together — or, on any error, nothing is saved.
/// </summary>
public sealed partial class OutgoingSettingsService(ISettingsStore store, OutgoingSettingsCache cache, CredentialVault vault, TimeProvider time)
{
    public const string RootConnectionName = "default";

    /// <summary>Saves the update, or returns every problem found and saves nothing.</summary>
    public async Task<IReadOnlyList<FieldError>> ApplyAsync(OutgoingSettingsUpdate update, CancellationToken cancellationToken)
    {
        if (!await store.ScopeExistsAsync(update.Scope, cancellationToken).ConfigureAwait(false))
        {
            return [ScopeMissing(update.Scope)];
        }

        var errors = new List<FieldError>();
        var chain = await store.GetOutgoingChainAsync(update.Scope, cancellationToken).ConfigureAwait(false);
        var own = chain.FirstOrDefault(s => s.Scope == update.Scope) ?? new ScopeOutgoingSettings(update.Scope);
        var settings = ApplyScopeFields(own, update, errors);

        SmtpConnection? connection = null;
        if (update.ChangesConnection || update.ConnectionName is not null)
        {
            var name = update.ConnectionName?.Trim().ToLowerInvariant() ?? own.ConnectionName ?? DefaultConnectionName(update.Scope);
            if (!ConnectionNamePattern().IsMatch(name))
            {
                errors.Add(new("connection", $"'{name}' is not a valid connection name: use letters, digits, '-', '_' or '.', at most 64 characters."));
            }
            else
            {
                var existing = await store.GetConnectionAsync(name, cancellationToken).ConfigureAwait(false);
                if (existing is null && !update.ChangesConnection)
                {
                    errors.Add(new("connection", $"SMTP connection '{name}' does not exist."));
                }
                else
                {
                    connection = await ApplyConnectionFieldsAsync(existing, name, update, errors, cancellationToken).ConfigureAwait(false);
                }

                settings = settings with { ConnectionName = name };
            }
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        await store.SaveOutgoingAsync(settings, connection, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return [];
    }

    /// <summary>The console's connection editor: one SMTP connection validated as <see cref="ApplyAsync"/>
    /// would (secrets sealed), without saving it and without changing which connection any scope
    /// uses; <paramref name="isNew"/> refuses a name that is taken, otherwise the name must exist.</summary>
    public async Task<(SmtpConnection? Connection, IReadOnlyList<FieldError> Errors)> PrepareConnectionAsync(
        string? name, bool isNew, OutgoingSettingsUpdate update, CancellationToken cancellationToken)
    {
        name = name?.Trim().ToLowerInvariant() ?? "";
        if (!ConnectionNamePattern().IsMatch(name))
        {
            return (null, [new("connection", $"'{name}' is not a valid connection name: use letters, digits, '-', '_' or '.', at most 64 characters.")]);
        }

        var existing = await store.GetConnectionAsync(name, cancellationToken).ConfigureAwait(false);
        if (isNew != (existing is null))
        {
            return (null, [new("connection", isNew ? $"An SMTP connection named '{name}' exists already." : $"SMTP connection '{name}' does not exist.")]);
        }

        var errors = new List<FieldError>();
        var connection = await ApplyConnectionFieldsAsync(existing, name, update, errors, cancellationToken).ConfigureAwait(false);
        return errors.Count > 0 ? (null, errors) : (connection, []);
    }

    /// <summary>Saves one connection prepared by <see cref="PrepareConnectionAsync"/>, or returns its problems and saves nothing.</summary>
    public async Task<IReadOnlyList<FieldError>> SaveConnectionAsync(string? name, bool isNew, OutgoingSettingsUpdate update, CancellationToken cancellationToken)
    {
        var (connection, errors) = await PrepareConnectionAsync(name, isNew, update, cancellationToken).ConfigureAwait(false);
        if (connection is null)
        {
            return errors;
        }

        await store.SaveConnectionAsync(connection, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return [];
    }

    /// <summary>Makes a scope inherit the named fields again (<c>enabled</c>, <c>connection</c>,
    /// <c>from</c>, <c>fromName</c>, <c>replyTo</c>, <c>charset</c>, <c>impersonation</c>), keeping its other settings.</summary>
    public async Task<FieldError?> RevertAsync(ScopePath scope, IReadOnlyCollection<string> fields, CancellationToken cancellationToken)
    {
        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return ScopeMissing(scope);
        }

        var chain = await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false);
        if (chain.FirstOrDefault(s => s.Scope == scope) is not { } own)
        {
            return null;
        }

        var reverted = own with
        {
            Enabled = fields.Contains("enabled") ? null : own.Enabled,
            ConnectionName = fields.Contains("connection") ? null : own.ConnectionName,
            FromAddress = fields.Contains("from") ? null : own.FromAddress,
            FromName = fields.Contains("fromName") ? null : own.FromName,
            ReplyTo = fields.Contains("replyTo") ? null : own.ReplyTo,
            Charset = fields.Contains("charset") ? null : own.Charset,
            Impersonation = fields.Contains("impersonation") ? null : own.Impersonation,
        };
        await store.SaveOutgoingAsync(reverted, null, cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return null;
    }

    /// <summary>Removes a scope's own settings so that it inherits again; false if it had none.</summary>
    public async Task<(bool Removed, FieldError? Error)> ResetAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return (false, ScopeMissing(scope));
        }

        var removed = await store.DeleteOutgoingAsync(scope, DefaultConnectionName(scope), cancellationToken).ConfigureAwait(false);
        cache.Invalidate();
        return (removed, null);
    }

    public async Task<EffectiveOutgoingSettings?> GetEffectiveAsync(ScopePath scope, CancellationToken cancellationToken)
    {
        if (!await store.ScopeExistsAsync(scope, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var chain = await store.GetOutgoingChainAsync(scope, cancellationToken).ConfigureAwait(false);
        return EffectiveOutgoingSettings.Resolve(scope, chain);
    }

    /// <summary>A scope's own connection is named after it: <c>default</c> for <c>/</c>,
    /// <c>hr.payroll</c> for <c>/hr/payroll</c>.</summary>
    public static string DefaultConnectionName(ScopePath scope) =>
        scope.IsRoot ? RootConnectionName : scope.Value[1..].Replace('/', '.');

    public static FieldError ScopeMissing(ScopePath scope) =>
        new("scope", $"Scope '{scope}' does not exist: add it first ('herald scope add {scope}').");

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
        SmtpConnection? existing, string name, OutgoingSettingsUpdate update, List<FieldError> errors, CancellationToken cancellationToken)
    {
        var connection = existing ?? new SmtpConnection { Name = name, Host = "" };

        if (update.Host is { } host)
        {
            host = host.Trim();
            if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                errors.Add(new("server", $"'{host}' is not a valid server name or IP address."));
            }
            else
            {
                connection = connection with { Host = host };
            }
        }
        else if (existing is null)
        {
            errors.Add(new("server", $"SMTP connection '{name}' is new: give its server."));
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

        if (update.ClientCertificate is not null || update.Authentication is not null)
        {
            connection = await ApplySecretsAsync(connection, update, errors, cancellationToken).ConfigureAwait(false);
        }

        return connection;
    }

    private static SmtpConnection ApplyLimits(SmtpConnection connection, OutgoingSettingsUpdate update, List<FieldError> errors)
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
            if (rate >= 0)
            {
                connection = connection with { RateLimitPerMinute = rate == 0 ? null : rate };
            }
            else
            {
                errors.Add(new("rateLimitPerMinute", "The rate limit must be a number of messages per minute, or 0 for none."));
            }
        }

        if (update.NodeTags is { } tags)
        {
            var normalized = tags.Select(t => t.Trim().ToLowerInvariant()).Where(t => t.Length > 0).Distinct().ToArray();
            if (normalized.FirstOrDefault(t => !ConnectionNamePattern().IsMatch(t)) is { } bad)
            {
                errors.Add(new("nodeTags", $"Node tag '{bad}' is not valid: use letters, digits, '-', '_' or '.'."));
            }
            else
            {
                connection = connection with { NodeTags = normalized };
            }
        }

        return connection;
    }

    private async Task<SmtpConnection> ApplySecretsAsync(
        SmtpConnection connection, OutgoingSettingsUpdate update, List<FieldError> errors, CancellationToken cancellationToken)
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
                    var sealedPkcs12 = key.Seal(certificate.Export(X509ContentType.Pkcs12), SecretNames.ConnectionClientCertificate(connection.Name));
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
            case AuthenticationChange.ToSasl sasl:
                var current = connection.Authentication;
                var userName = sasl.UserName?.Trim() ?? current.UserName;
                if (string.IsNullOrEmpty(userName) || userName.Any(char.IsControl))
                {
                    errors.Add(new("username", "Authentication needs a user name."));
                    break;
                }

                var mechanisms = current.Mechanisms;
                if (sasl.Mechanisms is { } requested)
                {
                    var normalized = new List<string>();
                    foreach (var mechanism in requested)
                    {
                        if (SaslMechanisms.TryNormalize(mechanism, out var known))
                        {
                            normalized.Add(known);
                        }
                        else
                        {
                            errors.Add(new("auth", $"Unknown SASL mechanism '{mechanism}': use {string.Join(", ", SaslMechanisms.Known)}."));
                        }
                    }

                    mechanisms = normalized.Distinct().ToArray();
                }

                // Credentials not mentioned are kept.
                var password = current.Password;
                if (sasl.Password is { } plaintext)
                {
                    password = await KeyAsync("password").ConfigureAwait(false) is { } key
                        ? key.Seal(plaintext, SecretNames.ConnectionPassword(connection.Name))
                        : null;
                }
                else if (password is null)
                {
                    errors.Add(new("password", "Authentication needs a password."));
                }

                connection = connection with { Authentication = new SmtpAuthentication(userName, mechanisms, password) };
                break;
        }

        return connection;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex ConnectionNamePattern();
}
