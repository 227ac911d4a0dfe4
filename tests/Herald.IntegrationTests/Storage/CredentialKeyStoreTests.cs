using Dapper;
using Herald.Credentials;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Credentials;
using static Herald.IntegrationTests.Storage.SettingsStoreTests;

namespace Herald.IntegrationTests.Storage;

/// <summary><see cref="SqlCredentialKeyStore"/> on real SQLite and real PostgreSQL. The store keeps
/// bytes; which cipher made them is the credential key's business, so stand-ins do here.</summary>
public sealed class CredentialKeyStoreTests
{
    private static readonly KeyParameters First = new([1, 2, 3, 4, 5, 6, 7, 8], 600_000, [0, 9, 8, 7, 255]);

    private static readonly KeyParameters Second = new([8, 7, 6, 5, 4, 3, 2, 1], 700_000, [255, 1, 2, 3, 0]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Key_parameters_are_initialised_once_and_the_first_ones_stay(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var keys = Keys(db);
        Assert.Null(await keys.GetKeyParametersAsync(Ct));

        AssertSameParameters(First, await keys.InitializeKeyParametersAsync(First, Ct));
        AssertSameParameters(First, await keys.InitializeKeyParametersAsync(Second, Ct));

        AssertSameParameters(First, await keys.GetKeyParametersAsync(Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Nodes_initialising_at_once_all_get_the_parameters_that_were_stored(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var nodes = Enumerable.Range(0, 6).Select(_ => db.OpenAnother()).ToArray();
        try
        {
            var returned = await Task.WhenAll(nodes.Select((node, i) => Task.Run(() =>
                new SqlCredentialKeyStore(node, Clock()).InitializeKeyParametersAsync(First with { Iterations = 100_000 + i }, Ct))));

            var stored = await Keys(db).GetKeyParametersAsync(Ct);
            Assert.NotNull(stored);
            Assert.All(returned, r => AssertSameParameters(stored, r));
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
    public async Task Rotation_reseals_every_secret_and_replaces_the_parameters(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var keys = Keys(db);
        await keys.InitializeKeyParametersAsync(First, Ct);
        await SaveTwoConnectionsAsync(db);
        var offered = new List<string>();

        var outcome = await keys.RotateKeyAsync(First, Second, (name, secret) =>
        {
            offered.Add(name);
            return Reseal(secret);
        }, Ct);

        Assert.Equal(new RotationOutcome(4, null, ParametersChanged: true), outcome);
        Assert.Equal(4, offered.Distinct().Count());
        AssertSameParameters(Second, await keys.GetKeyParametersAsync(Ct));
        var settings = Store(db);
        foreach (var name in new[] { "default", "hr" })
        {
            var connection = await settings.GetConnectionAsync(name, Ct);
            Assert.NotNull(connection);
            Assert.Equal(Reseal(Secret($"password of {name}")), connection.Authentication.Password);
            Assert.Equal(Reseal(Secret($"pkcs12 of {name}")), connection.ClientCertificate?.Pkcs12);
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Rotation_changes_nothing_when_one_secret_cannot_be_resealed(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var keys = Keys(db);
        await keys.InitializeKeyParametersAsync(First, Ct);
        await SaveTwoConnectionsAsync(db);
        var before = await SecretsAsync(db);
        // Secrets are offered in name order; the last one fails, after the others were re-sealed.
        var unreadable = SecretNames.ConnectionPassword("hr");

        var outcome = await keys.RotateKeyAsync(First, Second, (name, secret) => name == unreadable ? null : Reseal(secret), Ct);

        Assert.Equal(new RotationOutcome(0, unreadable, ParametersChanged: false), outcome);
        AssertSameParameters(First, await keys.GetKeyParametersAsync(Ct));
        Assert.Equal(before, await SecretsAsync(db));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Rotation_from_parameters_that_are_no_longer_stored_changes_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var keys = Keys(db);
        await keys.InitializeKeyParametersAsync(First, Ct);
        await SaveTwoConnectionsAsync(db);
        var before = await SecretsAsync(db);

        var outcome = await keys.RotateKeyAsync(Second, First, (_, secret) => Reseal(secret), Ct);

        Assert.Equal(new RotationOutcome(0, null, ParametersChanged: false), outcome);
        AssertSameParameters(First, await keys.GetKeyParametersAsync(Ct));
        Assert.Equal(before, await SecretsAsync(db));
    }

    private static SqlCredentialKeyStore Keys(TestDatabase db) => new(db.Database, Clock());

    private static EncryptedSecret Reseal(EncryptedSecret secret) => new([.. secret.Ciphertext.Reverse(), 42]);

    private static async Task SaveTwoConnectionsAsync(TestDatabase db)
    {
        var settings = Store(db);
        await settings.AddScopeAsync(Scope("/hr"), Ct);
        await settings.SaveOutgoingAsync(new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default" }, FullConnection("default"), Ct);
        await settings.SaveOutgoingAsync(new ScopeOutgoingSettings(Scope("/hr")) { ConnectionId = "hr" }, FullConnection("hr"), Ct);
    }

    /// <summary>Every row of <c>secrets</c>, as the database holds it.</summary>
    private static async Task<List<string>> SecretsAsync(TestDatabase db)
    {
        await using var connection = await db.Database.OpenAsync(Ct);
        var rows = await connection.QueryAsync<(string Name, byte[] Ciphertext, long UpdatedAt)>("SELECT name, ciphertext, updated_at FROM secrets ORDER BY name");
        return rows.Select(r => $"{r.Name} {Convert.ToHexString(r.Ciphertext)} {r.UpdatedAt}").ToList();
    }

    private static void AssertSameParameters(KeyParameters expected, KeyParameters? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Salt, actual.Salt);
        Assert.Equal(expected.Iterations, actual.Iterations);
        Assert.Equal(expected.CheckValue, actual.CheckValue);
    }
}
