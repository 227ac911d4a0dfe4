using System.Collections.Concurrent;
using Herald.Credentials;
using Herald.Settings;
using Microsoft.Extensions.Logging;

namespace Herald.Delivery;

/// <summary>What a provider is asked for: a token for the connection, with its secrets open and
/// the newest refresh token this node knows (a provider may have rotated the stored one).</summary>
public sealed record OAuthTokenRequest(SmtpConnection Connection, OAuthSettings Settings, OAuthSecrets Secrets, string? RefreshToken)
{
    // No secret in a log line or exception message.
    public override string ToString() => $"token request for {Connection.Qualified}";
}

/// <summary>An access token, when it expires, and the refresh token that replaces the one used
/// (null when the provider did not rotate it).</summary>
public sealed class OAuthToken(string accessToken, DateTimeOffset expiresOn, string? rotatedRefreshToken = null, string? account = null)
{
    public string AccessToken { get; } = accessToken;

    public DateTimeOffset ExpiresOn { get; } = expiresOn;

    public string? RotatedRefreshToken { get; } = rotatedRefreshToken;

    /// <summary>Whose token it is, when the provider says (a signed-in account).</summary>
    public string? Account { get; } = account;
}

/// <summary>Why the authorization server gave no token: its error code (<c>invalid_client</c>,
/// <c>AADSTS7000215</c>) and a sentence that names it and says what to do.</summary>
public sealed record OAuthFailure(string? Code, string Sentence, bool RefreshTokenRejected = false);

/// <summary>One provider's library asked for one token; outcomes are values.</summary>
public interface IOAuthTokenProvider
{
    Task<(OAuthToken? Token, OAuthFailure? Failure)> RequestAsync(OAuthTokenRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Access tokens per SMTP connection, cached on this node and renewed ahead of expiry (the
/// smaller of five minutes and a tenth of the token's lifetime), one request at a time per
/// connection. A token the SMTP server refused is forgotten (<see cref="Invalidate"/>) so that the
/// next session gets a fresh one. A refresh token the provider rotates is sealed and stored at
/// once, so that the next node (or restart) uses the new one.
/// </summary>
public sealed partial class AccessTokens(IOAuthTokenProvider provider, ISettingsStore store, CredentialVault vault, TimeProvider time, ILogger<AccessTokens> log)
{
    private static readonly TimeSpan MostAhead = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>A valid access token for the connection, or the sentence saying why there is none.</summary>
    public async Task<(OAuthToken? Token, OAuthFailure? Failure)> GetAsync(OpenedConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var settings = connection.Settings.Authentication.OAuth ?? throw new InvalidOperationException($"{connection.Settings.Qualified} does not use OAuth.");
        var entry = _entries.GetOrAdd(connection.Settings.Id, _ => new Entry());
        await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (entry.Fingerprint != connection.Fingerprint)
            {
                // Other settings (or another sign-in): nothing cached before applies.
                entry.Fingerprint = connection.Fingerprint;
                entry.Token = null;
                entry.RefreshToken = null;
            }

            var now = time.GetUtcNow();
            if (entry.Token is { } cached && now < entry.RenewAt)
            {
                return (cached, null);
            }

            var secrets = connection.OAuth ?? new OAuthSecrets(null, null, null, null);
            var refreshToken = entry.RefreshToken ?? secrets.RefreshToken;
            var (token, failure) = await provider.RequestAsync(new OAuthTokenRequest(connection.Settings, settings, secrets, refreshToken), cancellationToken).ConfigureAwait(false);
            if (failure is { RefreshTokenRejected: true } && await StoredRefreshTokenAsync(connection.Settings, cancellationToken).ConfigureAwait(false) is { } stored && stored != refreshToken)
            {
                // Another node redeemed and rotated it meanwhile: the stored one is the newest.
                entry.RefreshToken = stored;
                (token, failure) = await provider.RequestAsync(new OAuthTokenRequest(connection.Settings, settings, secrets, stored), cancellationToken).ConfigureAwait(false);
            }

            if (token is null)
            {
                entry.Token = null;
                LogTokenRefused(log, connection.Settings.Qualified, failure!.Code ?? "no code");
                return (null, failure);
            }

            var obtained = time.GetUtcNow();
            var lifetime = token.ExpiresOn - obtained;
            entry.Token = token;
            entry.RenewAt = token.ExpiresOn - (lifetime / 10 < MostAhead ? lifetime / 10 : MostAhead);
            if (token.RotatedRefreshToken is { } rotated && rotated != refreshToken)
            {
                entry.RefreshToken = rotated;
                await SaveRefreshTokenAsync(connection.Settings, rotated, cancellationToken).ConfigureAwait(false);
            }

            return (token, null);
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>Forgets <paramref name="token"/> after the SMTP server refused it: the next
    /// <see cref="GetAsync"/> asks the provider for a new one.</summary>
    public void Invalidate(OpenedConnection connection, string token)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (_entries.TryGetValue(connection.Settings.Id, out var entry) && entry.Token?.AccessToken == token)
        {
            entry.Token = null;
        }
    }

    /// <summary>For <c>herald smtp show</c> and the console: a token for the stored connection
    /// (from this node's cache when it has one), so that the administrator sees whose it is and
    /// when it expires, or the sentence saying why there is none. Never the token itself.</summary>
    public async Task<(DateTimeOffset? ExpiresOn, string? Account, string? Problem)> ProbeAsync(SmtpConnection settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var (opened, problem) = await OpenedConnection.OpenAsync(settings, vault, cancellationToken).ConfigureAwait(false);
        if (opened is null)
        {
            return (null, null, problem);
        }

        using (opened)
        {
            var (token, failure) = await GetAsync(opened, cancellationToken).ConfigureAwait(false);
            return (token?.ExpiresOn, token?.Account, failure?.Sentence);
        }
    }

    private async Task<string?> StoredRefreshTokenAsync(SmtpConnection connection, CancellationToken cancellationToken)
    {
        var stored = await store.GetConnectionAsync(connection.Id, cancellationToken).ConfigureAwait(false);
        if (stored?.Authentication.OAuth?.RefreshToken is not { } sealedToken)
        {
            return null;
        }

        var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
        return status.Key is { } key && key.TryOpen(sealedToken, SecretNames.OAuthRefreshToken(connection.Id), out var bytes)
            ? System.Text.Encoding.UTF8.GetString(bytes)
            : null;
    }

    private async Task SaveRefreshTokenAsync(SmtpConnection connection, string refreshToken, CancellationToken cancellationToken)
    {
        var status = await vault.GetKeyAsync(initializeDatabase: false, cancellationToken).ConfigureAwait(false);
        if (status.Key is not { } key)
        {
            LogRotatedNotSaved(log, connection.Qualified, status.Problem ?? "no credential key");
            return;
        }

        var saved = await store.SaveRefreshTokenAsync(
            connection.Id, key.Seal(refreshToken, SecretNames.OAuthRefreshToken(connection.Id)), key.Parameters.CheckValue, cancellationToken).ConfigureAwait(false);
        if (!saved)
        {
            LogRotatedNotSaved(log, connection.Qualified, "the connection changed or the credential key was rotated meanwhile");
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public string? Fingerprint { get; set; }

        public OAuthToken? Token { get; set; }

        public DateTimeOffset RenewAt { get; set; }

        /// <summary>The newest refresh token this node knows, once the provider rotated it.</summary>
        public string? RefreshToken { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The authorization server gave SMTP connection {Connection} no token ({Code})")]
    private static partial void LogTokenRefused(ILogger logger, string connection, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The rotated refresh token of SMTP connection {Connection} was not stored: {Reason}; this node keeps using it until it restarts")]
    private static partial void LogRotatedNotSaved(ILogger logger, string connection, string reason);
}
