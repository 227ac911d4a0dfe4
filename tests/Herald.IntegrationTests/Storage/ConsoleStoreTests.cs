using System.Text;
using Herald.Access;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Storage.Access;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary>The console's storage on real SQLite and real PostgreSQL: administrators with their
/// lock-out, and the dashboard's figures per scope.</summary>
public sealed class ConsoleStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Five_wrong_passwords_lock_an_administrator_for_fifteen_minutes_even_with_the_right_one(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, time) = await ServicesAsync(db);
        Assert.Empty(await service.CreateAsync("alice", "/hr", "correct horse battery", onlyIfFirst: false, Ct));

        for (var i = 1; i < AdministratorService.MaxFailures; i++)
        {
            Assert.IsType<AdministratorSignIn.Invalid>(await service.SignInAsync("alice", "wrong password", Ct));
        }

        var locked = Assert.IsType<AdministratorSignIn.LockedOut>(await service.SignInAsync("alice", "wrong password", Ct));
        Assert.Equal(Now + AdministratorService.LockOut, locked.Until);
        Assert.IsType<AdministratorSignIn.LockedOut>(await service.SignInAsync("alice", "correct horse battery", Ct));
        Assert.Equal(Now + AdministratorService.LockOut, (await store.FindAsync("alice", Ct))!.Value.Administrator.LockedUntil);

        time.Advance(AdministratorService.LockOut);
        var success = Assert.IsType<AdministratorSignIn.Success>(await service.SignInAsync("alice", "correct horse battery", Ct));
        Assert.Equal(ScopePath.Parse("/hr"), success.Administrator.Scope);
        var stored = (await store.FindAsync("alice", Ct))!.Value;
        Assert.Equal(0, stored.Administrator.FailedAttempts);
        Assert.Null(stored.Administrator.LockedUntil);
        Assert.StartsWith("pbkdf2-sha256$600000$", stored.PasswordHash, StringComparison.Ordinal);
        Assert.DoesNotContain("correct horse", stored.PasswordHash, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_reset_password_lifts_the_lock_and_an_unknown_name_is_refused_like_a_wrong_password(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, _) = await ServicesAsync(db);
        await service.CreateAsync("alice", "/", "correct horse battery", onlyIfFirst: false, Ct);
        for (var i = 0; i < AdministratorService.MaxFailures; i++)
        {
            await service.SignInAsync("alice", "wrong password", Ct);
        }

        Assert.Empty(await service.ResetPasswordAsync("alice", "a new long password", Ct));

        Assert.IsType<AdministratorSignIn.Success>(await service.SignInAsync("alice", "a new long password", Ct));
        Assert.IsType<AdministratorSignIn.Invalid>(await service.SignInAsync("nobody", "a new long password", Ct));
        Assert.Equal("name", Assert.Single(await service.ResetPasswordAsync("nobody", "a new long password", Ct)).Field);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_first_administrator_can_be_created_only_once_and_bad_fields_are_named(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, _) = await ServicesAsync(db);

        Assert.Empty(await service.CreateAsync("first", "/", "long enough password", onlyIfFirst: true, Ct));
        Assert.Equal("name", Assert.Single(await service.CreateAsync("second", "/", "long enough password", onlyIfFirst: true, Ct)).Field);
        Assert.Equal("name", Assert.Single(await service.CreateAsync("first", "/", "long enough password", onlyIfFirst: false, Ct)).Field);
        var errors = await service.CreateAsync("bad name!", "/nowhere", "short", onlyIfFirst: false, Ct);
        Assert.Equal(["name", "password"], errors.Select(e => e.Field));
        Assert.Equal("scope", Assert.Single(await service.CreateAsync("carol", "/nowhere", "long enough password", onlyIfFirst: false, Ct)).Field);

        Assert.Equal(["first"], (await service.ListAsync(Ct)).Select(a => a.Name));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Dashboard_counts_attempts_per_hour_and_recipients_per_state_within_a_scope_only(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlOutboxStore(db.Database, db.Spool);
        await store.EnqueueAsync([Message("hr1", "/hr", ["a@example.org", "b@example.org"]), Message("pay1", "/hr/payroll", ["c@example.org"]), Message("fin1", "/finance", ["d@example.org"])], Ct);
        var claimed = await store.ClaimAsync("node-a", null, 10, Now, TimeSpan.FromMinutes(2), Ct);
        Assert.Equal(3, claimed.Count);
        var later = Now.AddHours(1);
        await store.RecordAsync(
            [
                new AttemptOutcome("hr1", "node-a", Now, [new RecipientUpdate(0, RecipientState.Sent, 250, "250 ok"), new RecipientUpdate(1, RecipientState.Deferred, 451, "451 later")], later),
                new AttemptOutcome("pay1", "node-a", later, [new RecipientUpdate(0, RecipientState.Bounced, 550, "550 no")], later),
                new AttemptOutcome("fin1", "node-a", Now, [new RecipientUpdate(0, RecipientState.Sent, 250, "250 ok")], later),
            ], Ct);

        var hours = await store.CountAttemptsByHourAsync(ScopePath.Parse("/hr"), Now.AddHours(-1), Ct);
        var hour = new DateTimeOffset(2031, 5, 6, 7, 0, 0, TimeSpan.Zero);
        Assert.Equal(
            [(hour, RecipientState.Deferred, 1L), (hour, RecipientState.Sent, 1L), (hour.AddHours(1), RecipientState.Bounced, 1L)],
            hours.Select(h => (h.Hour, h.Outcome, h.Count)).OrderBy(h => h.Hour).ThenBy(h => h.Outcome.ToString(), StringComparer.Ordinal));
        Assert.Empty(await store.CountAttemptsByHourAsync(ScopePath.Parse("/hr"), later.AddHours(1), Ct));

        var states = await store.CountByStateAsync(ScopePath.Parse("/hr"), Ct);
        Assert.Equal(new Dictionary<RecipientState, long> { [RecipientState.Sent] = 1, [RecipientState.Deferred] = 1, [RecipientState.Bounced] = 1 }, states);
        Assert.Equal(2, (await store.CountByStateAsync(ScopePath.Root, Ct))[RecipientState.Sent]);
    }

    private static NewMessage Message(string id, string scope, string[] to) => new(
        id, ScopePath.Parse(scope), MessageSource.Api, "alerts@example.org", null, $"<{id}@example.org>",
        Encoding.ASCII.GetBytes($"Message-ID: <{id}@example.org>\r\nSubject: {id}\r\n\r\nbody\r\n"), to, null, Now, Now.AddDays(5));

    private static async Task<(AdministratorService Service, SqlAdministratorStore Store, FakeTimeProvider Time)> ServicesAsync(TestDatabase db)
    {
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
        var store = new SqlAdministratorStore(db.Database);
        return (new AdministratorService(store, settings, time), store, time);
    }
}
