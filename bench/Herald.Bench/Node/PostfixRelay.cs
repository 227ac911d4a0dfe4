using System.Globalization;
using Herald.Bench.Processes;

namespace Herald.Bench.Node;

/// <summary>
/// A private Postfix instance as the relay Herald is compared with, from the tests' own
/// <c>tests/fixtures/postfix/postfix-fixture.sh start DIR BASEPORT --relayhost 127.0.0.1:SINK</c>:
/// its own queue under DIR, its plain smtpd (anonymous from 127.0.0.0/8) on BASEPORT, everything
/// relayed to the sink with connection caching on, other settings Postfix's defaults. Needs root.
/// </summary>
internal sealed class PostfixRelay : IAsyncDisposable
{
    private readonly FixtureScript _fixture;

    private PostfixRelay(FixtureScript fixture)
    {
        _fixture = fixture;
        Port = fixture.Port("PORT_PLAIN");
    }

    /// <summary>The plain listener smtp-source sends to.</summary>
    public int Port { get; }

    public string MailLog => _fixture.Value("MAILLOG");

    public static string Script(string repositoryRoot) => Path.Combine(repositoryRoot, "tests", "fixtures", "postfix", "postfix-fixture.sh");

    public static async Task<PostfixRelay> StartAsync(string script, string directory, int sinkPort, CancellationToken cancellationToken)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("a private Postfix needs root (its master process starts as root); run the benchmark as root.");
        }

        var fixture = await FixtureScript.StartAsync(
            "Postfix", script, directory,
            [Ports.FreeRange(5).ToString(CultureInfo.InvariantCulture), "--relayhost", $"127.0.0.1:{sinkPort.ToString(CultureInfo.InvariantCulture)}"],
            cancellationToken);
        try
        {
            return new PostfixRelay(fixture);
        }
        catch
        {
            await fixture.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();
}
