using System.Net;
using System.Text;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace Herald.IntegrationTests.Relay;

/// <summary>AUTH on a real <c>herald serve</c> relay listener, with MailKit as the client: a client
/// address that keeps failing is told 454 and nothing more is checked for it, while a client at
/// another address authenticates as usual.</summary>
public sealed class RelayAuthLimitTests : IAsyncDisposable
{
    private const string Password = "s3cret relay password";

    private static readonly IPAddress OtherClient = IPAddress.Parse("127.0.0.2");

    private readonly RelayNode _node = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_client_guessing_passwords_is_told_454_while_another_address_authenticates()
    {
        _node.Cli.Environment["HERALD_SignIn__FailuresPerAddress"] = "3";
        _node.Cli.Environment["HERALD_Relay__AuthFailureDelay"] = "00:00:00";
        await _node.MustAsync("relay", "set", "--listen", _node.Listen, "--allow", "127.0.0.0/8", "--auth", "required", "--auth-without-tls", "true");
        await _node.MustWithInputAsync(Password + "\n", "relay", "account", "add", "--scope", "/", "--user", "app");
        await _node.StartServeAsync();

        foreach (var user in new[] { "admin", "postmaster", "app" })
        {
            var (guess, _) = await ConnectAsync(IPAddress.Loopback);
            using (guess)
            {
                var failed = await Assert.ThrowsAsync<AuthenticationException>(() => guess.AuthenticateAsync(user, "password123", Ct));
                Assert.Contains("Authentication credentials invalid", failed.Message, StringComparison.Ordinal);
            }
        }

        // The right password, but from the address that kept guessing: not checked, try later.
        var (limited, limitedTranscript) = await ConnectAsync(IPAddress.Loopback);
        using (limited)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => limited.AuthenticateAsync("app", Password, Ct));
            Assert.False(limited.IsAuthenticated);
        }

        Assert.Contains("S: 454 4.7.0 Temporary authentication failure: too many failed authentications from your address; try again later.", Transcript(limitedTranscript), StringComparison.Ordinal);

        var (other, otherTranscript) = await ConnectAsync(OtherClient);
        using (other)
        {
            await other.AuthenticateAsync("app", Password, Ct);
            Assert.True(other.IsAuthenticated);
        }

        Assert.Contains("S: 235 2.7.0 Authentication successful", Transcript(otherTranscript), StringComparison.Ordinal);
    }

    public ValueTask DisposeAsync() => _node.DisposeAsync();

    /// <summary>A MailKit client connected from <paramref name="from"/> that authenticates with PLAIN
    /// only (so that each AUTH is one attempt), and the transcript it records.</summary>
    private async Task<(SmtpClient Client, MemoryStream Transcript)> ConnectAsync(IPAddress from)
    {
        var transcript = new MemoryStream();
        var client = new SmtpClient(new ProtocolLogger(transcript, leaveOpen: true) { RedactSecrets = true })
        {
            LocalEndPoint = new IPEndPoint(from, 0),
        };
        await client.ConnectAsync("127.0.0.1", _node.RelayPort, SecureSocketOptions.None, Ct);
        client.AuthenticationMechanisms.IntersectWith(["PLAIN"]);
        return (client, transcript);
    }

    private static string Transcript(MemoryStream transcript) => Encoding.UTF8.GetString(transcript.ToArray());
}
