using System.Net;
using System.Security.Cryptography.X509Certificates;
using Herald.Relay;
using Herald.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.IntegrationTests.Relay;

/// <summary>A <see cref="RelayServer"/> in process on 127.0.0.1, a free port, with a
/// <see cref="RecordingGate"/>.</summary>
public sealed class RelayHarness : IAsyncDisposable
{
    private static readonly Lazy<X509Certificate2> SharedCertificate = new(() =>
        RelayCertificate.LoadOrCreate(null, null, Directory.CreateTempSubdirectory("herald-relay-cert-").FullName));

    private RelayHarness(RelayServer server, RecordingGate gate, RelayOptions options, TemporarySpool spool)
    {
        Server = server;
        Gate = gate;
        Options = options;
        Spool = spool;
    }

    public RelayServer Server { get; }

    public RecordingGate Gate { get; }

    public RelayOptions Options { get; }

    /// <summary>The server's spool, in a directory of its own.</summary>
    internal TemporarySpool Spool { get; }

    public int Port => Server.LocalEndPoint.Port;

    public static X509Certificate2 Certificate => SharedCertificate.Value;

    /// <summary>Trusts exactly the relay's certificate (it is self-signed).</summary>
    public static bool IsRelayCertificate(X509Certificate? presented) =>
        presented is not null && presented.GetCertHashString() == Certificate.GetCertHashString();

    /// <summary>Options for tests: a short greeting delay (the early-talker check still has a window)
    /// and short AUTH throttling; everything else as configured by default.</summary>
    public static RelayOptions TestOptions() => new()
    {
        HostName = "relay.herald.test",
        GreetingDelay = TimeSpan.FromMilliseconds(100),
        AuthFailureDelay = TimeSpan.FromMilliseconds(10),
    };

    public static async Task<RelayHarness> StartAsync(RelayOptions? options = null, RecordingGate? gate = null, TimeProvider? time = null, ILogger<RelayServer>? logger = null)
    {
        options ??= TestOptions();
        gate ??= new RecordingGate();
        var spool = new TemporarySpool();
        var server = new RelayServer(new IPEndPoint(IPAddress.Loopback, 0), gate, options, spool.Spool, Certificate, logger ?? NullLogger<RelayServer>.Instance, time ?? TimeProvider.System);
        await server.StartAsync(CancellationToken.None);
        return new RelayHarness(server, gate, options, spool);
    }

    public Task<RawSmtpClient> ConnectRawAsync(IPAddress? from = null) => RawSmtpClient.ConnectAsync(Port, from);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Spool.Dispose();
    }
}
