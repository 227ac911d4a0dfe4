using System.Net.Sockets;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

namespace Herald.IntegrationTests.Relay;

/// <summary>
/// A real <c>herald serve</c> with a relay listener on a free loopback port, set up through the
/// CLI as an operator would: its outgoing connection is the Postfix fixture's STARTTLS + AUTH
/// listener, so what the relay accepts ends in that fixture's mailboxes.
/// </summary>
internal sealed class RelayNode : IAsyncDisposable
{
    private HeraldServer? _server;

    public HeraldCommandLine Cli { get; } = new() { Environment = { ["HERALD_CREDENTIAL_KEY"] = "relay end-to-end passphrase" } };

    public int RelayPort { get; } = LoopbackPort.Free();

    /// <summary>The value of <c>--listen</c> for this node's relay listener.</summary>
    public string Listen => $"127.0.0.1:{RelayPort}";

    public HeraldServer Server => _server ?? throw new InvalidOperationException("herald serve was not started.");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary><c>herald smtp set</c>: scope / sends through the fixture's STARTTLS + AUTH listener.</summary>
    public async Task UseUpstreamAsync(PostfixFixture upstream) =>
        await MustWithInputAsync(upstream.SaslPassword + "\n",
            "smtp", "set", "--from", "herald@example.org", "--server", "127.0.0.1", "--port", $"{upstream.StartTlsAuthPort}", "--security", "starttls-required",
            "--trust-ca", upstream.Pki("ca.pem"), "--auth", "plain", "--username", upstream.SaslUser, "--password-stdin");

    /// <summary><c>herald smtp set</c>: scope / sends to an smtp-sink, unencrypted, anonymously.</summary>
    public Task UseSinkAsync(SmtpSink sink) =>
        MustAsync("smtp", "set", "--from", "herald@example.org", "--server", "127.0.0.1", "--port", $"{sink.Port}", "--security", "none");

    /// <summary>The node's spool files now (large transfers and messages being sent).</summary>
    public string[] SpoolFiles
    {
        get
        {
            var spool = Path.Combine(Cli.DataDirectory, Herald.Outbox.MessageSpool.DirectoryName);
            return Directory.Exists(spool) ? Directory.GetFiles(spool) : [];
        }
    }

    /// <summary>Runs a <c>herald</c> verb and fails the test unless it exits 0; returns what it printed.</summary>
    public Task<string> MustAsync(params string[] args) => MustWithInputAsync(null, args);

    public async Task<string> MustWithInputAsync(string? standardInput, params string[] args)
    {
        var result = await Cli.RunWithInputAsync(standardInput, args);
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Output;
    }

    /// <summary>Starts <c>herald serve</c> (again, after <see cref="HeraldServer.Kill"/>) and
    /// returns once the relay listener accepts connections.</summary>
    public async Task StartServeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _server = await HeraldServer.StartAsync(Cli.DataDirectory, Cli.Environment);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", RelayPort, Ct);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, Ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Cli.Dispose();
    }
}
