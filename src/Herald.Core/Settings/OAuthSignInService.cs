using System.Security.Cryptography;
using Herald.Access;
using Herald.Credentials;
using Herald.Delivery;
using Herald.Scopes;

namespace Herald.Settings;

/// <summary>Where a person is sent to sign in, and the one-time values the answer is checked against
/// (kept by the door in a protected cookie, never shown).</summary>
public sealed record OAuthSignInStart(Uri AuthorizationUrl, string State, string CodeVerifier)
{
    public override string ToString() => $"sign-in at {AuthorizationUrl.GetLeftPart(UriPartial.Path)}";
}

/// <summary>What a person at a terminal is shown during a device-code sign-in (RFC 8628): where to
/// go, the code to enter there, and until when it is valid.</summary>
public sealed record OAuthDeviceCode(string VerificationUrl, string UserCode, DateTimeOffset ExpiresOn);

/// <summary>The provider's side of a sign-in (authorization code with PKCE, or the device code a
/// terminal shows), through its library.</summary>
public interface IOAuthSignIn
{
    /// <summary>The authorization endpoint with the request's parameters; null when the provider
    /// has none configured (or its discovery document names none).</summary>
    Task<Uri?> AuthorizationUrlAsync(SmtpConnection connection, OAuthSettings settings, Uri redirect, string state, string codeChallenge, CancellationToken cancellationToken);

    /// <summary>Redeems the code for tokens; the refresh token and whose it is, or the failure.</summary>
    Task<(string? RefreshToken, string? Account, OAuthFailure? Failure)> RedeemAsync(
        OpenedConnection connection, Uri redirect, string code, string codeVerifier, CancellationToken cancellationToken);

    /// <summary>Asks the provider for a device code, has it shown through <paramref name="show"/>,
    /// and polls until someone approved it (the refresh token and whose it is), denied it, or it
    /// expired (the failure).</summary>
    Task<(string? RefreshToken, string? Account, OAuthFailure? Failure)> DeviceCodeAsync(
        OpenedConnection connection, Func<OAuthDeviceCode, CancellationToken, Task> show, CancellationToken cancellationToken);
}

/// <summary>
/// An administrator signs in at the provider so that a connection gets a refresh token ("Sign in
/// with Microsoft / Google / provider" in the console): who may is who may change the connection;
/// the refresh token is stored sealed through the same save as every other change.
/// </summary>
public sealed class OAuthSignInService(OutgoingSettingsService settings, IOAuthSignIn provider, CredentialVault vault)
{
    public async Task<Result<OAuthSignInStart>> BeginAsync(Caller caller, ScopePath owner, string? name, Uri redirect, CancellationToken cancellationToken)
    {
        var found = await EditableAsync(caller, owner, name, cancellationToken).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return refusal;
        }

        var connection = found.Value!;
        var state = Base64Url(RandomNumberGenerator.GetBytes(24));
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier)));
        return await provider.AuthorizationUrlAsync(connection, connection.Authentication.OAuth!, redirect, state, challenge, cancellationToken).ConfigureAwait(false) is { } url
            ? new OAuthSignInStart(url, state, verifier)
            : Refusal.Invalid("authorizationEndpoint", $"SMTP connection {connection.Qualified} has no authorization endpoint to sign in at: give it (the provider's https://…/authorize).");
    }

    /// <summary>Redeems the code the provider sent back and stores the refresh token.</summary>
    public async Task<Result<string>> CompleteAsync(
        Caller caller, ScopePath owner, string? name, Uri redirect, string code, string codeVerifier, CancellationToken cancellationToken)
    {
        var found = await EditableAsync(caller, owner, name, cancellationToken).ConfigureAwait(false);
        return found.Refusal is { } refusal
            ? refusal
            : await SignInAsync(caller, found.Value!, (opened, ct) => provider.RedeemAsync(opened, redirect, code, codeVerifier, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Signs a connection in from a terminal with the device-code grant (RFC 8628), where the
    /// provider has it: <paramref name="show"/> tells the person where to go and which code to
    /// enter; the refresh token is stored through the same save as the console's sign-in. A
    /// Google service account needs no sign-in (the sentence says so and nothing changes).
    /// </summary>
    public async Task<Result<string>> SignInWithDeviceCodeAsync(
        Caller caller, ScopePath owner, string? name, Func<OAuthDeviceCode, CancellationToken, Task> show, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(show);
        var found = await EditableAsync(caller, owner, name, cancellationToken).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return refusal;
        }

        var connection = found.Value!;
        var oauth = connection.Authentication.OAuth!;
        switch (oauth)
        {
            case { Provider: OAuthProvider.Google, Grant: OAuthGrant.ClientCredentials }:
                return $"SMTP connection {connection.Qualified} needs no sign-in: its service account {oauth.ServiceAccount ?? "(no key yet)"} gets tokens for {connection.Authentication.UserName} by domain-wide delegation, with no person and no browser. Nothing was changed.";
            case { Provider: OAuthProvider.Google }:
                // Google's device flow offers only a short list of scopes, and mail is not among them.
                return Refusal.Invalid("oauthProvider", $"Google does not allow mail access (https://mail.google.com/) through a device-code sign-in: sign SMTP connection {connection.Qualified} in with the console's 'Sign in with Google', or use a service account with domain-wide delegation.");
            case { Provider: OAuthProvider.Generic, DeviceEndpoint: null }:
                return Refusal.Invalid("deviceEndpoint", $"SMTP connection {connection.Qualified} has no device authorization endpoint to sign in at from a terminal: give it (--device-endpoint https://…), or sign in with the console.");
        }

        return await SignInAsync(caller, connection, (opened, ct) => provider.DeviceCodeAsync(opened, show, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One sign-in, whichever grant: the provider gives a refresh token for the
    /// connection's client, and it is stored through the connection's save (who may, sealed).</summary>
    private async Task<Result<string>> SignInAsync(
        Caller caller, SmtpConnection connection,
        Func<OpenedConnection, CancellationToken, Task<(string? RefreshToken, string? Account, OAuthFailure? Failure)>> obtain,
        CancellationToken cancellationToken)
    {
        var (opened, problem) = await OpenedConnection.OpenAsync(connection, vault, cancellationToken, forSignIn: true).ConfigureAwait(false);
        if (opened is null)
        {
            return Refusal.Conflict(problem!);
        }

        string? refreshToken, account;
        using (opened)
        {
            OAuthFailure? failure;
            (refreshToken, account, failure) = await obtain(opened, cancellationToken).ConfigureAwait(false);
            if (failure is not null)
            {
                // The sentence was written for a send; here nothing is retried and nothing was stored.
                return Refusal.Conflict(failure.Sentence
                    .Replace(" It is tried again; nothing was sent.", " Nothing was stored.", StringComparison.Ordinal)
                    .Replace(" Nothing was sent.", " Nothing was stored.", StringComparison.Ordinal));
            }
        }

        if (refreshToken is null)
        {
            return Refusal.Conflict($"The provider signed in but gave no refresh token for {connection.Qualified}: allow the client offline access (the offline_access scope, or Google's access_type=offline) and sign in again.");
        }

        var saved = await settings.SaveConnectionAsync(caller, new ConnectionSave(connection.Owner, connection.Name, false, new ConnectionUpdate
        {
            Authentication = new AuthenticationChange.ToOAuth(null, new OAuthChange { RefreshToken = refreshToken, Account = account }),
        }), cancellationToken).ConfigureAwait(false);
        return saved.Refusal is { } notSaved
            ? notSaved
            : $"Signed in{(account is null ? "" : $" as {account}")}: SMTP connection {connection.Qualified} sends as {connection.Authentication.UserName} with the refresh token, stored encrypted.";
    }

    private async Task<Result<SmtpConnection>> EditableAsync(Caller caller, ScopePath owner, string? name, CancellationToken cancellationToken)
    {
        var found = await settings.GetConnectionAsync(caller, owner, name, cancellationToken).ConfigureAwait(false);
        if (found.Refusal is { } refusal)
        {
            return refusal;
        }

        if (!found.Value!.Editable)
        {
            return Refusal.NotAllowed($"SMTP connection {found.Value.Connection.Qualified} belongs to {owner}: only its administrators sign it in.");
        }

        return found.Value.Connection.Authentication.OAuth is null
            ? Refusal.Invalid("auth", $"SMTP connection {found.Value.Connection.Qualified} does not use OAuth 2.0: choose OAuth 2.0 and save before signing in.")
            : found.Value.Connection;
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
