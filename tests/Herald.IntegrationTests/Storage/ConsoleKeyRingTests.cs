using System.Security.Cryptography;
using System.Text;
using Dapper;
using Herald.Credentials;
using Herald.Storage.Credentials;
using Herald.Storage.Database;
using Herald.Web.Console;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection;
using static Herald.IntegrationTests.Storage.SettingsStoreTests;

namespace Herald.IntegrationTests.Storage;

/// <summary>
/// The console's Data Protection key ring in the secrets table (<see cref="ConsoleKeyRing"/> over
/// <see cref="SqlConsoleKeyStore"/>), on real SQLite and real PostgreSQL. Each "node" is Data
/// Protection wired as herald serve wires it, with its own connection to the database and its
/// own unlocked credential key.
/// </summary>
public sealed class ConsoleKeyRingTests
{
    private const string Passphrase = "console key ring passphrase";

    private const string NextPassphrase = "the rotated console passphrase";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Nodes_on_one_database_read_each_others_payloads_and_the_ring_is_stored_sealed(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await using var a = await Node.StartAsync(db.Database, Passphrase);
        await using var b = await Node.StartAsync(db.OpenAnother(), Passphrase, ownsDatabase: true);

        var fromA = a.Protector.Protect("signed in on node a");
        var fromB = b.Protector.Protect("signed in on node b");

        Assert.Equal("signed in on node a", b.Protector.Unprotect(fromA));
        Assert.Equal("signed in on node b", a.Protector.Unprotect(fromB));
        // One key, created by whichever node asked first; the other found it and made none.
        var rows = await ConsoleKeyRowsAsync(db.Database);
        var row = Assert.Single(rows);
        Assert.StartsWith("console-key/key-", row.Name, StringComparison.Ordinal);
        Assert.Equal(a.KeyIds(), b.KeyIds());

        // The database holds neither the XML nor the key material inside it.
        var element = Assert.Single(a.Ring.GetAllElements());
        var masterKey = element.Descendants("value").Single().Value;
        Assert.DoesNotContain("<key", Encoding.UTF8.GetString(row.Ciphertext), StringComparison.Ordinal);
        Assert.DoesNotContain("masterKey", Encoding.UTF8.GetString(row.Ciphertext), StringComparison.Ordinal);
        Assert.Equal(-1, row.Ciphertext.AsSpan().IndexOf(Encoding.UTF8.GetBytes(masterKey)));
        Assert.Equal(-1, row.Ciphertext.AsSpan().IndexOf(Convert.FromBase64String(masterKey)));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task After_a_key_rotation_a_node_with_the_new_passphrase_reads_the_ring(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        byte[] before;
        string payload;
        await using (var a = await Node.StartAsync(db.Database, Passphrase))
        {
            payload = a.Protector.Protect("a session from before the rotation");
            before = Assert.Single(await ConsoleKeyRowsAsync(db.Database)).Ciphertext;

            var (succeeded, message) = await new CredentialKeyAdministration(new SqlCredentialKeyStore(db.Database, TimeProvider.System), a.Passphrase)
                .RotateAsync(a.Vault, NextPassphrase, Ct);
            Assert.True(succeeded, message);
            Assert.Contains("Re-encrypted 1 secret(s)", message, StringComparison.Ordinal);
        }

        await using var restarted = await Node.StartAsync(db.OpenAnother(), NextPassphrase, ownsDatabase: true);

        Assert.Equal("a session from before the rotation", restarted.Protector.Unprotect(payload));
        var after = Assert.Single(await ConsoleKeyRowsAsync(db.Database));
        Assert.False(before.AsSpan().SequenceEqual(after.Ciphertext), "the element was not re-sealed");
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_node_still_on_the_key_from_before_a_rotation_cannot_add_a_key_nobody_else_could_open(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await using var stale = await Node.StartAsync(db.Database, Passphrase);
        await using (var administration = await Node.StartAsync(db.OpenAnother(), Passphrase, ownsDatabase: true))
        {
            var (succeeded, message) = await new CredentialKeyAdministration(new SqlCredentialKeyStore(db.Database, TimeProvider.System), administration.Passphrase)
                .RotateAsync(administration.Vault, NextPassphrase, Ct);
            Assert.True(succeeded, message);
        }

        // Data Protection wraps what the ring threw in a CryptographicException.
        var refused = Assert.Throws<CryptographicException>(() => stale.Protector.Protect("a new session"));

        Assert.Contains("no longer the one this node started with", refused.InnerException?.Message, StringComparison.Ordinal);
        Assert.Empty(await ConsoleKeyRowsAsync(db.Database));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_element_that_cannot_be_opened_is_left_out_and_the_rest_of_the_ring_still_reads(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        await using var a = await Node.StartAsync(db.Database, Passphrase);
        var payload = a.Protector.Protect("signed in on node a");
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            await connection.ExecuteAsync(
                "INSERT INTO secrets (name, ciphertext, updated_at) VALUES ('console-key/key-00000000-0000-0000-0000-000000000001', @garbage, 0)",
                new { garbage = RandomNumberGenerator.GetBytes(200) });
        }

        await using var b = await Node.StartAsync(db.OpenAnother(), Passphrase, ownsDatabase: true);

        Assert.Equal("signed in on node a", b.Protector.Unprotect(payload));
        Assert.Single(b.Ring.GetAllElements());
    }

    private static async Task<IReadOnlyList<(string Name, byte[] Ciphertext)>> ConsoleKeyRowsAsync(HeraldDatabase database)
    {
        await using var connection = await database.OpenAsync(Ct);
        return [.. await connection.QueryAsync<(string Name, byte[] Ciphertext)>("SELECT name, ciphertext FROM secrets ORDER BY name")];
    }

    /// <summary>One node's Data Protection, registered as herald serve registers it.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly ServiceProvider _services;
        private readonly HeraldDatabase? _ownedDatabase;

        private Node(ServiceProvider services, HeraldDatabase? ownedDatabase)
        {
            _services = services;
            _ownedDatabase = ownedDatabase;
        }

        public CredentialVault Vault => _services.GetRequiredService<CredentialVault>();

        public NodePassphrase Passphrase => Vault.Passphrase;

        public ConsoleKeyRing Ring => _services.GetRequiredService<ConsoleKeyRing>();

        public IDataProtector Protector => _services.GetRequiredService<IDataProtectionProvider>().CreateProtector("console key ring tests");

        public static async Task<Node> StartAsync(HeraldDatabase database, string passphrase, bool ownsDatabase = false)
        {
            var services = new ServiceCollection().AddLogging();
            services.AddSingleton<ICredentialKeyStore>(new SqlCredentialKeyStore(database, Clock()));
            services.AddSingleton<IConsoleKeyStore>(new SqlConsoleKeyStore(database, Clock()));
            services.AddSingleton(new CredentialVault(new SqlCredentialKeyStore(database, Clock()), new NodePassphrase(passphrase, Path.Combine(Path.GetTempPath(), $"herald-unused-{Guid.NewGuid():N}.key"))));
            services.AddConsoleKeyRing(inDatabase: true, directory: "/nonexistent/console-keys");
            var node = new Node(services.BuildServiceProvider(), ownsDatabase ? database : null);
            // As herald serve does before it serves: the database adopts the first node's key.
            var status = await node.Vault.GetKeyAsync(initializeDatabase: true, Ct);
            Assert.True(status.Key is not null, status.Problem);
            return node;
        }

        public Guid[] KeyIds() =>
            [.. _services.GetRequiredService<IKeyManager>().GetAllKeys().Select(k => k.KeyId).Order()];

        public async ValueTask DisposeAsync()
        {
            await _services.DisposeAsync();
            switch (_ownedDatabase)
            {
                case IAsyncDisposable owned:
                    await owned.DisposeAsync();
                    break;
                case IDisposable owned:
                    owned.Dispose();
                    break;
            }
        }
    }
}
