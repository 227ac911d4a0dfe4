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
/// Kerberos against real servers on loopback: an MIT KDC for the realm HERALD.TEST, Dovecot's
/// submission service with GSSAPI and the service keytab of smtp/localhost, relaying to smtp-sink,
/// and Herald with a client keytab for its service account. The test process takes the realm's
/// krb5.conf as its own, as a node takes /etc/krb5.conf.
/// </summary>
public sealed class KerberosDeliveryTests : IAsyncLifetime
{
    private const string Account = "svc-herald";
    private const string Mailbox = "mailer@example.org";

    private KerberosKdc _kdc = null!;
    private SmtpSink _sink = null!;
    private DovecotSubmission _dovecot = null!;
    private TestDatabase _database = null!;
    private ServiceProvider _node = null!;
    private string _clientKeytab = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _kdc = await KerberosKdc.StartAsync();
        _kdc.UseAsProcessDefault();
        var serviceKeytab = await _kdc.AddPrincipalWithKeytabAsync("smtp/localhost", Path.Combine(_kdc.Directory, "dovecot.keytab"));
        _clientKeytab = await _kdc.AddPrincipalWithKeytabAsync(Account, Path.Combine(_kdc.Directory, "herald.keytab"));
        _sink = SmtpSink.Start();
        _dovecot = await DovecotSubmission.StartWindowsAuthenticationAsync(_sink.Port, serviceKeytab, "unused-ntlm-password");
        _database = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        _node = OAuthNode.Build(_database, TimeProvider.System);
    }

    [Fact]
    public async Task Gssapi_with_a_client_keytab_delivers()
    {
        var connection = await SaveAsync(new KerberosChange { Keytab = _clientKeytab, Realm = KerberosKdc.Realm, ServicePrincipal = "smtp/localhost" });

        var result = await OAuthNode.SendAsync(_node, connection, Mailbox, "Sent with a Kerberos ticket");

        Assert.True(result.FailedAt is null, result.Failure);
        var received = Assert.Single(_sink.Received());
        Assert.Equal("Sent with a Kerberos ticket", received.ToMimeMessage().Subject);
        Assert.Equal(Mailbox, received.Sender);
        Assert.Contains($"Login: user=<{Account}@herald.test>, method=GSSAPI", _dovecot.Log, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Gssapi_with_a_credential_cache_kept_fresh_elsewhere_delivers_and_a_lapsed_one_defers()
    {
        var cache = $"FILE:{Path.Combine(_kdc.Directory, "k5start.ccache")}";
        var connection = await SaveAsync(new KerberosChange { CredentialCache = cache, Realm = KerberosKdc.Realm, ServicePrincipal = "smtp/localhost" }, createCache: cache);

        var result = await OAuthNode.SendAsync(_node, connection, Mailbox, "From a credential cache");

        Assert.True(result.FailedAt is null, result.Failure);
        Assert.Equal("From a credential cache", Assert.Single(_sink.Received()).ToMimeMessage().Subject);

        // Whoever renewed it stopped: the cache is destroyed, and the mail waits with a sentence about the cache.
        Assert.Equal(0, (await KerberosKdc.RunClientAsync("kdestroy", "-c", cache)).Exit);
        var lapsed = await OAuthNode.SendAsync(_node, connection, Mailbox, "Never sent");

        Assert.Equal(DeliveryStage.Authenticate, lapsed.FailedAt);
        Assert.Contains($"the credential cache {cache} holds no valid ticket-granting ticket for {Account}@{KerberosKdc.Realm}", Assert.Single(lapsed.Recipients).Detail, StringComparison.Ordinal);
        Assert.Single(_sink.Received());
    }

    [Fact]
    public async Task Gssapi_with_a_wrong_service_principal_defers_with_a_sentence_naming_it()
    {
        // No principal given: SMTPSVC/localhost, which this realm does not have.
        var connection = await SaveAsync(new KerberosChange { Keytab = _clientKeytab, Realm = KerberosKdc.Realm });

        var result = await OAuthNode.SendAsync(_node, connection, Mailbox, "Never sent");

        Assert.Equal(DeliveryStage.Authenticate, result.FailedAt);
        var recipient = Assert.Single(result.Recipients);
        Assert.Equal(RecipientOutcome.TransientFailure, recipient.Outcome);
        Assert.Contains("no Kerberos ticket for the service principal SMTPSVC/localhost@HERALD.TEST", recipient.Detail, StringComparison.Ordinal);
        Assert.Contains("not found in Kerberos database", recipient.Detail, StringComparison.Ordinal);
        Assert.Contains("--service-principal", recipient.Detail, StringComparison.Ordinal);
        Assert.True(SmtpConnectionPool.IsConfigurationFailure(result));
        Assert.Empty(_sink.Received());
    }

    [Fact]
    public async Task Keytab_that_does_not_exist_is_refused_by_field_and_nothing_is_saved()
    {
        var missing = Path.Combine(_kdc.Directory, "missing.keytab");
        var saved = await SaveRawAsync(Caller.Operator, new KerberosChange { Keytab = missing, Realm = KerberosKdc.Realm });

        var error = Assert.Single(saved.Refusal!.Errors);
        Assert.Equal("keytab", error.Field);
        Assert.Contains($"{missing} does not exist", error.Message, StringComparison.Ordinal);
        Assert.Null(await _node.GetRequiredService<ISettingsStore>().GetConnectionAsync("/:exchange", Ct));
    }

    [Fact]
    public async Task Only_administrators_of_the_root_name_a_keytab()
    {
        var scopeAdministrator = new Caller.ConsoleAdministrator("alice", ScopePath.Root);
        Assert.Null((await SaveRawAsync(scopeAdministrator, new KerberosChange { Keytab = _clientKeytab, Realm = KerberosKdc.Realm })).Refusal);

        var hrAdministrator = new Caller.ConsoleAdministrator("bob", ScopePath.Parse("/hr"));
        var refused = await _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(hrAdministrator, new ConnectionSave(ScopePath.Parse("/hr"), "exchange", null, new ConnectionUpdate
        {
            Host = "localhost",
            Authentication = new AuthenticationChange.ToKerberos(Account, new KerberosChange { Keytab = "/etc/krb5.keytab", Realm = KerberosKdc.Realm }),
        }), Ct);

        Assert.Equal(RefusalKind.NotAllowed, refused.Refusal!.Kind);
        Assert.Contains("only administrators of / choose them", refused.Refusal.Sentence, StringComparison.Ordinal);
    }

    private async Task<SmtpConnection> SaveAsync(KerberosChange kerberos, string? createCache = null)
    {
        if (createCache is not null)
        {
            // What k5start or a cron'd kinit does for the node.
            var kinit = await KerberosKdc.RunClientAsync("kinit", "-k", "-t", _clientKeytab, "-c", createCache, $"{Account}@{KerberosKdc.Realm}");
            Assert.True(kinit.Exit == 0, kinit.Output);
        }

        var saved = await SaveRawAsync(Caller.Operator, kerberos);
        Assert.True(saved.Refusal is null, saved.Refusal?.ToString());
        var stored = await _node.GetRequiredService<ISettingsStore>().GetConnectionAsync(saved.Value.Connection.Id, Ct);
        Assert.Equal(kerberos with { Realm = KerberosKdc.Realm }, new KerberosChange
        {
            Realm = stored!.Authentication.Kerberos!.Realm,
            Keytab = stored.Authentication.Kerberos.Keytab,
            CredentialCache = stored.Authentication.Kerberos.CredentialCache,
            ServicePrincipal = stored.Authentication.Kerberos.ServicePrincipal,
        });
        return stored;
    }

    private Task<Result<(SmtpConnection Connection, IReadOnlyList<string> Notes)>> SaveRawAsync(Caller caller, KerberosChange kerberos) =>
        _node.GetRequiredService<OutgoingSettingsService>().SaveConnectionAsync(caller, new ConnectionSave(ScopePath.Root, "exchange", null, new ConnectionUpdate
        {
            Host = "localhost",
            Port = _dovecot.Port,
            Security = "none",
            AllowPlaintextAuth = true,
            Authentication = new AuthenticationChange.ToKerberos(Account, kerberos),
        }), Ct);

    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync();
        await _database.DisposeAsync();
        _dovecot.Dispose();
        _sink.Dispose();
        _kdc.Dispose();
    }
}
