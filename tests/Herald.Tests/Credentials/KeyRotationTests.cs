using Herald.Access;
using Herald.Credentials;
using Herald.Settings;
using Herald.Storage.Credentials;
using Herald.Storage.Database;
using Herald.Storage.Settings;

namespace Herald.Tests.Credentials;

/// <summary>Rotation and key mismatch against a real SQLite database.</summary>
public sealed class KeyRotationTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "herald-key-" + Guid.NewGuid().ToString("N"));
    private readonly SqliteDatabase _database;
    private readonly SqlCredentialKeyStore _keys;
    private readonly SqlSettingsStore _settings;

    public KeyRotationTests()
    {
        _database = new SqliteDatabase(_directory);
        _database.MigrateAsync(CancellationToken.None).GetAwaiter().GetResult();
        _keys = new SqlCredentialKeyStore(_database, TimeProvider.System);
        _settings = new SqlSettingsStore(_database, TimeProvider.System);
    }

    private Herald.Storage.Outbox.SqlOutboxStore Outbox() => new(_database, new Herald.Outbox.MessageSpool(Path.Combine(_directory, "spool")));

    [Fact]
    public async Task Rotation_reseals_every_secret_and_retires_the_old_key()
    {
        var ct = TestContext.Current.CancellationToken;
        var node = new NodePassphrase("old passphrase 123 of the heron", Path.Combine(_directory, "unused.key"));
        using var vault = new CredentialVault(_keys, node);
        var service = new OutgoingSettingsService(_settings, new OutgoingSettingsCache(_settings, TimeProvider.System), vault, Outbox(), TimeProvider.System);
        Assert.Null((await service.ApplyAsync(Caller.Operator, new(Herald.Scopes.ScopePath.Root)
        {
            FromAddress = "herald@example.org",
            ConnectionChange = new ConnectionUpdate
            {
                Host = "smtp.example.org",
                Security = "starttls-required",
                Authentication = new AuthenticationChange.ToSasl("alice", "s3cret-pass", ["PLAIN"]),
            },
        }, ct)).Refusal);
        var before = (await _settings.GetConnectionAsync("/:default", ct))!.Authentication.Password!;

        var (succeeded, message) = await new CredentialKeyAdministration(_keys, node).RotateAsync(vault, "new passphrase 456 of the otter", ct);

        Assert.True(succeeded, message);
        Assert.Contains("1 secret", message, StringComparison.Ordinal);
        var after = (await _settings.GetConnectionAsync("/:default", ct))!.Authentication.Password!;
        Assert.NotEqual(before, after);
        var stored = (await _keys.GetKeyParametersAsync(ct))!;
        Assert.Null(CredentialKey.Unlock("old passphrase 123 of the heron", stored));
        using var fresh = CredentialKey.Unlock("new passphrase 456 of the otter", stored);
        Assert.NotNull(fresh);
        Assert.True(fresh.TryOpen(after, SecretNames.ConnectionPassword("/:default"), out var plaintext));
        Assert.Equal("s3cret-pass", System.Text.Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public async Task Rotation_changes_nothing_when_a_secret_was_tampered_with()
    {
        var ct = TestContext.Current.CancellationToken;
        var node = new NodePassphrase("old passphrase 123 of the heron", Path.Combine(_directory, "unused.key"));
        using var vault = new CredentialVault(_keys, node);
        var service = new OutgoingSettingsService(_settings, new OutgoingSettingsCache(_settings, TimeProvider.System), vault, Outbox(), TimeProvider.System);
        await service.ApplyAsync(Caller.Operator, new(Herald.Scopes.ScopePath.Root)
        {
            ConnectionChange = new ConnectionUpdate
            {
                Host = "smtp.example.org",
                Security = "starttls-required",
                Authentication = new AuthenticationChange.ToSasl("alice", "s3cret-pass", null),
            },
        }, ct);
        await using (var connection = await _database.OpenAsync(ct))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE secrets SET ciphertext = X'01000000000000000000000000000000000000000000000000000000000000'");
        }

        var paramsBefore = (await _keys.GetKeyParametersAsync(ct))!;
        var (succeeded, message) = await new CredentialKeyAdministration(_keys, node).RotateAsync(vault, "new passphrase 456 of the otter", ct);

        Assert.False(succeeded);
        Assert.Contains("smtp-connection//:default/password", message, StringComparison.Ordinal);
        Assert.Equal(paramsBefore.CheckValue, (await _keys.GetKeyParametersAsync(ct))!.CheckValue);
    }

    [Fact]
    public async Task A_node_with_another_passphrase_is_told_its_key_does_not_match()
    {
        var ct = TestContext.Current.CancellationToken;
        using (var first = new CredentialVault(_keys, new NodePassphrase("first passphrase 1 of the lynx", "unused")))
        {
            Assert.NotNull((await first.GetKeyAsync(initializeDatabase: true, ct)).Key);
        }

        using var second = new CredentialVault(_keys, new NodePassphrase("second passphrase 2 of the wren", "unused"));
        var status = await second.GetKeyAsync(initializeDatabase: true, ct);

        Assert.Null(status.Key);
        Assert.Contains("does not match", status.Problem, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
