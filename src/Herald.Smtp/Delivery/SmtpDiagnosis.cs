using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Herald.Operations;
using Herald.Settings;
using MailKit;
using MailKit.Net.Smtp;

namespace Herald.Delivery;

/// <summary>
/// <c>herald doctor</c>'s look at one SMTP connection, one step at a time so that a failure names
/// its step: the host name resolves, the port accepts TCP, TLS comes up as the connection's
/// security says with a certificate its trust setting accepts, EHLO answers, and the server offers
/// an allowed mechanism and accepts the stored credentials. It authenticates, then says QUIT:
/// no MAIL FROM, nothing is sent.
/// </summary>
public sealed class SmtpDiagnosis(AccessTokens tokens, TimeProvider time) : IConnectionDiagnosis
{
    /// <summary>A certificate that ends sooner than this is worth a warning.</summary>
    public static readonly TimeSpan ExpiryWarning = TimeSpan.FromDays(14);

    public async Task<IReadOnlyList<NodeCheck>> DiagnoseAsync(OpenedConnection connection, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var settings = connection.Settings;
        var name = $"smtp {settings.Qualified}";
        var server = $"{settings.Host}:{settings.Port}";
        var checks = new List<NodeCheck>();

        IPAddress[] addresses;
        if (IPAddress.TryParse(settings.Host, out var literal))
        {
            addresses = [literal];
            checks.Add(NodeCheck.Ok($"{name} dns", $"{settings.Host} is an address; nothing to resolve."));
        }
        else
        {
            try
            {
                addresses = await NodeChecks.WithinAsync(timeout, token => Dns.GetHostAddressesAsync(settings.Host, token), cancellationToken).ConfigureAwait(false);
                checks.Add(NodeCheck.Ok($"{name} dns", $"{settings.Host} resolves to {string.Join(", ", addresses.Take(4).Select(a => a.ToString()))}."));
            }
            catch (Exception ex) when (NodeChecks.IsOwnFailure(ex, cancellationToken))
            {
                checks.Add(NodeCheck.Fail($"{name} dns", $"{settings.Host} does not resolve: {NodeChecks.Reason(ex, timeout)} Check the name, and this machine's DNS (/etc/resolv.conf)."));
                return checks;
            }
        }

        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await NodeChecks.WithinAsync(timeout, async token =>
            {
                await socket.ConnectAsync(addresses, settings.Port, token).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
            checks.Add(NodeCheck.Ok($"{name} connect", $"{server} accepts TCP connections (from {socket.RemoteEndPoint})."));
        }
        catch (Exception ex) when (NodeChecks.IsOwnFailure(ex, cancellationToken))
        {
            var why = ex is SocketException { SocketErrorCode: SocketError.ConnectionRefused }
                ? "the connection was refused (nothing listens on that port)"
                : NodeChecks.Reason(ex, timeout).TrimEnd('.');
            checks.Add(NodeCheck.Fail($"{name} connect", $"Cannot connect to {server}: {why}. Check the host and port, and that a firewall lets this node through."));
            return checks;
        }

        await SessionAsync(connection, name, server, timeout, checks, cancellationToken).ConfigureAwait(false);
        return checks;
    }

    private async Task SessionAsync(OpenedConnection connection, string name, string server, TimeSpan timeout, List<NodeCheck> checks, CancellationToken cancellationToken)
    {
        var settings = connection.Settings;
        // The connection's own deadlines, but none longer than the doctor's: a server that stops
        // answering half-way fails the step it stopped at. The copy shares the opened secrets.
        var bounded = OpenedConnection.FromPlaintext(
            settings with { ConnectTimeout = Shorter(settings.ConnectTimeout, timeout), CommandTimeout = Shorter(settings.CommandTimeout, timeout) },
            connection.Password, connection.ClientCertificate, connection.OAuth);
        var observer = new SessionObserver();
        SmtpSession? session;
        SessionFailure? failure;
        try
        {
            // Connect, TLS, EHLO and authentication each have the deadline above; this bounds them all.
            (session, failure) = await NodeChecks.WithinAsync(timeout * 4, token =>
                SmtpSession.OpenAsync(bounded, tokens, new NullProtocolLogger(), EhloName.For(settings, null), token, observer), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            (session, failure) = (null, new SessionFailure(RecipientOutcome.TransientFailure, observer.HasConnected ? DeliveryStage.Authenticate : DeliveryStage.Connect,
                $"{server} did not finish within {NodeChecks.Seconds(timeout * 4)}."));
        }

        checks.AddRange(Tls(settings, name, observer, failure));
        if (Certificate(observer, name) is { } certificate)
        {
            checks.Add(certificate);
        }

        if (!observer.HasConnected)
        {
            if (failure is { Stage: not DeliveryStage.Tls })
            {
                checks.Add(NodeCheck.Fail($"{name} ehlo", failure.Message));
            }

            return;
        }

        checks.Add(NodeCheck.Ok($"{name} ehlo", $"{server} answered EHLO {EhloName.For(settings, null)}: {Capabilities(observer)}."));
        checks.Add(Authentication(settings, name, observer, failure));
        if (session is not null)
        {
            // QUIT after authenticating: no transaction was begun, nothing was sent.
            await session.CloseAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static IEnumerable<NodeCheck> Tls(SmtpConnection settings, string name, SessionObserver observer, SessionFailure? failure)
    {
        var check = $"{name} tls";
        if (failure is { Stage: DeliveryStage.Tls })
        {
            yield return NodeCheck.Fail(check, failure.Message);
        }
        else if (observer.Secure)
        {
            yield return NodeCheck.Ok(check, $"{observer.Tls}, {(settings.Security == SmtpSecurity.ImplicitTls ? "implicit TLS from the first byte" : "after STARTTLS")}.");
        }
        else if (!observer.HasConnected)
        {
            yield break;
        }
        else if (settings.Security == SmtpSecurity.None)
        {
            yield return IsLoopback(settings.Host)
                ? NodeCheck.Ok(check, "No TLS (security none), to a server on this machine.")
                : NodeCheck.Warn(check, "No TLS (security none): mail and any password cross the network unencrypted. Use starttls-required or implicit TLS.");
        }
        else
        {
            yield return NodeCheck.Warn(check, "The server offered no STARTTLS, so mail goes unencrypted (starttls-when-available). Use starttls-required once the server offers it.");
        }
    }

    private NodeCheck? Certificate(SessionObserver observer, string name)
    {
        if (observer.Trust?.Seen is not { } seen)
        {
            return null;
        }

        var check = $"{name} certificate";
        var now = time.GetUtcNow();
        var about = $"{seen.Subject}, issued by {seen.Issuer}, valid {Day(seen.NotBefore)} to {Day(seen.NotAfter)}";
        if (seen.NotAfter < now)
        {
            return NodeCheck.Fail(check, $"The server's certificate expired on {Day(seen.NotAfter)} ({about}): the server's administrator must renew it.");
        }

        if (seen.NotBefore > now)
        {
            return NodeCheck.Fail(check, $"The server's certificate is not valid before {Day(seen.NotBefore)} ({about}): check this machine's clock, or the certificate.");
        }

        if (observer.Trust.Rejection is { } rejection)
        {
            return NodeCheck.Fail(check, $"The certificate is not accepted: {rejection}.");
        }

        var left = seen.NotAfter - now;
        return left < ExpiryWarning
            ? NodeCheck.Warn(check, $"The certificate expires in {left.TotalDays:0} day(s) ({about}): have it renewed.")
            : NodeCheck.Ok(check, $"{about}; accepted by the connection's trust setting.");
    }

    private static NodeCheck Authentication(SmtpConnection settings, string name, SessionObserver observer, SessionFailure? failure)
    {
        var check = $"{name} auth";
        var offered = observer.Mechanisms.Count == 0 ? "no AUTH mechanism" : $"AUTH {string.Join(" ", observer.Mechanisms)}";
        var allowed = settings.Authentication.Mechanisms.Count == 0 ? "any" : string.Join(" ", settings.Authentication.Mechanisms);
        if (settings.Authentication.IsAnonymous)
        {
            return failure is null
                ? NodeCheck.Ok(check, $"Anonymous (no user name configured); the server offers {offered}.")
                : NodeCheck.Fail(check, failure.Message);
        }

        if (failure is not null)
        {
            return NodeCheck.Fail(check, $"Authentication failed: {failure.Message} (The server offers {offered}; allowed: {allowed}.)");
        }

        return NodeCheck.Ok(check, $"Authenticated as '{settings.Authentication.UserName}'; the server offers {offered}; allowed: {allowed}. Nothing was sent.");
    }

    private static string Capabilities(SessionObserver observer)
    {
        var names = Enum.GetValues<SmtpCapabilities>()
            .Where(c => c != SmtpCapabilities.None && observer.Capabilities.HasFlag(c))
            .Select(c => c.ToString().ToUpperInvariant())
            .ToArray();
        return names.Length == 0 ? "no extensions" : string.Join(", ", names);
    }

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    private static TimeSpan Shorter(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string Day(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
