using System.Net;
using System.Text;
using Dapper;
using Herald.Access;
using Herald.Outbox;
using Herald.Relay;
using Herald.Scopes;
using Herald.Storage.Access;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary>The console's storage on real SQLite and real PostgreSQL: administrators with their
/// lock-out and security stamp, and the dashboard's figures per scope.</summary>
public sealed class ConsoleStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static readonly IPAddress Client = IPAddress.Loopback;

    private static readonly AdministratorSignIn Invalid = new AdministratorSignIn.Invalid(AdministratorService.InvalidSentence);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Five_wrong_passwords_lock_an_administrator_for_fifteen_minutes_even_with_the_right_one(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, time) = await ServicesAsync(db);
        Assert.False((await service.CreateAsync(Caller.Operator, "alice", "/hr", "correct horse battery", Ct)).Refused);

        await LockAsync(service, "alice");

        Assert.Equal(Invalid, await service.SignInAsync("alice", "correct horse battery", Client, Ct));
        var locked = (await store.FindAsync("alice", Ct))!;
        Assert.Equal((AdministratorService.MaxFailures, Now + AdministratorService.LockOut), (locked.FailedAttempts, locked.LockedUntil));

        time.Advance(AdministratorService.LockOut);
        var success = Assert.IsType<AdministratorSignIn.Success>(await service.SignInAsync("alice", "correct horse battery", Client, Ct));
        Assert.Equal(ScopePath.Parse("/hr"), success.Administrator.Scope);
        var stored = (await store.FindAsync("alice", Ct))!;
        Assert.Equal(0, stored.FailedAttempts);
        Assert.Null(stored.LockedUntil);
        var hash = await PasswordHashAsync(db, "alice");
        Assert.StartsWith("pbkdf2-sha256$600000$", hash, StringComparison.Ordinal);
        Assert.DoesNotContain("correct horse", hash, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Twenty_parallel_wrong_passwords_lock_after_exactly_five(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        // Every guess at once: no per-address limit or hashing queue stands in the way of the race.
        var (service, store, time) = await ServicesAsync(db, new SignInOptions { FailuresPerAddress = 100, ChecksAtOncePerAddress = 20, HashesAtOnce = 20 });
        // A cheap hash (its iteration count is stored with it), so that the test is about counting.
        Assert.True(await store.CreateAsync(new Administrator("alice", ScopePath.Root, Now, 0, null, "stamp"), RelayPasswords.Hash("correct horse battery", 1000), Ct));

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => service.SignInAsync("alice", $"wrong password {i}", Client, Ct))));

        Assert.All(answers, answer => Assert.Equal(Invalid, answer));
        var stored = (await store.FindAsync("alice", Ct))!;
        Assert.Equal(AdministratorService.MaxFailures, stored.FailedAttempts);
        Assert.Equal(Now + AdministratorService.LockOut, stored.LockedUntil);
        Assert.Equal(Invalid, await service.SignInAsync("alice", "correct horse battery", Client, Ct));
        time.Advance(AdministratorService.LockOut);
        Assert.IsType<AdministratorSignIn.Success>(await service.SignInAsync("alice", "correct horse battery", Client, Ct));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_locked_name_answers_exactly_as_an_unknown_one_and_is_not_counted_further(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);
        Assert.True(await store.CreateAsync(new Administrator("alice", ScopePath.Root, Now, 0, null, "stamp"), RelayPasswords.Hash("correct horse battery", 1000), Ct));
        await LockAsync(service, "alice");

        var locked = await service.SignInAsync("alice", "correct horse battery", Client, Ct);
        var unknown = await service.SignInAsync("nobody", "correct horse battery", Client, Ct);

        Assert.Equal(unknown, locked);
        Assert.Equal(AdministratorService.MaxFailures, (await store.FindAsync("alice", Ct))!.FailedAttempts);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_reset_password_lifts_the_lock_and_changes_the_security_stamp(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);
        var created = (await service.CreateAsync(Caller.Operator, "alice", "/", "correct horse battery", Ct)).Value!;
        await LockAsync(service, "alice");

        Assert.Null(await service.ResetPasswordAsync(Caller.Operator, "alice", "a new long password", Ct));

        var signedIn = Assert.IsType<AdministratorSignIn.Success>(await service.SignInAsync("alice", "a new long password", Client, Ct));
        Assert.NotEqual(created.SecurityStamp, signedIn.Administrator.SecurityStamp);
        Assert.Equal(signedIn.Administrator.SecurityStamp, (await store.FindAsync("alice", Ct))!.SecurityStamp);
        Assert.Null(await service.ResumeSessionAsync("alice", "/", created.SecurityStamp, Ct));
        Assert.NotNull(await service.ResumeSessionAsync("alice", "/", signedIn.Administrator.SecurityStamp, Ct));
        Assert.Equal(RefusalKind.NotFound, (await service.ResetPasswordAsync(Caller.Operator, "nobody", "a new long password", Ct))!.Kind);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Moving_an_administrator_to_another_scope_changes_the_stamp_and_scope_administrators_manage_only_their_own(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, store, _) = await ServicesAsync(db);
        var alice = (await service.CreateAsync(Caller.Operator, "alice", "/", "correct horse battery", Ct)).Value!;
        var hr = new Caller.ConsoleAdministrator("hr-admin", ScopePath.Parse("/hr"));

        Assert.Equal(RefusalKind.NotFound, (await service.SetScopeAsync(hr, "alice", "/hr", Ct))!.Kind);
        Assert.Equal(RefusalKind.NotFound, (await service.RemoveAsync(hr, "alice", Ct))!.Kind);
        Assert.Equal(RefusalKind.NotAllowed, (await service.CreateAsync(hr, "bob", "/", "correct horse battery", Ct)).Refusal!.Kind);
        Assert.Empty(await service.ListAsync(hr, Ct));
        Assert.Equal(RefusalKind.Invalid, (await service.SetScopeAsync(Caller.Operator, "alice", "/nowhere", Ct))!.Kind);
        Assert.Equal(alice, await store.FindAsync("alice", Ct));

        Assert.Null(await service.SetScopeAsync(Caller.Operator, "alice", "/hr", Ct));

        var moved = (await store.FindAsync("alice", Ct))!;
        Assert.Equal(ScopePath.Parse("/hr"), moved.Scope);
        Assert.NotEqual(alice.SecurityStamp, moved.SecurityStamp);
        Assert.Null(await service.ResumeSessionAsync("alice", "/", alice.SecurityStamp, Ct));
        Assert.Equal(["alice"], (await service.ListAsync(hr, Ct)).Select(a => a.Name));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_first_administrator_can_be_created_only_once_and_bad_fields_are_named(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, _) = await ServicesAsync(db);

        Assert.False((await service.CreateFirstAsync("first", "long enough password", Ct)).Refused);
        Assert.Equal("name", Assert.Single((await service.CreateFirstAsync("second", "long enough password", Ct)).Refusal!.Errors).Field);
        Assert.Equal("name", Assert.Single((await service.CreateAsync(Caller.Operator, "first", "/", "long enough password", Ct)).Refusal!.Errors).Field);
        var errors = (await service.CreateAsync(Caller.Operator, "bad name!", "/nowhere", "short", Ct)).Refusal!.Errors;
        Assert.Equal(["name", "password"], errors.Select(e => e.Field));
        Assert.Equal("scope", Assert.Single((await service.CreateAsync(Caller.Operator, "carol", "/nowhere", "long enough password", Ct)).Refusal!.Errors).Field);

        Assert.Equal(["first"], (await service.ListAsync(Caller.Operator, Ct)).Select(a => a.Name));
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

    private static async Task<(AdministratorService Service, SqlAdministratorStore Store, FakeTimeProvider Time)> ServicesAsync(TestDatabase db, SignInOptions? options = null)
    {
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
        var store = new SqlAdministratorStore(db.Database);
        return (new AdministratorService(store, settings, new PasswordChecks(Options.Create(options ?? new SignInOptions())), time), store, time);
    }

    /// <summary>Five wrong passwords in a row, each answered as invalid.</summary>
    private static async Task LockAsync(AdministratorService service, string name)
    {
        for (var i = 0; i < AdministratorService.MaxFailures; i++)
        {
            Assert.Equal(Invalid, await service.SignInAsync(name, $"wrong password {i}", Client, Ct));
        }
    }

    private static async Task<string> PasswordHashAsync(TestDatabase db, string name)
    {
        await using var connection = await db.Database.OpenAsync(Ct);
        return await connection.QuerySingleAsync<string>("SELECT password_hash FROM administrators WHERE name = @name", new { name });
    }
}
