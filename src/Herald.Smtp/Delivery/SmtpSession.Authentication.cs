using System.Net;
using Herald.Settings;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace Herald.Delivery;

/// <summary>
/// Authentication, with a password, an OAuth 2.0 token or a Kerberos ticket. Any refusal here defers the mail (it is
/// the connection's configuration, never the message's fault) with a sentence that says what to do.
/// A token the server refuses is forgotten and one fresh token is tried on the same connection:
/// a cached token may have been revoked, or outlived its grant, before its expiry time.
/// </summary>
internal sealed partial class SmtpSession
{
    private static async Task<SessionFailure?> AuthenticateAsync(
        SmtpClient client, OpenedConnection connection, AccessTokens? tokens, CancellationToken cancellationToken)
    {
        var settings = connection.Settings;
        if (settings.Authentication.Kerberos is not null)
        {
            return await KerberosAsync(client, settings, cancellationToken).ConfigureAwait(false);
        }

        if (settings.Authentication.OAuth is null)
        {
            // A refusal is classified with every other failure (SmtpErrorClassifier), with advice added.
            if (NtlmChosen(client, settings.Authentication) && NtlmAccount.TryParse(settings.Authentication.UserName, out var account, out _))
            {
                // NTLM sends the user and the domain apart; MailKit would send a UPN whole.
                var ntlm = new SaslMechanismNtlm(new NetworkCredential(account.User, connection.Password, account.Domain));
                await client.AuthenticateAsync(ntlm, cancellationToken).ConfigureAwait(false);
                return null;
            }

            await client.AuthenticateAsync(new NetworkCredential(settings.Authentication.UserName, connection.Password), cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (tokens is null)
        {
            // A client built without the node's token source (a protocol test) cannot use OAuth.
            return new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                $"SMTP connection {settings.Qualified} uses OAuth 2.0, and this sender has no token source; nothing was sent.", ConfigurationError: true);
        }

        var userName = settings.Authentication.UserName!;
        for (var attempt = 0; ; attempt++)
        {
            var (issued, failure) = await tokens.GetAsync(connection, cancellationToken).ConfigureAwait(false);
            if (issued?.AccessToken is not { } token)
            {
                return new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate, failure!.Sentence, ConfigurationError: true);
            }

            var mechanism = TokenMechanism(client, settings.Authentication, userName, token);
            if (mechanism is null)
            {
                return new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                    $"{settings.Host}:{settings.Port} offers neither XOAUTH2 nor OAUTHBEARER{(settings.Authentication.Mechanisms.Count > 0 ? " among the allowed mechanisms" : "")}, so SMTP connection {settings.Qualified} cannot present its OAuth 2.0 token; nothing was sent.",
                    ConfigurationError: true);
            }

            try
            {
                await client.AuthenticateAsync(mechanism, cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (Exception ex) when (ex is AuthenticationException or SmtpCommandException)
            {
                tokens.Invalidate(connection, token);
                if (attempt > 0 || !client.IsConnected)
                {
                    // The fresh token was refused too: classified like any refusal, with advice added.
                    throw;
                }
            }
        }
    }

    /// <summary>Whether the first allowed mechanism the server offers is NTLM.</summary>
    private static bool NtlmChosen(SmtpClient client, SmtpAuthentication authentication) =>
        authentication.Mechanisms.FirstOrDefault(m => client.AuthenticationMechanisms.Contains(m)) == "NTLM";

    /// <summary>GSSAPI with tickets from the connection's own credential cache. A server refusal
    /// (535) is classified like any other; no ticket for the service principal is a sentence that
    /// names it and says what to set, before anything is sent to the server.</summary>
    private static async Task<SessionFailure?> KerberosAsync(SmtpClient client, SmtpConnection settings, CancellationToken cancellationToken)
    {
        var kerberos = settings.Authentication.Kerberos!;
        var (cache, problem) = await KerberosTickets.CacheAsync(settings, cancellationToken).ConfigureAwait(false);
        if (cache is null)
        {
            return new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate, $"SMTP connection {settings.Qualified}: {problem}", ConfigurationError: true);
        }

        var servicePrincipal = kerberos.QualifiedServicePrincipal(settings.Host);
        if (await KerberosTickets.ServiceTicketAsync(cache, servicePrincipal, cancellationToken).ConfigureAwait(false) is { } why)
        {
            return new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                $"SMTP connection {settings.Qualified} got no Kerberos ticket for the service principal {servicePrincipal} ({why}) "
                + $"What to do: set the principal {settings.Host} is registered under (--service-principal: Exchange registers SMTPSVC/host, Dovecot and Postfix smtp/host), "
                + $"or register it in the realm (setspn -S SMTPSVC/{settings.Host} on the server's computer account); nothing was sent.",
                ConfigurationError: true);
        }

        // .NET imports the target as a host-based name (service@host, no realm): the library matches it by name against the ticket kvno put in the cache.
        var target = kerberos.EffectiveServicePrincipal(settings.Host).Split('@')[0];
        using var mechanism = new GssapiMechanism(cache, kerberos.ClientPrincipal(settings.Authentication.UserName!), target);
        try
        {
            await client.AuthenticateAsync(mechanism, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (SaslException ex) when (mechanism.ContextFailure is not null)
        {
            return new SessionFailure(RecipientOutcome.TransientFailure, DeliveryStage.Authenticate,
                $"SMTP connection {settings.Qualified} could not use its Kerberos ticket for {servicePrincipal}: {ex.Message} "
                + "What to do: check the node's clock (Kerberos allows five minutes of skew) and that the server's keytab holds the principal's current key; nothing was sent.",
                ConfigurationError: true);
        }
    }

    /// <summary>XOAUTH2 (what Exchange Online and Gmail name) before OAUTHBEARER (RFC 7628),
    /// or the allowed mechanisms in the order they were given.</summary>
    private static SaslMechanism? TokenMechanism(SmtpClient client, SmtpAuthentication authentication, string userName, string token)
    {
        IEnumerable<string> order = authentication.Mechanisms.Count > 0 ? authentication.Mechanisms : OAuthNames.Mechanisms;
        return order.FirstOrDefault(m => client.AuthenticationMechanisms.Contains(m)) switch
        {
            "XOAUTH2" => new SaslMechanismOAuth2(userName, token),
            "OAUTHBEARER" => new SaslMechanismOAuthBearer(userName, token),
            _ => null,
        };
    }
}

/// <summary>What an SMTP server's refusal of AUTH means for the administrator: the sentence the
/// error classifier adds after the server's reply, with what to do (empty when there is no advice).</summary>
internal static class AuthenticationReplies
{
    public static string Advice(SmtpConnection settings, string reply)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var user = settings.Authentication.UserName;
        var oauth = settings.Authentication.OAuth;
        var what = reply switch
        {
            _ when reply.Contains("5.7.139", StringComparison.Ordinal) =>
                $"SMTP AUTH is disabled for this mailbox or the whole tenant: an Exchange administrator enables it with Set-CASMailbox -Identity {user} -SmtpClientAuthenticationDisabled $false (and the tenant's security defaults must not block it).",
            _ when reply.Contains("5.7.30", StringComparison.Ordinal) || reply.Contains("Basic authentication is not supported", StringComparison.OrdinalIgnoreCase) =>
                "the server no longer accepts passwords (basic authentication): switch this connection to OAuth 2.0 (see 'Sending through Microsoft 365' in the README).",
            _ when oauth is { Provider: OAuthProvider.Microsoft } =>
                "Exchange Online refused the token: the app registration needs the SMTP.SendAsApp permission with admin consent, its service principal registered in Exchange (New-ServicePrincipal) and FullAccess on this mailbox (Add-MailboxPermission), or, for a signed-in mailbox, SMTP.Send.",
            _ when oauth is { Provider: OAuthProvider.Google } =>
                "Gmail refused the token: the user name must be the Workspace mailbox the service account acts as, with domain-wide delegation for https://mail.google.com/.",
            _ when oauth is not null =>
                "the server refused a fresh token too: check that the server accepts tokens of this client for this mailbox.",
            _ => null,
        };
        return what is null ? "" : $" What to do: {what}";
    }
}
