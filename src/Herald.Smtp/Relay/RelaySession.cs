using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Herald.Outbox;
using Microsoft.Extensions.Logging;

namespace Herald.Relay;

/// <summary>The transaction MAIL started: its envelope so far.</summary>
internal sealed class RelayTransaction(string sender, long? declaredSize, bool eightBitMime, bool smtpUtf8)
{
    public string Sender { get; } = sender;
    public long? DeclaredSize { get; } = declaredSize;
    public bool EightBitMime { get; } = eightBitMime;
    public bool SmtpUtf8 { get; } = smtpUtf8;
    public List<string> Recipients { get; } = [];
}

/// <summary>
/// One client connection: reads command lines, moves through <see cref="SmtpStateMachine"/>,
/// lets each <see cref="SmtpCommand"/> do its part and enforces the session's limits. Every read
/// has a deadline, so a slow or silent client only ever holds its own session.
/// </summary>
internal sealed class RelaySession : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private readonly SslStreamCertificateContext _certificate;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SmtpReader _reader;
    private readonly CancellationToken _sessionToken;
    private Stream _stream;
    private SmtpState _state = SmtpState.Connected;
    private int _commands;
    private int _errors;
    private int _authFailures;

    public RelaySession(Socket socket, RelayClient client, IRelayGate gate, RelayOptions options, MessageSpool spool, string hostName,
        SslStreamCertificateContext certificate, ILogger logger, TimeProvider time, CancellationToken sessionToken)
    {
        _socket = socket;
        _network = new NetworkStream(socket, ownsSocket: false);
        _stream = _network;
        _reader = new SmtpReader(_network);
        _certificate = certificate;
        _logger = logger;
        _time = time;
        _sessionToken = sessionToken;
        Client = client;
        Gate = gate;
        Options = options;
        Spool = spool;
        HostName = hostName;
    }

    public RelayClient Client { get; }

    public IRelayGate Gate { get; }

    public RelayOptions Options { get; }

    /// <summary>Where DATA above <see cref="RelayOptions.SpoolThresholdBytes"/> goes.</summary>
    public MessageSpool Spool { get; }

    public string HostName { get; }

    public string? HeloName { get; set; }

    public bool IsTls { get; private set; }

    public string? AuthenticatedAs { get; set; }

    public RelayAuthRules Rules { get; private set; } = new(false, false);

    /// <summary>AUTH is offered under TLS, or without it where the listener allows that.</summary>
    public bool AuthOffered => IsTls || Rules.AllowedWithoutTls;

    public RelayTransaction? Transaction { get; private set; }

    public RelaySessionInfo Info => new(Client, HeloName, IsTls, AuthenticatedAs);

    public async Task RunAsync()
    {
        try
        {
            if (await GreetAsync().ConfigureAwait(false))
            {
                await CommandLoopAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_sessionToken.IsCancellationRequested)
        {
            await LastWordAsync(SmtpReplies.ShuttingDown).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            RelayLog.Disconnected(_logger, Client.Address, "timed out");
            await LastWordAsync(SmtpReplies.Timeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            RelayLog.ConnectionLost(_logger, Client.Address, ex.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        await _network.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<bool> GreetAsync()
    {
        using (var deadline = StartTimeout(Options.CommandTimeout))
        {
            if (await Gate.AdmitAsync(Client, deadline.Token).ConfigureAwait(false) is { } refusal)
            {
                RelayLog.ClientRefused(_logger, Client.Address, refusal);
                await ReplyAsync(refusal, deadline.Token).ConfigureAwait(false);
                return false;
            }

            Rules = await Gate.AuthRulesAsync(Client, deadline.Token).ConfigureAwait(false);
        }

        if (Options.GreetingDelay > TimeSpan.Zero)
        {
            await Task.Delay(Options.GreetingDelay, _time, _sessionToken).ConfigureAwait(false);
        }

        using var greeting = StartTimeout(Options.CommandTimeout);
        if (ClientSentMore())
        {
            RelayLog.Disconnected(_logger, Client.Address, "talked before the greeting");
            await ReplyAsync(SmtpReplies.TalkedFirst, greeting.Token).ConfigureAwait(false);
            return false;
        }

        await ReplyAsync(new SmtpReply(220, null, $"{HostName} ESMTP Herald"), greeting.Token).ConfigureAwait(false);
        return true;
    }

    private async Task CommandLoopAsync()
    {
        var maxLine = Math.Max(Options.MaxCommandLineLength, SmtpCommandParser.MaxAuthLineLength);
        while (true)
        {
            SmtpLine? read;
            using (var deadline = StartTimeout(Options.CommandTimeout))
            {
                read = await _reader.ReadLineAsync(maxLine, deadline.Token).ConfigureAwait(false);
            }

            if (read is not { } line)
            {
                return;
            }

            using var timeout = StartTimeout(Options.CommandTimeout);
            if (++_commands > Options.MaxCommandsPerSession)
            {
                RelayLog.Disconnected(_logger, Client.Address, "too many commands");
                await ReplyAsync(SmtpReplies.TooManyCommands, timeout.Token).ConfigureAwait(false);
                return;
            }

            var parsed = line.TooLong ? SmtpReplies.CommandLineTooLong
                : !line.EndsWithCrlf || line.HasBareCr ? SmtpReplies.CommandNotCrlf
                : SmtpCommandParser.Parse(line.Content.Span, Options.MaxCommandLineLength);
            var outcome = await ExecuteAsync(parsed, timeout.Token).ConfigureAwait(false);
            if (outcome == CommandOutcome.Close)
            {
                return;
            }

            if (_errors >= Options.MaxErrorsPerSession)
            {
                RelayLog.Disconnected(_logger, Client.Address, "too many errors");
                await ReplyAsync(SmtpReplies.TooManyErrors, timeout.Token).ConfigureAwait(false);
                return;
            }
        }
    }

    private async ValueTask<CommandOutcome> ExecuteAsync(ParsedCommand parsed, CancellationToken cancellationToken)
    {
        if (parsed.Command is not { } command)
        {
            await ReplyAsync(parsed.Error!, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        if (SmtpStateMachine.Next(_state, command.Verb) is not { } next)
        {
            await ReplyAsync(SmtpStateMachine.SequenceError(command.Verb), cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        if (SmtpStateMachine.PipelinedAfter(command.Verb) == PipelinedInput.Refused && ClientSentMore())
        {
            // RFC 2920 §3.1: this command must end a group; whatever follows it was sent blind.
            RelayLog.Disconnected(_logger, Client.Address, $"pipelined input after {command.Verb}");
            await ReplyAsync(SmtpReplies.ImproperPipelining, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Close;
        }

        CommandOutcome outcome;
        try
        {
            outcome = await command.ExecuteAsync(this, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or IOException or SocketException or AuthenticationException or ObjectDisposedException))
        {
            // The gate failed (storage down, a bug): the client is told to come back, never "250".
            RelayLog.CommandFailed(_logger, ex, Client.Address, command.Verb);
            ResetTransaction();
            _state = _state == SmtpState.Connected ? _state : SmtpState.Greeted;
            await ReplyAsync(SmtpReplies.LocalError, cancellationToken).ConfigureAwait(false);
            return CommandOutcome.Refused;
        }

        if (outcome == CommandOutcome.Completed)
        {
            _state = next;
        }

        return outcome;
    }

    /// <summary>Input waiting that the server has not asked for yet: in its buffer or the socket's.</summary>
    private bool ClientSentMore() => _reader.HasBufferedData || _socket.Available > 0;

    public async ValueTask ReplyAsync(SmtpReply reply, CancellationToken cancellationToken)
    {
        if (reply.Code >= 400)
        {
            _errors++;
        }

        await _stream.WriteAsync(Format(reply), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A reply as it goes on the wire; a text with several lines is a multiline reply
    /// (RFC 5321 §4.2.1), each line with the code and the enhanced code.</summary>
    internal static byte[] Format(SmtpReply reply)
    {
        var lines = reply.Text.Split('\n');
        var text = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            text.Append(reply.Code).Append(i == lines.Length - 1 ? ' ' : '-');
            if (reply.EnhancedCode is not null)
            {
                text.Append(reply.EnhancedCode).Append(' ');
            }

            text.Append(lines[i]).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>A last reply before the connection closes, if the client still listens.</summary>
    private async ValueTask LastWordAsync(SmtpReply reply)
    {
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
            await _stream.WriteAsync(Format(reply), deadline.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            // Gone already, or the TLS stream is unusable after a cancelled read: nothing to tell.
        }
    }

    public SmtpReply EhloReply()
    {
        List<string> lines =
        [
            $"{HostName} greets {HeloName}",
            "PIPELINING",
            $"SIZE {Options.MaxMessageBytes}",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
        ];
        if (!IsTls)
        {
            lines.Add("STARTTLS");
        }

        if (AuthOffered)
        {
            lines.Add("AUTH PLAIN LOGIN");
        }

        return new SmtpReply(250, null, string.Join('\n', lines));
    }

    public void BeginTransaction(MailCommand mail) => Transaction = new RelayTransaction(mail.Sender, mail.Size, mail.EightBitMime, mail.SmtpUtf8);

    public void ResetTransaction() => Transaction = null;

    /// <summary>Sends a 334 challenge and reads the client's answer; null when the connection closed.</summary>
    public async ValueTask<string?> ChallengeAsync(string challenge, CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(Encoding.ASCII.GetBytes($"334 {challenge}\r\n"), cancellationToken).ConfigureAwait(false);
        if (await _reader.ReadLineAsync(SmtpCommandParser.MaxAuthLineLength, cancellationToken).ConfigureAwait(false) is not { } line)
        {
            return null;
        }

        // Not base64 at all: a line too long or not ended by CR LF is answered as undecodable.
        return line.IsStrict ? Encoding.ASCII.GetString(line.Content.Span) : "!";
    }

    /// <summary>Counts a failed AUTH and answers it after a delay that grows with each failure;
    /// false when the session has had too many and was closed.</summary>
    public async ValueTask<bool> AuthFailedAsync(string userName, CancellationToken cancellationToken)
    {
        _authFailures++;
        RelayLog.AuthenticationFailed(_logger, Client.Address, LogText.Untrusted(userName), _authFailures);
        await Task.Delay(Options.AuthFailureDelay * _authFailures, _time, cancellationToken).ConfigureAwait(false);
        if (_authFailures >= Options.MaxAuthFailures)
        {
            RelayLog.Disconnected(_logger, Client.Address, "too many failed authentications");
            await ReplyAsync(SmtpReplies.TooManyAuthFailures, cancellationToken).ConfigureAwait(false);
            return false;
        }

        await ReplyAsync(SmtpReplies.AuthFailed, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>TLS handshake after "220 Ready to start TLS"; false when it failed.</summary>
    public async ValueTask<bool> StartTlsAsync(CancellationToken cancellationToken)
    {
        if (_reader.HasBufferedData)
        {
            // CVE-2011-0411: what the client sent in plain text after STARTTLS never becomes a command.
            RelayLog.DiscardedBeforeTls(_logger, Client.Address);
            _reader.DiscardBuffered();
        }

        var tls = new SslStream(_network, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _certificate,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            RelayLog.TlsFailed(_logger, Client.Address, ex.Message);
            await tls.DisposeAsync().ConfigureAwait(false);
            return false;
        }

        _stream = tls;
        _reader.Stream = tls;
        IsTls = true;
        // RFC 3207 §4.2: everything learnt in plain text is forgotten; the client starts with EHLO.
        HeloName = null;
        AuthenticatedAs = null;
        ResetTransaction();
        return true;
    }

    /// <summary>Reads the message after 354 within the data timeout.</summary>
    public async ValueTask<DataOutcome> ReadDataAsync(DataSink message)
    {
        using var deadline = StartTimeout(Options.DataTimeout);
        return await SmtpDataReader.ReadAsync(_reader, message, Options.MaxMessageBytes, Options.MaxTextLineLength, deadline.Token).ConfigureAwait(false);
    }

    public void MessageRefused(SmtpReply reply) => RelayLog.MessageRefused(_logger, Client.Address, reply);

    public void MessageAnswered(RelayEnvelope envelope, long size, SmtpReply reply)
    {
        if (_logger.IsEnabled(LogLevel.Information))
        {
            var sender = LogText.Untrusted(envelope.Sender);
            RelayLog.MessageAnswered(_logger, Client.Address, sender, envelope.Recipients.Count, size, reply);
        }
    }

    /// <summary>A deadline for one step, linked to the session's end (server shutdown).</summary>
    public Deadline StartTimeout(TimeSpan timeout) => new(timeout, _time, _sessionToken);

    internal sealed class Deadline : IDisposable
    {
        private readonly CancellationTokenSource _timer;
        private readonly CancellationTokenSource _linked;

        public Deadline(TimeSpan timeout, TimeProvider time, CancellationToken session)
        {
            _timer = new CancellationTokenSource(timeout, time);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(session, _timer.Token);
        }

        public CancellationToken Token => _linked.Token;

        public void Dispose()
        {
            _linked.Dispose();
            _timer.Dispose();
        }
    }
}
