using System.Text.RegularExpressions;
using Herald.Delivery;
using Herald.Settings;

namespace Herald.OAuth;

/// <summary>
/// What an authorization server's refusal means for the administrator, in one sentence that names
/// the server's own error (<c>invalid_client</c>, <c>AADSTS7000215</c>) and says what to do. Written
/// once for every provider; the delivery path and the connection test show it as it is.
/// </summary>
public static partial class OAuthErrors
{
    public static OAuthFailure Describe(OAuthTokenRequest request, string? error, string? description)
    {
        ArgumentNullException.ThrowIfNull(request);
        var connection = request.Connection.Qualified;
        var server = request.Settings.Provider switch
        {
            OAuthProvider.Microsoft => "Microsoft Entra ID",
            OAuthProvider.Google => "Google",
            _ => $"The authorization server at {request.Settings.TokenEndpoint}",
        };
        var aadsts = description is null ? null : AadstsCode().Match(description) is { Success: true } m ? m.Value : null;
        var code = aadsts ?? error;
        var said = Shorten(description is { Length: > 0 } ? $"{error}: {description}" : error ?? "no error code");
        var what = (aadsts, error) switch
        {
            ("AADSTS7000215" or "AADSTS7000222", _) => "the client secret is wrong or expired: create a new secret in the app registration (Certificates & secrets) and give it to this connection.",
            ("AADSTS700016", _) => "no application with this client id exists in the tenant: check the application (client) id and the tenant id.",
            ("AADSTS90002" or "AADSTS900023", _) => "the tenant does not exist: check the directory (tenant) id, and the authority for a national cloud.",
            ("AADSTS65001" or "AADSTS650057", _) or (_, "consent_required") => "the permission has not been consented: an administrator must grant admin consent for SMTP.SendAsApp (or SMTP.Send) in the app registration's API permissions.",
            ("AADSTS700027" or "AADSTS700024", _) => "the certificate is not the one uploaded to the app registration, or the clock is off: upload this certificate's public key under Certificates & secrets.",
            ("AADSTS7000112", _) => "the application is disabled in the tenant: enable it (Enterprise applications → Properties).",
            ("AADSTS50076" or "AADSTS50079" or "AADSTS50158", _) or (_, "interaction_required") => "the sign-in needs interaction (multi-factor or a policy): sign in again from the console's connection page.",
            (_, "access_denied" or "authorization_declined") => "the sign-in was denied at the provider: sign in again and approve it.",
            (_, "expired_token" or "code_expired") => "the code expired before anyone approved it: sign in again and enter the new code in time.",
            (_, "invalid_client") => "the client id or secret was refused, or the client is disabled: check the client id, give a new client secret, or enable the client at the authorization server.",
            (_, "unauthorized_client") => request.Settings.Provider == OAuthProvider.Google
                ? "the service account is not allowed domain-wide delegation for https://mail.google.com/: in the Google Admin console add its client id under Security → API controls → Domain-wide delegation with that scope."
                : "the client is disabled or not allowed this grant: enable the client and allow it the client-credentials (or refresh-token) grant at the authorization server.",
            (_, "invalid_grant") when request.Settings.Grant == OAuthGrant.RefreshToken => "the refresh token is expired, revoked or was used on another node: sign in again.",
            (_, "invalid_grant") when request.Settings.Provider == OAuthProvider.Google => "Google refused to act as the mailbox: check that the user name is an existing Workspace user and the service account's key is current.",
            (_, "invalid_scope") => "the scope was refused: check the scope the client may ask for.",
            _ => "check the connection's OAuth settings at the authorization server.",
        };
        return new OAuthFailure(code, $"{server} gave SMTP connection {connection} no token ({said}): {what} Nothing was sent.",
            RefreshTokenRejected: error == "invalid_grant" && request.Settings.Grant == OAuthGrant.RefreshToken);
    }

    /// <summary>The token endpoint could not be reached or gave no answer it could read.</summary>
    public static OAuthFailure Unreachable(OAuthTokenRequest request, string reason)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new OAuthFailure(null, $"No token for SMTP connection {request.Connection.Qualified}: {Shorten(reason)}. It is tried again; nothing was sent.");
    }

    private static string Shorten(string text)
    {
        var line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 300 ? line : line[..300] + "…";
    }

    [GeneratedRegex(@"AADSTS\d{5,8}")]
    private static partial Regex AadstsCode();
}
