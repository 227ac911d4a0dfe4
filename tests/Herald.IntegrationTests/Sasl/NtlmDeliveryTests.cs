using Herald.Access;
using Herald.Delivery;
using Herald.IntegrationTests.Fixtures;
using Herald.IntegrationTests.OAuth;
using Herald.IntegrationTests.Storage;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.Sasl;

/// <summary>
/// NTLM against a real server on loopback: Dovecot's submission service offering NTLM (its
/// winbind mechanism, verified by Samba's ntlm_auth), relaying to smtp-sink. The connection is
/// saved through the settings use case and used the way the delivery worker does.
/// </summary>
public sealed class NtlmDeliveryTests : IAsyncLifetime
{
    private const string Password = "Ntlm-secret-1";
    private const string Mailbox = "mailer@example.org";

    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;
    private TestDatabase _database = null!;
    private ServiceProvider _node = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _sink = SmtpSink.Start();
        // GSSAPI is offered too, from a keytab nobody has keys for: NTLM is chosen because the connection allows only it.
        var keytab = Path.Combine(Path.GetTempPath(), $"herald-ntlm-{Guid.NewGuid():N}.keytab");
        await File.WriteAllBytesAsync(keytab, [5, 2], Ct);
        _dovecot = await DovecotSubmission.StartWindowsAuthenticationAsync(_sink.Port, keytab, Password);
        _database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        _node = OAuthNode.Build(_database, TimeProvider.System);
    }

    [Theory]
    [InlineData(@"CORP\mailer", "mailer@corp")]
    [InlineData("mailer@corp.example.com", "mailer@corp.example.com")]
    public async Task Ntlm_delivers_with_either_user_name_form(string userName, string loggedIn)
    {
        var connection = await SaveAsync(userName, Password);

        var result = await OAuthNode.SendAsync(_node, connection, Mailbox, $"NTLM as {userName}");

        Assert.True(result.FailedAt is null, result.Failure);
        var received = Assert.Single(_sink.Received());
        Assert.Equal($"NTLM as {userName}", received.ToMimeMessage().Subject);
        Assert.Equal(Mailbox, received.Sender);
        // The user and the domain travelled apart: Samba names the account domain\user, which Dovecot logs as user@domain.
        Assert.Contains($"Login: user=<{loggedIn}>, method=NTLM", _dovecot.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ntlm_with_a_wrong_password_defers_with_the_servers_reply_and_sends_nothing()
    {
        var connection = await SaveAsync(@"CORP\mailer", "not-the-password");

        var result = await OAuthNode.SendAsync(_node, connection, Mailbox, "Never sent");

        Assert.Equal(DeliveryStage.Authenticate, result.FailedAt);
        var recipient = Assert.Single(result.Recipients);
        Assert.Equal(RecipientOutcome.TransientFailure, recipient.Outcome);
        Assert.Contains("535 5.7.8 Authentication failed", recipient.Detail, StringComparison.Ordinal);
        Assert.Contains(@"'CORP\mailer'", recipient.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", recipient.Detail, StringComparison.Ordinal);
        Assert.True(SmtpConnectionPool.IsConfigurationFailure(result));
        Assert.Empty(_sink.Received());
    }

    private async Task<SmtpConnection> SaveAsync(string userName, string password)
    {
        var saved = await _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Root, "exchange", null, new ConnectionUpdate
        {
            Host = "127.0.0.1",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = AuthenticationChange.FromWords("NTLM", userName, password, out _),
        }), Ct);
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
        return saved.Value.Connection;
    }

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        await _database.DisposeAsync();
        _dovecot.Dispose();
        _sink.Dispose();
    }
}
