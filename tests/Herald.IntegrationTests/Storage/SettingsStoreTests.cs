using Dapper;
using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary><see cref="SqlSettingsStore"/> on real SQLite and real PostgreSQL.</summary>
public sealed class SettingsStoreTests
{
    // Well past 2^31 milliseconds, as every real time is.
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_is_added_once_under_an_existing_parent(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);

        Assert.True(await store.AddScopeAsync(Scope("/hr"), Ct));
        Assert.True(await store.AddScopeAsync(Scope("/hr/payroll"), Ct));
        Assert.False(await store.AddScopeAsync(Scope("/hr"), Ct));

        Assert.True(await store.ScopeExistsAsync(Scope("/hr/payroll"), Ct));
        Assert.Equal(["/", "/hr", "/hr/payroll"], (await store.ListScopesAsync(Ct)).Select(s => s.Value));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_whose_parent_does_not_exist_is_refused(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);

        await Assert.ThrowsAsync<InvalidOperationException>(() => store.AddScopeAsync(Scope("/hr/payroll"), Ct));

        Assert.False(await store.ScopeExistsAsync(Scope("/hr/payroll"), Ct));
        Assert.Equal(["/"], (await store.ListScopesAsync(Ct)).Select(s => s.Value));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Scopes_are_listed_in_ordinal_order_whatever_the_database_collation(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        string[] paths = ["/b", "/a_b", "/a-b", "/a.b", "/a", "/a0", "/ab", "/a/b"];
        foreach (var path in paths)
        {
            await store.AddScopeAsync(Scope(path), Ct);
        }

        // Ordinal: '-' < '.' < '/' < '0' < '_' < 'a'. A linguistic collation (the PostgreSQL
        // fixture's default is ICU en-US) would put /a_b first.
        Assert.Equal(["/", "/a", "/a-b", "/a.b", "/a/b", "/a0", "/a_b", "/ab", "/b"], (await store.ListScopesAsync(Ct)).Select(s => s.Value));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_with_children_is_not_removed_and_look_alike_names_are_not_children(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        foreach (var path in new[] { "/hr", "/hr/payroll", "/hr-x", "/hrx" })
        {
            await store.AddScopeAsync(Scope(path), Ct);
        }

        Assert.False(await store.RemoveScopeAsync(Scope("/hr"), Ct));
        Assert.True(await store.ScopeExistsAsync(Scope("/hr"), Ct));

        Assert.True(await store.RemoveScopeAsync(Scope("/hr/payroll"), Ct));
        Assert.True(await store.RemoveScopeAsync(Scope("/hr"), Ct));
        Assert.False(await store.RemoveScopeAsync(Scope("/hr"), Ct));
        Assert.False(await store.RemoveScopeAsync(ScopePath.Root, Ct));

        Assert.Equal(["/", "/hr-x", "/hrx"], (await store.ListScopesAsync(Ct)).Select(s => s.Value));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Removing_a_scope_removes_its_own_settings(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        await store.AddScopeAsync(Scope("/hr"), Ct);
        await store.SaveOutgoingAsync(new ScopeOutgoingSettings(Scope("/hr")) { FromName = "HR" }, null, Ct);

        Assert.True(await store.RemoveScopeAsync(Scope("/hr"), Ct));
        await store.AddScopeAsync(Scope("/hr"), Ct);

        Assert.Empty(await store.GetOutgoingChainAsync(Scope("/hr"), Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Adding_the_same_scope_from_several_nodes_at_once_adds_it_once(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var nodes = Enumerable.Range(0, 6).Select(_ => db.OpenAnother()).ToArray();
        try
        {
            var added = await Task.WhenAll(nodes.Select(node => Task.Run(() => new SqlSettingsStore(node, Clock()).AddScopeAsync(Scope("/hr"), Ct))));

            Assert.Single(added, a => a);
            Assert.Equal(["/", "/hr"], (await Store(db).ListScopesAsync(Ct)).Select(s => s.Value));
        }
        finally
        {
            foreach (var node in nodes.OfType<IAsyncDisposable>())
            {
                await node.DisposeAsync();
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_saved_connection_comes_back_with_every_field_and_its_secrets(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        var connection = FullConnection("default");
        var settings = new ScopeOutgoingSettings(ScopePath.Root)
        {
            Enabled = true,
            ConnectionId = "default",
            FromAddress = EmailAddress.Parse("alerts@example.org"),
            FromName = "Alerts – Ærøskøbing",
            ReplyTo = EmailAddress.Parse("helpdesk@example.org"),
            Charset = "iso-2022-jp",
            Impersonation = ImpersonationPolicy.AllowUserFrom,
        };

        await store.SaveOutgoingAsync(settings, connection, Ct);

        var stored = await store.GetConnectionAsync("default", Ct);
        Assert.NotNull(stored);
        AssertSameConnection(connection, stored);
        Assert.Equal([settings], await store.GetOutgoingChainAsync(ScopePath.Root, Ct));
        var listed = Assert.Single(await store.ListConnectionsAsync(Ct));
        AssertSameConnection(connection, listed);
        Assert.Null(await store.GetConnectionAsync("missing", Ct));

        await using var raw = await db.Database.OpenAsync(Ct);
        Assert.Equal(Now.ToUnixTimeMilliseconds(), await raw.ExecuteScalarAsync<long>("SELECT updated_at FROM smtp_connections WHERE name = 'default'"));
        Assert.Equal(
            [SecretNames.ConnectionClientCertificate("default"), SecretNames.ConnectionPassword("default")],
            await raw.QueryAsync<string>("SELECT name FROM secrets ORDER BY name"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Saving_again_replaces_the_connection_and_anonymous_removes_its_secrets(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        var settings = new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default" };
        await store.SaveOutgoingAsync(settings, FullConnection("default"), Ct);

        var anonymous = new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "smtp2.example.org", Port = 2525 };
        await store.SaveOutgoingAsync(settings with { FromName = "Second" }, anonymous, Ct);

        var stored = await store.GetConnectionAsync("default", Ct);
        Assert.NotNull(stored);
        AssertSameConnection(anonymous, stored);
        Assert.Equal("Second", Assert.Single(await store.GetOutgoingChainAsync(ScopePath.Root, Ct)).FromName);
        await using var raw = await db.Database.OpenAsync(Ct);
        Assert.Equal(0, await raw.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM secrets"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_outgoing_chain_is_the_scope_and_its_ancestors_nearest_first(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        foreach (var path in new[] { "/hr", "/hr/payroll", "/hr/payroll/team", "/hr-x", "/hrx", "/hr/pay" })
        {
            await store.AddScopeAsync(Scope(path), Ct);
        }

        foreach (var path in new[] { "/", "/hr", "/hr/payroll", "/hr-x", "/hrx", "/hr/pay" })
        {
            await store.SaveOutgoingAsync(new ScopeOutgoingSettings(Scope(path)) { FromName = $"name of {path}" }, null, Ct);
        }

        // /hr/payroll/team sets nothing itself; siblings with look-alike names are no ancestors.
        var chain = await store.GetOutgoingChainAsync(Scope("/hr/payroll/team"), Ct);

        Assert.Equal(["/hr/payroll", "/hr", "/"], chain.Select(s => s.Scope.Value));
        Assert.Equal(["name of /hr/payroll", "name of /hr", "name of /"], chain.Select(s => s.FromName));
        Assert.Equal(["/"], (await store.GetOutgoingChainAsync(ScopePath.Root, Ct)).Select(s => s.Scope.Value));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Deleting_outgoing_settings_removes_an_unreferenced_own_connection_and_its_secrets(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        await store.AddScopeAsync(Scope("/hr"), Ct);
        await store.SaveOutgoingAsync(new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default" }, FullConnection("default"), Ct);
        await store.SaveOutgoingAsync(new ScopeOutgoingSettings(Scope("/hr")) { ConnectionId = "hr" }, FullConnection("hr"), Ct);

        Assert.True(await store.DeleteOutgoingAsync(Scope("/hr"), "hr", Ct));

        Assert.Null(await store.GetConnectionAsync("hr", Ct));
        Assert.Equal(["/"], (await store.GetOutgoingChainAsync(Scope("/hr"), Ct)).Select(s => s.Scope.Value));
        Assert.Equal(["default"], (await store.ListConnectionsAsync(Ct)).Select(c => c.Name));
        await using var raw = await db.Database.OpenAsync(Ct);
        Assert.Equal(
            [SecretNames.ConnectionClientCertificate("default"), SecretNames.ConnectionPassword("default")],
            await raw.QueryAsync<string>("SELECT name FROM secrets ORDER BY name"));

        Assert.False(await store.DeleteOutgoingAsync(Scope("/hr"), "hr", Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Deleting_outgoing_settings_keeps_an_own_connection_another_scope_still_uses(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        await store.AddScopeAsync(Scope("/hr"), Ct);
        await store.AddScopeAsync(Scope("/finance"), Ct);
        await store.SaveOutgoingAsync(new ScopeOutgoingSettings(Scope("/hr")) { ConnectionId = "hr" }, FullConnection("hr"), Ct);
        await store.SaveOutgoingAsync(new ScopeOutgoingSettings(Scope("/finance")) { ConnectionId = "hr" }, null, Ct);

        Assert.True(await store.DeleteOutgoingAsync(Scope("/hr"), "hr", Ct));

        var kept = await store.GetConnectionAsync("hr", Ct);
        Assert.NotNull(kept);
        Assert.Equal(FullConnection("hr").Authentication.Password, kept.Authentication.Password);
        Assert.Empty(await store.GetOutgoingChainAsync(Scope("/hr"), Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_oauth_connection_keeps_its_settings_and_sealed_secrets_and_a_rotated_refresh_token_replaces_only_its_own(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        var key = CredentialKey.Create("oauth storage passphrase", iterations: 1000);
        await new Herald.Storage.Credentials.SqlCredentialKeyStore(db.Database, Clock()).InitializeKeyParametersAsync(key.Parameters, Ct);
        var oauth = new OAuthSettings
        {
            Provider = OAuthProvider.Microsoft,
            Grant = OAuthGrant.RefreshToken,
            Tenant = "contoso.onmicrosoft.com",
            ClientId = "app-id",
            ClientSecret = key.Seal("client secret", SecretNames.OAuthClientSecret("c1")),
            RefreshToken = key.Seal("first refresh token", SecretNames.OAuthRefreshToken("c1")),
            Account = "alerts@contoso.com",
            SignedInAt = Now,
        };
        var connection = new SmtpConnection
        {
            Id = "c1",
            Owner = ScopePath.Root,
            Name = "m365",
            Host = "smtp.office365.com",
            Port = 587,
            Security = SmtpSecurity.StartTlsRequired,
            Authentication = new SmtpAuthentication("alerts@contoso.com", ["XOAUTH2"], null) { OAuth = oauth },
        };
        await store.SaveConnectionAsync(connection, Ct);

        var stored = (await store.GetConnectionAsync("c1", Ct))!.Authentication.OAuth!;
        Assert.Equal(oauth with { ClientSecret = null, RefreshToken = null }, stored with { ClientSecret = null, RefreshToken = null });
        Assert.True(key.TryOpen(stored.ClientSecret!, SecretNames.OAuthClientSecret("c1"), out var secret));
        Assert.Equal("client secret", System.Text.Encoding.UTF8.GetString(secret));

        // Sealed under another key (rotated meanwhile): nothing is written.
        var other = CredentialKey.Create("another passphrase, amber kestrel", iterations: 1000);
        Assert.False(await store.SaveRefreshTokenAsync("c1", other.Seal("stale", SecretNames.OAuthRefreshToken("c1")), other.Parameters.CheckValue, Ct));
        Assert.False(await store.SaveRefreshTokenAsync("c2", key.Seal("nobody's", SecretNames.OAuthRefreshToken("c2")), key.Parameters.CheckValue, Ct));
        Assert.True(await store.SaveRefreshTokenAsync("c1", key.Seal("rotated refresh token", SecretNames.OAuthRefreshToken("c1")), key.Parameters.CheckValue, Ct));

        var rotated = (await store.GetConnectionAsync("c1", Ct))!.Authentication.OAuth!;
        Assert.True(key.TryOpen(rotated.RefreshToken!, SecretNames.OAuthRefreshToken("c1"), out var token));
        Assert.Equal("rotated refresh token", System.Text.Encoding.UTF8.GetString(token));
        Assert.Equal("app-id", rotated.ClientId);

        // Deleting the connection deletes every secret it held.
        Assert.Empty(await store.DeleteConnectionAsync("c1", Ct));
        await using var raw = await db.Database.OpenAsync(Ct);
        Assert.Equal(0L, await raw.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM secrets WHERE name LIKE 'smtp-connection/c1/%'"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_kerberos_connection_keeps_its_realm_keytab_and_service_principal_and_a_password_change_drops_them(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = Store(db);
        var kerberos = new KerberosSettings { Realm = "CORP.EXAMPLE.COM", Keytab = "/etc/herald/herald.keytab", ServicePrincipal = "SMTPSVC/exch01.corp.example.com" };
        var connection = new SmtpConnection
        {
            Id = "k1",
            Owner = ScopePath.Root,
            Name = "exchange",
            Host = "exch01.corp.example.com",
            Port = 587,
            Security = SmtpSecurity.StartTlsRequired,
            Authentication = new SmtpAuthentication("svc-herald", ["GSSAPI"], null) { Kerberos = kerberos },
        };
        await store.SaveConnectionAsync(connection, Ct);

        var stored = (await store.GetConnectionAsync("k1", Ct))!.Authentication;
        Assert.Equal(kerberos, stored.Kerberos);
        Assert.Equal("svc-herald", stored.UserName);
        Assert.Equal(["GSSAPI"], stored.Mechanisms);
        Assert.Null(stored.OAuth);

        var key = CredentialKey.Create("kerberos storage passphrase", iterations: 1000);
        await store.SaveConnectionAsync(connection with
        {
            Authentication = new SmtpAuthentication(@"CORP\svc-herald", ["NTLM"], key.Seal("password", SecretNames.ConnectionPassword("k1"))),
        }, Ct);

        var changed = (await store.GetConnectionAsync("k1", Ct))!.Authentication;
        Assert.Null(changed.Kerberos);
        Assert.Equal(["NTLM"], changed.Mechanisms);
        Assert.NotNull(changed.Password);
    }

    internal static SqlSettingsStore Store(TestDatabase db) => new(db.Database, Clock());

    internal static FakeTimeProvider Clock() => new(Now);

    internal static ScopePath Scope(string path) => ScopePath.Parse(path);

    /// <summary>A connection with every field set, and secrets that tell connections apart.</summary>
    internal static SmtpConnection FullConnection(string name) => new()
    {
        Id = name,
        Owner = ScopePath.Root,
        Name = name,
        Host = "smtp.example.org",
        Port = 587,
        Security = SmtpSecurity.StartTlsRequired,
        Authentication = new SmtpAuthentication("alerts@example.org", ["PLAIN", "SCRAM-SHA-256"], Secret($"password of {name}")),
        ClientCertificate = new StoredClientCertificate(
            Secret($"pkcs12 of {name}"), "CN=herald-client", "AB12CD", new DateTimeOffset(2040, 1, 2, 3, 4, 5, TimeSpan.Zero)),
        Trust = new ServerTrust(ServerTrustMode.PinnedThumbprint, Thumbprint: new string('F', 64)),
        ConnectTimeout = TimeSpan.FromSeconds(12),
        CommandTimeout = TimeSpan.FromMinutes(3),
        ConnectionLimit = 7,
        RateLimitPerMinute = 120,
        NodeTags = ["eu", "dmz"],
    };

    /// <summary>Stand-in ciphertext: the store keeps bytes, whatever they are, including zeros.</summary>
    internal static EncryptedSecret Secret(string text) => new([0, .. System.Text.Encoding.UTF8.GetBytes(text), 255]);

    private static void AssertSameConnection(SmtpConnection expected, SmtpConnection actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Host, actual.Host);
        Assert.Equal(expected.Port, actual.Port);
        Assert.Equal(expected.Security, actual.Security);
        Assert.Equal(expected.Authentication.UserName, actual.Authentication.UserName);
        Assert.Equal(expected.Authentication.Mechanisms, actual.Authentication.Mechanisms);
        Assert.Equal(expected.Authentication.Password, actual.Authentication.Password);
        Assert.Equal(expected.ClientCertificate, actual.ClientCertificate);
        Assert.Equal(expected.Trust, actual.Trust);
        Assert.Equal(expected.ConnectTimeout, actual.ConnectTimeout);
        Assert.Equal(expected.CommandTimeout, actual.CommandTimeout);
        Assert.Equal(expected.ConnectionLimit, actual.ConnectionLimit);
        Assert.Equal(expected.RateLimitPerMinute, actual.RateLimitPerMinute);
        Assert.Equal(expected.NodeTags, actual.NodeTags);
    }
}
