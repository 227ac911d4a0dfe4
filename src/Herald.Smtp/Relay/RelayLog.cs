using System.Net;
using Microsoft.Extensions.Logging;

namespace Herald.Relay;

/// <summary>The relay listener's log lines. AUTH secrets never reach them: only the user name.
/// What a client typed (user names, EHLO names, addresses) goes through <see cref="LogText.Untrusted"/>.</summary>
internal static partial class RelayLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Relay listener on {Endpoint} started")]
    public static partial void Started(ILogger logger, IPEndPoint endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay client {Address} refused: {Reason}")]
    public static partial void ClientRefused(ILogger logger, IPAddress address, SmtpReply reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay client {Address} disconnected: {Reason}")]
    public static partial void Disconnected(ILogger logger, IPAddress address, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Relay client {Address}: connection lost ({Reason})")]
    public static partial void ConnectionLost(ILogger logger, IPAddress address, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay client {Address}: authentication as {UserName} failed ({Failures} in this session)")]
    public static partial void AuthenticationFailed(ILogger logger, IPAddress address, string userName, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay client {Address}: input pipelined after STARTTLS discarded (CVE-2011-0411)")]
    public static partial void DiscardedBeforeTls(ILogger logger, IPAddress address);

    [LoggerMessage(Level = LogLevel.Information, Message = "Relay client {Address}: TLS handshake failed: {Reason}")]
    public static partial void TlsFailed(ILogger logger, IPAddress address, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Relay client {Address}: message refused: {Reply}")]
    public static partial void MessageRefused(ILogger logger, IPAddress address, SmtpReply reply);

    [LoggerMessage(Level = LogLevel.Information, Message = "Relay client {Address}: message from <{Sender}> to {Recipients} recipient(s), {Size} bytes: {Reply}")]
    public static partial void MessageAnswered(ILogger logger, IPAddress address, string sender, int recipients, long size, SmtpReply reply);

    [LoggerMessage(Level = LogLevel.Error, Message = "Relay client {Address}: {Verb} failed unexpectedly; the client was told to try again")]
    public static partial void CommandFailed(ILogger logger, Exception exception, IPAddress address, SmtpVerb verb);

    [LoggerMessage(Level = LogLevel.Error, Message = "Relay client {Address}: session failed unexpectedly")]
    public static partial void SessionFailed(ILogger logger, Exception exception, IPAddress address);

    [LoggerMessage(Level = LogLevel.Error, Message = "Relay listener on {Endpoint}: accepting a connection failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception, IPEndPoint endpoint);
}
