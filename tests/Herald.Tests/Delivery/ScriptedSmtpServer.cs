using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Herald.Tests.Delivery;

/// <summary>One step of a <see cref="ScriptedSmtpServer"/>'s script.</summary>
internal abstract record Step;

/// <summary>Sends <paramref name="Reply"/> at once (the greeting); lines separated by \n.</summary>
internal sealed record Say(string Reply) : Step;

/// <summary>Waits for a command starting with <paramref name="Verb"/> and answers it.</summary>
internal sealed record On(string Verb, string Reply) : Step;

/// <summary>Reads the message after 354 up to its final dot, then answers.</summary>
internal sealed record EndOfData(string Reply) : Step;

/// <summary>Waits for <paramref name="Verb"/> (null: the end of data; nothing: at once), sends
/// <paramref name="Partial"/> (part of a reply) and hangs up.</summary>
internal sealed record HangUp(string? Verb, string Partial = "", bool AfterData = false) : Step;

/// <summary>Waits for <paramref name="Verb"/> (or, with <paramref name="AfterData"/>, the end of
/// data) and never answers.</summary>
internal sealed record Silence(string? Verb, bool AfterData = false) : Step;

/// <summary>A TLS handshake as the server, with a self-signed certificate no system trusts.</summary>
internal sealed record StartTls : Step;

/// <summary>
/// A one-connection SMTP server on 127.0.0.1 that plays a script, as MailKit's own tests replay
/// recorded SMTP transcripts: each step answers the client's next command as written, or
/// misbehaves (never answers, hangs up in the middle of a reply, answers garbage, starts TLS with
/// a certificate nobody trusts). After the script, RSET and QUIT are answered as any server
/// would; a command the script did not expect is answered 502 and noted in <see cref="Problems"/>.
/// </summary>
internal sealed class ScriptedSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly IReadOnlyList<Step> _script;
    private readonly Task _run;

    private ScriptedSmtpServer(IReadOnlyList<Step> script)
    {
        _script = script;
        _listener.Start();
        _run = Task.Run(RunAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The command lines the client sent, in order (AUTH data lines included).</summary>
    public ConcurrentQueue<string> Commands { get; } = new();

    /// <summary>Each message the client sent after 354, as received (dot-stuffed, CRLF).</summary>
    public ConcurrentQueue<byte[]> Messages { get; } = new();

    /// <summary>Where the client departed from the script.</summary>
    public ConcurrentQueue<string> Problems { get; } = new();

    public static ScriptedSmtpServer Start(params Step[] script) => new(script);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _run;
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        TcpClient client;
        try
        {
            client = await _listener.AcceptTcpClientAsync(_stop.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or SocketException or ObjectDisposedException)
        {
            // Stopped before anyone connected.
            return;
        }

        using (client)
        {
            try
            {
                await PlayAsync(client.GetStream());
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or AuthenticationException)
            {
                // The client went away or the test ended.
            }
        }
    }

    private async Task PlayAsync(Stream stream)
    {
        var connection = new Connection(stream);
        foreach (var step in _script)
        {
            switch (step)
            {
                case Say say:
                    await connection.ReplyAsync(say.Reply, _stop.Token);
                    break;
                case On on:
                    await ExpectAsync(connection, on.Verb);
                    await connection.ReplyAsync(on.Reply, _stop.Token);
                    break;
                case EndOfData end:
                    Messages.Enqueue(await connection.ReadMessageAsync(_stop.Token));
                    await connection.ReplyAsync(end.Reply, _stop.Token);
                    break;
                case HangUp hangUp:
                    await WaitForAsync(connection, hangUp.Verb, hangUp.AfterData);
                    await connection.WriteAsync(hangUp.Partial, _stop.Token);
                    return;
                case Silence silence:
                    await WaitForAsync(connection, silence.Verb, silence.AfterData);
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                case StartTls:
                    var tls = new SslStream(stream);
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = Untrusted.Value }, _stop.Token);
                    connection = new Connection(stream = tls);
                    break;
            }
        }

        // Epilogue: what any server answers once the interesting part is over.
        while (await connection.ReadLineAsync(_stop.Token) is { } line)
        {
            Commands.Enqueue(line);
            var verb = line.Split(' ')[0].ToUpperInvariant();
            await connection.ReplyAsync(verb switch
            {
                "RSET" or "NOOP" => "250 2.0.0 Ok",
                "QUIT" => "221 2.0.0 Bye",
                _ => "502 5.5.2 Not in the script",
            }, _stop.Token);
            if (verb == "QUIT")
            {
                return;
            }

            if (verb is not ("RSET" or "NOOP"))
            {
                Problems.Enqueue($"unexpected after the script: {line}");
            }
        }
    }

    private async Task WaitForAsync(Connection connection, string? verb, bool afterData)
    {
        if (afterData)
        {
            Messages.Enqueue(await connection.ReadMessageAsync(_stop.Token));
        }
        else if (verb is not null)
        {
            await ExpectAsync(connection, verb);
        }
    }

    private async Task ExpectAsync(Connection connection, string verb)
    {
        var line = await connection.ReadLineAsync(_stop.Token) ?? throw new IOException("The client closed the connection.");
        Commands.Enqueue(line);
        if (!line.StartsWith(verb, StringComparison.OrdinalIgnoreCase))
        {
            Problems.Enqueue($"expected {verb}, got {line}");
        }
    }

    private static readonly Lazy<X509Certificate2> Untrusted = new(() =>
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=scripted.example", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    });

    /// <summary>Lines in, replies out, on the current stream (plain or TLS).</summary>
    private sealed class Connection(Stream stream)
    {
        private readonly byte[] _buffer = new byte[4096];
        private int _start;
        private int _end;

        public Task ReplyAsync(string reply, CancellationToken cancellationToken) =>
            WriteAsync(string.Concat(reply.Split('\n').Select(l => l + "\r\n")), cancellationToken);

        public async Task WriteAsync(string text, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(text), cancellationToken);
            await stream.FlushAsync(cancellationToken);
        }

        public async Task<string?> ReadLineAsync(CancellationToken cancellationToken) =>
            await ReadRawLineAsync(cancellationToken) is { } line ? Encoding.ASCII.GetString(line).TrimEnd('\r', '\n') : null;

        /// <summary>The message up to (not including) the line with the single dot.</summary>
        public async Task<byte[]> ReadMessageAsync(CancellationToken cancellationToken)
        {
            var message = new MemoryStream();
            while (await ReadRawLineAsync(cancellationToken) is { } line)
            {
                if (line is [(byte)'.', (byte)'\r', (byte)'\n'])
                {
                    return message.ToArray();
                }

                message.Write(line);
            }

            throw new IOException("The client closed the connection before the end of data.");
        }

        private async Task<byte[]?> ReadRawLineAsync(CancellationToken cancellationToken)
        {
            var line = new List<byte>();
            while (true)
            {
                if (_start == _end)
                {
                    (_start, _end) = (0, await stream.ReadAsync(_buffer, cancellationToken));
                    if (_end == 0)
                    {
                        return null;
                    }
                }

                var next = _buffer[_start++];
                line.Add(next);
                if (next == (byte)'\n')
                {
                    return [.. line];
                }
            }
        }
    }
}
