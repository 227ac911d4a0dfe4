using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace Herald.IntegrationTests.Relay;

/// <summary>A client that sends exactly the bytes a test gives it (pipelined, malformed, early)
/// and reads the server's replies as they come, for the negative tests no real client would run.</summary>
public sealed class RawSmtpClient : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(15);
    private readonly TcpClient _tcp;
    private Stream _stream;
    private readonly List<byte> _pending = [];

    private RawSmtpClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/>, from <paramref name="from"/> if given
    /// (another loopback address is another client address).</summary>
    public static async Task<RawSmtpClient> ConnectAsync(int port, IPAddress? from = null)
    {
        var tcp = from is null ? new TcpClient(AddressFamily.InterNetwork) : new TcpClient(new IPEndPoint(from, 0));
        tcp.NoDelay = true;
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        return new RawSmtpClient(tcp);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Sends the bytes in one write, so that they arrive together as one pipelined packet.</summary>
    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>One complete reply (all lines of a multiline reply), without the last CRLF; null
    /// when the server closed the connection first.</summary>
    public async Task<string?> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null)
            {
                return lines.Count == 0 ? null : string.Join("\n", lines);
            }

            lines.Add(line);
            if (line.Length < 4 || line[3] == ' ')
            {
                return string.Join("\n", lines);
            }
        }
    }

    /// <summary>Sends a command and reads its reply.</summary>
    public async Task<string?> CommandAsync(string command)
    {
        await SendAsync(command + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>Whether the server closed the connection (reads what is left, up to the end).</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        try
        {
            while (await ReadLineAsync() is not null)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public async Task StartTlsHandshakeAsync()
    {
        var tls = new SslStream(_stream, leaveInnerStreamOpen: false, (_, presented, _, _) => RelayHarness.IsRelayCertificate(presented));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "relay.herald.test",
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        });
        _pending.Clear();
        _stream = tls;
    }

    private async Task<string?> ReadLineAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        var buffer = new byte[1];
        while (true)
        {
            var lf = _pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var line = Encoding.UTF8.GetString(_pending.GetRange(0, lf).ToArray()).TrimEnd('\r');
                _pending.RemoveRange(0, lf + 1);
                return line;
            }

            var read = await _stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                return null;
            }

            _pending.Add(buffer[0]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
