using Herald.Credentials;
using Herald.Operations;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Herald.Tests.Operations;

/// <summary>The node checks' own rules, with a fake database and workers; the real ones are
/// checked through <c>/readyz</c> and <c>herald doctor</c> in the integration tests.</summary>
public sealed class NodeChecksTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 3, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_worker_that_stopped_on_an_error_fails_readiness_naming_the_error()
    {
        using var crashed = new CrashingWorker();
        using var running = new WaitingWorker();
        await crashed.StartAsync(TestContext.Current.CancellationToken);
        await running.StartAsync(TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<InvalidOperationException>(() => crashed.ExecuteTask!);

        var checks = Checks(new FakeDatabase(_time), crashed, running).Workers().ToArray();

        Assert.Collection(checks,
            c => Assert.Equal((CheckStatus.Fail, "worker CrashingWorker"), (c.Status, c.Name)),
            c => Assert.Equal((CheckStatus.Ok, "worker WaitingWorker"), (c.Status, c.Name)));
        Assert.Contains("Stopped on an error: the disk caught fire", checks[0].Detail, StringComparison.Ordinal);
        await running.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Readiness_fails_on_a_database_that_lacks_a_migration_and_leaves_out_what_needs_the_schema()
    {
        var database = new FakeDatabase(_time) { Schema = new SchemaVersions([1, 2, 3], [1, 2, 3, 4, 5]) };

        var report = await Checks(database).ReadinessAsync(TestContext.Current.CancellationToken);

        Assert.Equal(CheckStatus.Fail, report.Status);
        var migrations = Assert.Single(report.Failed);
        Assert.Equal("migrations", migrations.Name);
        Assert.Contains("2 migration(s) of this binary are not applied (0004, 0005)", migrations.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(report.Checks, c => c.Name == "credential key");
    }

    [Fact]
    public void Migrations_from_a_newer_release_only_warn_and_name_the_versions()
    {
        var check = NodeChecks.Migrations(new SchemaVersions([1, 2, 3, 7], [1, 2, 3]));

        Assert.Equal(CheckStatus.Warn, check.Status);
        Assert.Contains("(0007)", check.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.5, CheckStatus.Ok)]
    [InlineData(-5, CheckStatus.Warn)]
    [InlineData(45, CheckStatus.Fail)]
    public async Task Clock_skew_against_the_database_is_ok_within_two_seconds_and_fails_beyond_thirty(double seconds, CheckStatus expected)
    {
        var database = new FakeDatabase(_time) { Skew = TimeSpan.FromSeconds(seconds) };

        var check = await Checks(database).ClockSkewAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.Equal(expected, check.Status);
        Assert.Contains(seconds >= 0 ? "ahead of this node's" : "behind this node's", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_passphrase_that_is_not_the_databases_fails_and_is_not_derived_again_on_the_next_check()
    {
        using var theirs = CredentialKey.Create("the database's own passphrase, teal walrus", iterations: 1000);
        var store = new NoKeyStore { Stored = theirs.Parameters };
        var passphrase = new NodePassphrase("this node's wrong passphrase, amber crow", "/nonexistent/credential.key");
        var checks = new NodeChecks(new FakeDatabase(_time), store, new CredentialVault(store, passphrase), [], _time);

        var first = await checks.CredentialKeyAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        var second = await checks.CredentialKeyAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);

        Assert.Equal(CheckStatus.Fail, first.Status);
        Assert.Contains("does not match this database's key", first.Detail, StringComparison.Ordinal);
        Assert.Equal(first, second);
        // Each check reads the stored parameters once; only the first asked the vault (which reads them too) to derive.
        Assert.Equal(3, store.Reads);
        Assert.DoesNotContain("amber crow", first.Detail, StringComparison.Ordinal);
    }

    private NodeChecks Checks(FakeDatabase database, params IHostedService[] workers) =>
        new(database, new NoKeyStore(), new CredentialVault(new NoKeyStore(), new NodePassphrase(null, "/nonexistent/credential.key")), workers, _time);

    private sealed class FakeDatabase(TimeProvider time) : IDatabaseProbe
    {
        public SchemaVersions Schema { get; init; } = new([1, 2], [1, 2]);

        public TimeSpan Skew { get; init; }

        public string Engine => "postgres";

        public bool SharesThisMachinesClock => false;

        public Task<SchemaVersions> ReadSchemaAsync(CancellationToken cancellationToken) => Task.FromResult(Schema);

        public Task<DateTimeOffset> ReadClockAsync(CancellationToken cancellationToken) => Task.FromResult(time.GetUtcNow() + Skew);
    }

    private sealed class NoKeyStore : ICredentialKeyStore
    {
        public KeyParameters? Stored { get; init; }

        public int Reads { get; private set; }

        public Task<KeyParameters?> GetKeyParametersAsync(CancellationToken cancellationToken)
        {
            Reads++;
            return Task.FromResult(Stored);
        }

        public Task<KeyParameters> InitializeKeyParametersAsync(KeyParameters parameters, CancellationToken cancellationToken) => Task.FromResult(parameters);

        public Task<RotationOutcome> RotateKeyAsync(KeyParameters current, KeyParameters replacement, Func<string, EncryptedSecret, EncryptedSecret?> reseal, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }

    private sealed class CrashingWorker : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await Task.Yield();
            throw new InvalidOperationException("the disk caught fire");
        }
    }

    private sealed class WaitingWorker : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Delay(Timeout.Infinite, stoppingToken);
    }
}
