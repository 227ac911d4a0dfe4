using Dapper;
using Herald.Access;
using Herald.Credentials;
using Herald.IntegrationTests.Storage;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Credentials;
using Herald.Storage.Settings;

namespace Herald.IntegrationTests.Settings;

/// <summary>
/// The rules of SMTP connections as <see cref="OutgoingSettingsService"/> decides them, for every
/// door at once, on real SQLite and PostgreSQL: who may change and use which connection, and
/// that a stored secret goes only where it was entered for. Each test reads the database
/// afterwards, not only the answer.
/// </summary>
public sealed class ConnectionRulesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Scopes = ["/hr", "/hr/payroll", "/hr2", "/hr.x"];

    public static TheoryData<string, string, string> CallersAndOwners()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var engine in new[] { TestDatabases.Sqlite, TestDatabases.Postgres })
        {
            foreach (var caller in new[] { "sender:/hr", "admin:/hr", "admin:/hr2", "admin:/hr.x", "admin:/hr/payroll", "sender:/", "admin:/", "console:/hr" })
            {
                foreach (var owner in new[] { "/", "/hr" })
                {
                    data.Add(engine, caller, owner);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CallersAndOwners))]
    public async Task Only_administrators_of_a_connections_owner_or_above_change_or_delete_it(string engine, string callerText, string ownerText)
    {
        await using var world = await World.CreateAsync(engine);
        var caller = World.CallerOf(callerText);
        var owner = ScopePath.Parse(ownerText);
        var allowed = caller.Administers(owner);

        var changed = await world.Service.SaveConnectionAsync(caller, new ConnectionSave(owner, "default", IsNew: false, new ConnectionUpdate { ConnectionLimit = 7 }), Ct);
        var deleted = await world.Service.DeleteConnectionAsync(caller, owner, "default", Ct);

        Assert.Equal(allowed ? 7 : 4, await world.ConnectionLimitAsync(owner, "default"));
        if (allowed)
        {
            Assert.Null(changed.Refusal);
            // Still used by its scope: a conflict, never a silent delete.
            Assert.Equal(RefusalKind.Conflict, deleted!.Kind);
        }
        else
        {
            Assert.Equal(RefusalKind.NotAllowed, changed.Refusal!.Kind);
            Assert.Equal(RefusalKind.NotAllowed, deleted!.Kind);
            Assert.Contains("may not", deleted.Sentence, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_administrator_cannot_point_the_farms_connection_elsewhere_through_the_scope_form(string engine)
    {
        await using var world = await World.CreateAsync(engine);
        var hrAdmin = World.CallerOf("admin:/hr2");

        // Finding 1: naming the farm's connection from a scope's settings form changed it for everyone.
        var refused = await world.Service.ApplyAsync(hrAdmin, new OutgoingSettingsUpdate(ScopePath.Parse("/hr2"))
        {
            Connection = "default",
            ConnectionChange = new ConnectionUpdate { Host = "attacker.example" },
        }, Ct);

        Assert.Equal(RefusalKind.NotAllowed, refused.Refusal!.Kind);
        Assert.Contains("change SMTP connection /:default, which belongs to /", refused.Refusal.Sentence, StringComparison.Ordinal);
        Assert.Equal("smtp.example.org", await world.HostAsync(ScopePath.Root, "default"));
        Assert.Null(await world.OwnConnectionIdAsync("/hr2"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_that_inherits_a_connection_gets_its_own_when_its_administrator_sets_a_server(string engine)
    {
        await using var world = await World.CreateAsync(engine);

        var saved = await world.Service.ApplyAsync(World.CallerOf("admin:/hr2"), new OutgoingSettingsUpdate(ScopePath.Parse("/hr2"))
        {
            ConnectionChange = new ConnectionUpdate { Host = "smtp.hr2.example.org" },
        }, Ct);

        Assert.Null(saved.Refusal);
        Assert.Equal("smtp.hr2.example.org", await world.HostAsync(ScopePath.Parse("/hr2"), "default"));
        Assert.Equal("/hr2:default", await world.OwnConnectionIdAsync("/hr2"));
        Assert.Equal("smtp.example.org", await world.HostAsync(ScopePath.Root, "default"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Look_alike_scopes_never_share_a_connection(string engine)
    {
        await using var world = await World.CreateAsync(engine);
        await world.Service.ApplyAsync(Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Parse("/hr/payroll"))
        {
            ConnectionChange = new ConnectionUpdate { Host = "payroll.example.org" },
        }, Ct);

        // Finding 2: /hr.payroll's own connection used to be named like /hr/payroll's.
        await world.Store.AddScopeAsync(ScopePath.Parse("/hr.payroll"), Ct);
        var saved = await world.Service.ApplyAsync(World.CallerOf("admin:/hr.payroll"), new OutgoingSettingsUpdate(ScopePath.Parse("/hr.payroll"))
        {
            ConnectionChange = new ConnectionUpdate { Host = "attacker.example" },
        }, Ct);

        Assert.Null(saved.Refusal);
        Assert.Equal("payroll.example.org", await world.HostAsync(ScopePath.Parse("/hr/payroll"), "default"));
        Assert.Equal("attacker.example", await world.HostAsync(ScopePath.Parse("/hr.payroll"), "default"));
    }

    [Theory]
    [InlineData(TestDatabases.Sqlite, "/hr2", "/hr:default")]
    [InlineData(TestDatabases.Sqlite, "/hr.x", "/hr:default")]
    [InlineData(TestDatabases.Sqlite, "/hr", "/hr/payroll:default")]
    [InlineData(TestDatabases.Postgres, "/hr2", "/hr:default")]
    [InlineData(TestDatabases.Postgres, "/hr.x", "/hr:default")]
    public async Task A_scope_uses_only_connections_of_its_own_or_of_the_scopes_above(string engine, string scope, string connection)
    {
        await using var world = await World.CreateAsync(engine);
        await world.Service.ApplyAsync(Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Parse("/hr/payroll"))
        {
            ConnectionChange = new ConnectionUpdate { Host = "payroll.example.org" },
        }, Ct);
        var before = await world.OwnConnectionIdAsync(scope);

        var refused = await world.Service.ApplyAsync(Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Parse(scope)) { Connection = connection }, Ct);

        Assert.Equal(RefusalKind.Invalid, refused.Refusal!.Kind);
        Assert.Contains("a scope uses only its own connections and those of the scopes above it", refused.Refusal.Errors.Single().Message, StringComparison.Ordinal);
        Assert.Equal(before, await world.OwnConnectionIdAsync(scope));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_name_finds_the_nearest_connection_of_that_name_and_is_compared_after_normalising(string engine)
    {
        await using var world = await World.CreateAsync(engine);

        var saved = await world.Service.ApplyAsync(Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Parse("/hr/payroll")) { Connection = "  DEFAULT " }, Ct);

        Assert.Null(saved.Refusal);
        // /hr's own 'default' is nearer than /'s.
        Assert.Equal("/hr:default", await world.OwnConnectionIdAsync("/hr/payroll"));
        var qualified = await world.Service.ApplyAsync(Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Parse("/hr/payroll")) { Connection = "/:Default" }, Ct);
        Assert.Null(qualified.Refusal);
        Assert.Equal("default", await world.OwnConnectionIdAsync("/hr/payroll"));
        var unknown = await world.Service.ApplyAsync(Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Parse("/hr/payroll")) { Connection = "def*" }, Ct);
        Assert.Equal(RefusalKind.Invalid, unknown.Refusal!.Kind);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_administrator_sees_the_connections_above_without_being_able_to_change_them(string engine)
    {
        await using var world = await World.CreateAsync(engine);

        var listed = (await world.Service.ListConnectionsAsync(World.CallerOf("admin:/hr/payroll"), Ct)).Value!;
        var sibling = (await world.Service.ListConnectionsAsync(World.CallerOf("admin:/hr2"), Ct)).Value!;
        var notFound = await world.Service.GetConnectionAsync(World.CallerOf("admin:/hr2"), ScopePath.Parse("/hr"), "default", Ct);

        Assert.Equal([("/:default", false), ("/hr:default", false)], listed.Select(l => (l.Connection.Qualified, l.Editable)));
        Assert.Equal([("/:default", false)], sibling.Select(l => (l.Connection.Qualified, l.Editable)));
        Assert.Equal(RefusalKind.NotFound, notFound.Refusal!.Kind);
        Assert.Empty((await world.Service.ListConnectionsAsync(World.CallerOf("sender:/"), Ct)).Value!);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_unused_connection_is_deleted_with_its_secrets(string engine)
    {
        await using var world = await World.CreateAsync(engine);
        var created = await world.Service.SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Parse("/hr"), "Spare", IsNew: true, new ConnectionUpdate
        {
            Host = "spare.example.org",
            Security = "implicit-tls",
            Authentication = new AuthenticationChange.ToSasl("spare", "spare-password", null),
        }), Ct);
        Assert.Null(created.Refusal);
        Assert.Equal(1, await world.CountAsync("SELECT COUNT(*) FROM secrets WHERE name = 'smtp-connection//hr:spare/password'"));

        var deleted = await world.Service.DeleteConnectionAsync(World.CallerOf("admin:/hr"), ScopePath.Parse("/hr"), "spare", Ct);

        Assert.Null(deleted);
        Assert.Equal(0, await world.CountAsync("SELECT COUNT(*) FROM smtp_connections WHERE short_name = 'spare'"));
        Assert.Equal(0, await world.CountAsync("SELECT COUNT(*) FROM secrets WHERE name LIKE 'smtp-connection//hr:spare/%'"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_connection_in_use_is_not_deleted_and_the_refusal_names_who_uses_it(string engine)
    {
        await using var world = await World.CreateAsync(engine);

        var refused = await world.Service.DeleteConnectionAsync(Caller.Operator, ScopePath.Parse("/hr"), "default", Ct);

        Assert.Equal(RefusalKind.Conflict, refused!.Kind);
        Assert.Contains("is used by /hr", refused.Sentence, StringComparison.Ordinal);
        Assert.Equal("smtp.hr.example.org", await world.HostAsync(ScopePath.Parse("/hr"), "default"));
    }

    public static TheoryData<string, string, string, string?, bool> Moves()
    {
        var data = new TheoryData<string, string, string, string?, bool>();
        foreach (var engine in new[] { TestDatabases.Sqlite, TestDatabases.Postgres })
        {
            // engine, field changed, new value, password given with it, password kept
            data.Add(engine, "host", "elsewhere.example.org", null, false);
            data.Add(engine, "host", "SMTP.hr.example.org", null, true);
            data.Add(engine, "port", "2525", null, false);
            data.Add(engine, "security", "implicit-tls", null, true);
            data.Add(engine, "lower", "starttls-when-available", null, false);
            data.Add(engine, "host", "elsewhere.example.org", "new-password", true);
            data.Add(engine, "limit", "9", null, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Moves))]
    public async Task A_stored_password_goes_only_where_it_was_entered_for(string engine, string field, string value, string? password, bool kept)
    {
        await using var world = await World.CreateAsync(engine);
        var change = field switch
        {
            "host" => new ConnectionUpdate { Host = value },
            "port" => new ConnectionUpdate { Port = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
            "security" => new ConnectionUpdate { Security = value },
            "lower" => new ConnectionUpdate { Security = value, AllowPlaintextAuth = true },
            _ => new ConnectionUpdate { ConnectionLimit = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
        };
        if (password is not null)
        {
            change = change with { Authentication = new AuthenticationChange.ToSasl(null, password, null) };
        }

        var saved = await world.Service.SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Parse("/hr"), "default", false, change), Ct);

        Assert.Null(saved.Refusal);
        Assert.Equal(kept ? 1 : 0, await world.CountAsync("SELECT COUNT(*) FROM secrets WHERE name = 'smtp-connection//hr:default/password'"));
        Assert.Equal(!kept, saved.Value.Notes.Any(n => n.Contains("stored password of /hr:default was dropped", StringComparison.Ordinal)));
        var stored = (await world.Store.GetConnectionAsync("/hr:default", Ct))!;
        Assert.Equal("hr-mailer", stored.Authentication.UserName);
    }

    [Theory]
    [InlineData(TestDatabases.Sqlite, "none", false)]
    [InlineData(TestDatabases.Sqlite, "starttls-when-available", false)]
    [InlineData(TestDatabases.Sqlite, "none", true)]
    [InlineData(TestDatabases.Postgres, "starttls-when-available", false)]
    public async Task A_password_is_configured_for_an_unencrypted_channel_only_when_the_administrator_says_so(string engine, string security, bool allow)
    {
        await using var world = await World.CreateAsync(engine);

        var saved = await world.Service.SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Parse("/hr"), "default", false, new ConnectionUpdate
        {
            Security = security,
            AllowPlaintextAuth = allow ? true : null,
            Authentication = new AuthenticationChange.ToSasl(null, "hr-password", null),
        }), Ct);

        if (allow)
        {
            Assert.Null(saved.Refusal);
            Assert.True((await world.Store.GetConnectionAsync("/hr:default", Ct))!.AllowPlaintextAuth);
        }
        else
        {
            Assert.Equal("security", saved.Refusal!.Errors.Single().Field);
            Assert.Equal("starttls-required", SmtpSecurityNames.Values.NameOf((await world.Store.GetConnectionAsync("/hr:default", Ct))!.Security));
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_client_certificate_needs_tls(string engine)
    {
        await using var world = await World.CreateAsync(engine);
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=herald-client", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

        var saved = await world.Service.SaveConnectionAsync(Caller.Operator, new ConnectionSave(ScopePath.Parse("/hr"), "plain", true, new ConnectionUpdate
        {
            Host = "plain.example.org",
            Security = "none",
            ClientCertificate = new ClientCertificateChange.Replace(certificate),
        }), Ct);

        Assert.Equal("clientCertificate", saved.Refusal!.Errors.Single().Field);
        Assert.Equal(0, await world.CountAsync("SELECT COUNT(*) FROM smtp_connections WHERE short_name = 'plain'"));
    }

    /// <summary>Scopes /, /hr, /hr/payroll, /hr2, /hr.x; / uses /:default (stored as 'default',
    /// as a connection made before owners), /hr uses /hr:default with a password.</summary>
    private sealed class World : IAsyncDisposable
    {
        private readonly TestDatabase _db;
        private readonly CredentialVault _vault;

        private World(TestDatabase db, SqlSettingsStore store, CredentialVault vault, OutgoingSettingsService service)
        {
            _db = db;
            Store = store;
            _vault = vault;
            Service = service;
        }

        public SqlSettingsStore Store { get; }

        public OutgoingSettingsService Service { get; }

        public static async Task<World> CreateAsync(string engine)
        {
            var db = await TestDatabases.CreateAsync(engine);
            var store = new SqlSettingsStore(db.Database, TimeProvider.System);
            var vault = new CredentialVault(new SqlCredentialKeyStore(db.Database, TimeProvider.System), new NodePassphrase("connection rules passphrase, amber kestrel", Path.Combine(db.DataDirectory, "unused.key")));
            var service = new OutgoingSettingsService(store, new OutgoingSettingsCache(store, TimeProvider.System), vault, new Herald.Storage.Outbox.SqlOutboxStore(db.Database, db.Spool), TimeProvider.System);
            foreach (var scope in Scopes)
            {
                Assert.True(await store.AddScopeAsync(ScopePath.Parse(scope), Ct));
            }

            await store.SaveOutgoingAsync(
                new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default", FromAddress = EmailAddress.Parse("herald@example.org") },
                new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "smtp.example.org" },
                Ct);
            var hr = await service.ApplyAsync(Caller.Operator, new OutgoingSettingsUpdate(ScopePath.Parse("/hr"))
            {
                ConnectionChange = new ConnectionUpdate
                {
                    Host = "smtp.hr.example.org",
                    Security = "starttls-required",
                    Authentication = new AuthenticationChange.ToSasl("hr-mailer", "hr-password", null),
                },
            }, Ct);
            Assert.Null(hr.Refusal);
            return new World(db, store, vault, service);
        }

        public static Caller CallerOf(string text)
        {
            var (kind, scope) = (text[..text.IndexOf(':', StringComparison.Ordinal)], ScopePath.Parse(text[(text.IndexOf(':', StringComparison.Ordinal) + 1)..]));
            return kind switch
            {
                "console" => new Caller.ConsoleAdministrator("alice", scope),
                _ => new Caller.Key(new ApiKey("k1", scope, kind == "admin" ? ApiKeyRole.Admin : ApiKeyRole.Sender, null, DateTimeOffset.UnixEpoch, null)),
            };
        }

        public async Task<long> ConnectionLimitAsync(ScopePath owner, string name) =>
            (await Store.ListConnectionsAsync(Ct)).Single(c => c.Owner == owner && c.Name == name).ConnectionLimit;

        public async Task<string> HostAsync(ScopePath owner, string name) =>
            (await Store.ListConnectionsAsync(Ct)).Single(c => c.Owner == owner && c.Name == name).Host;

        public async Task<string?> OwnConnectionIdAsync(string scope) =>
            (await Store.GetOutgoingChainAsync(ScopePath.Parse(scope), Ct)).FirstOrDefault(s => s.Scope.Value == scope)?.ConnectionId;

        public async Task<long> CountAsync(string sql)
        {
            await using var connection = await _db.Database.OpenAsync(Ct);
            return await connection.ExecuteScalarAsync<long>(sql);
        }

        public async ValueTask DisposeAsync()
        {
            _vault.Dispose();
            await _db.DisposeAsync();
        }
    }
}
