using System.Text;

namespace Herald.Relay;

/// <summary>AUTH PLAIN [initial-response] or AUTH LOGIN (RFC 4954, RFC 4616), checked by the gate.
/// Offered only under TLS unless the listener allows it without; failures are throttled in the
/// session, and per client address by the gate (454 4.7.0 once an address has failed too often).</summary>
internal sealed record AuthCommand(string Mechanism, string? InitialResponse) : SmtpCommand
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public override SmtpVerb Verb => SmtpVerb.Auth;

    // The initial response is a secret: it never appears in ToString, and so never in a log.
    public override string ToString() => $"AUTH {Mechanism}";

    public static ParsedCommand Parse(string arguments)
    {
        var parts = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length is 1 or 2 ? new AuthCommand(parts[0].ToUpperInvariant(), parts.Length == 2 ? parts[1] : null) : SmtpReplies.SyntaxError;
    }

    public override async ValueTask<CommandOutcome> ExecuteAsync(RelaySession session, CancellationToken cancellationToken)
    {
        var refusal = !session.AuthOffered ? SmtpReplies.AuthNeedsTls
            : session.AuthenticatedAs is not null ? SmtpReplies.AlreadyAuthenticated
            : Mechanism is not ("PLAIN" or "LOGIN") ? SmtpReplies.AuthUnknownMechanism
            : null;
        if (refusal is not null)
        {
            await session.ReplyAsync(refusal, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        var credentials = Mechanism == "PLAIN"
            ? await PlainAsync(session, cancellationToken).ConfigureAwait(false)
            : await LoginAsync(session, cancellationToken).ConfigureAwait(false);
        if (credentials.Error is { } error)
        {
            if (credentials.Closed)
            {
                return CommandOutcome.Close;
            }

            await session.ReplyAsync(error, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        // The gate checks the password off this (socket) thread, within the node's bound on hashes at once.
        var authentication = await session.Gate.AuthenticateAsync(session.Info, credentials.User!, credentials.Password!, cancellationToken).ConfigureAwait(false);
        if (authentication.TryLater is { } later)
        {
            await session.ReplyAsync(later, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        if (authentication.Account is not { } account)
        {
            return await session.AuthFailedAsync(credentials.User!, cancellationToken).ConfigureAwait(false) ? CommandOutcome.Refused : CommandOutcome.Close;
        }

        session.AuthenticatedAs = account;
        await session.ReplyAsync(SmtpReplies.AuthSucceeded, cancellationToken).ConfigureAwait(false);
        return CommandOutcome.Completed;
    }

    private async ValueTask<Credentials> PlainAsync(RelaySession session, CancellationToken cancellationToken)
    {
        var response = InitialResponse ?? await session.ChallengeAsync("", cancellationToken).ConfigureAwait(false);
        var decoded = response is null ? null : Decode(response == "=" ? "" : response);
        if (decoded is null)
        {
            return Failed(response);
        }

        // authzid NUL authcid NUL passwd (RFC 4616 §2); acting for another identity is not supported.
        var parts = decoded.Split('\0');
        return parts.Length == 3 && parts[1].Length > 0 && (parts[0].Length == 0 || parts[0] == parts[1])
            ? new Credentials(parts[1], parts[2], null, false)
            : new Credentials(null, null, SmtpReplies.AuthFailed, false);
    }

    private async ValueTask<Credentials> LoginAsync(RelaySession session, CancellationToken cancellationToken)
    {
        var user = InitialResponse ?? await session.ChallengeAsync("VXNlcm5hbWU6", cancellationToken).ConfigureAwait(false);
        var userName = user is null ? null : Decode(user);
        if (userName is null)
        {
            return Failed(user);
        }

        var password = await session.ChallengeAsync("UGFzc3dvcmQ6", cancellationToken).ConfigureAwait(false);
        var secret = password is null ? null : Decode(password);
        return secret is null ? Failed(password) : new Credentials(userName, secret, null, false);
    }

    /// <summary>No response (the connection closed: null), "*" (cancelled) or bad base64.</summary>
    private static Credentials Failed(string? response) =>
        response is null ? new Credentials(null, null, SmtpReplies.AuthCancelled, true)
        : response == "*" ? new Credentials(null, null, SmtpReplies.AuthCancelled, false)
        : new Credentials(null, null, SmtpReplies.AuthBadBase64, false);

    private static string? Decode(string base64)
    {
        try
        {
            return StrictUtf8.GetString(Convert.FromBase64String(base64));
        }
        catch (FormatException)
        {
            return null;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private sealed record Credentials(string? User, string? Password, SmtpReply? Error, bool Closed)
    {
        public override string ToString() => $"Credentials {{ User = {User} }}";
    }
}
