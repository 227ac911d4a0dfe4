using System.Text;
using Dapper;
using Herald.Access;
using Herald.IntegrationTests.Storage;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;
using Herald.Storage.Suppression;
using Herald.Suppression;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Herald.IntegrationTests.UseCases.Outcome;

namespace Herald.IntegrationTests.UseCases;

/// <summary>
/// Who may submit, show, list, retry and cancel messages (<see cref="SubmissionService"/>,
/// <see cref="QueueService"/>), asked of every caller of <see cref="Callers"/> on SQLite and
/// PostgreSQL, with what the database holds afterwards. A message of a scope the caller cannot
/// see answers exactly as one that does not exist.
/// </summary>
public sealed class QueueUseCaseTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Senders_and_administrators_of_its_scope_submit_into_it_and_nobody_else(string engine)
    {
        await using var queue = await QueueUnderTest.StartAsync(engine);

        await Callers.ExpectAsync(
            Callers.Expect(Done, Done, NotAllowed, NotAllowed, NotAllowed, Done),
            async (i, caller) => Callers.Of(await queue.Submissions.SubmitAsync(
                caller, [new SubmitRequest { Scope = "/hr", To = ["a@example.org"], Subject = $"from {Callers.All[i].Name}", Text = "x" }], batch: false, Ct)));

        Assert.Equal(["from admin /", "from admin /hr", "from sender /hr"], await queue.SubjectsAsync());
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_message_is_shown_to_the_senders_and_administrators_of_its_scope_and_is_missing_for_everyone_else(string engine)
    {
        await using var queue = await QueueUnderTest.StartAsync(engine);
        await queue.EnqueueAsync("hr-message", "/hr");
        var missing = await queue.Service.ShowAsync(Caller.Operator, "no-such-message", Ct);

        await Callers.ExpectAsync(
            Callers.Expect(Done, Done, NotFound, NotFound, NotFound, Done),
            async (_, caller) =>
            {
                var shown = await queue.Service.ShowAsync(caller, "hr-message", Ct);
                if (shown.Refusal is { } refusal)
                {
                    // Word for word what a missing id gets, but for the id itself.
                    Assert.Equal(missing.Refusal!.Sentence.Replace("no-such-message", "hr-message", StringComparison.Ordinal), refusal.Sentence);
                }

                return Callers.Of(shown);
            });
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_scope_and_its_subtree_are_listed_for_its_administrators_only(string engine)
    {
        await using var queue = await QueueUnderTest.StartAsync(engine);
        foreach (var scope in new[] { "/", "/hr", "/hr/payroll", "/hr2", "/hr.x" })
        {
            await queue.EnqueueAsync($"in {scope}", scope);
        }

        var seen = new Dictionary<string, string>();
        await Callers.ExpectAsync(
            // A scope named and not held is refused, by every door alike.
            Callers.Expect(NotAllowed, Done, NotAllowed, NotAllowed, NotAllowed, Done),
            async (i, caller) =>
            {
                var listed = await queue.Service.ListAsync(caller, new MessageQuery("/hr"), Ct);
                seen[Callers.All[i].Name] = string.Join(", ", (listed.Value ?? []).Select(m => m.Id).Order(StringComparer.Ordinal));
                return Callers.Of(listed);
            });

        Assert.Equal("in /hr, in /hr/payroll", seen["admin /hr"]);
        Assert.Equal("in /hr, in /hr/payroll", seen["admin /"]);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Only_administrators_of_its_scope_cancel_a_message(string engine)
    {
        await using var queue = await QueueUnderTest.StartAsync(engine);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            await queue.EnqueueAsync($"cancel-{i}", "/hr");
        }

        await Callers.ExpectAsync(
            Callers.Expect(NotAllowed, Done, NotFound, NotFound, NotFound, Done),
            async (i, caller) => Callers.Of(await queue.Service.CancelAsync(caller, $"cancel-{i}", Ct)));

        for (var i = 0; i < Callers.All.Count; i++)
        {
            var cancelled = Callers.All[i].Name is "admin /hr" or "admin /";
            Assert.Equal($"cancel-{i}: {(cancelled ? "cancelled" : "queued")}", $"cancel-{i}: {await queue.RecipientStateAsync($"cancel-{i}")}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Only_administrators_of_its_scope_retry_a_message(string engine)
    {
        await using var queue = await QueueUnderTest.StartAsync(engine);
        for (var i = 0; i < Callers.All.Count; i++)
        {
            await queue.EnqueueAsync($"retry-{i}", "/hr");
        }

        queue.Time.Advance(TimeSpan.FromHours(1));
        await Callers.ExpectAsync(
            Callers.Expect(NotAllowed, Done, NotFound, NotFound, NotFound, Done),
            async (i, caller) => Callers.Of(await queue.Service.RetryAsync(caller, $"retry-{i}", Ct)));

        for (var i = 0; i < Callers.All.Count; i++)
        {
            var retried = Callers.All[i].Name is "admin /hr" or "admin /";
            Assert.Equal($"retry-{i}: {(retried ? Now.AddHours(1) : Now):O}", $"retry-{i}: {await queue.NextAttemptAsync($"retry-{i}"):O}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_filter_is_checked_field_by_field(string engine)
    {
        await using var queue = await QueueUnderTest.StartAsync(engine);

        var refused = await queue.Service.ListAsync(
            Caller.Operator, new MessageQuery("hr") { State = "lost", Recipient = new string('a', 321), Limit = 1001 }, Ct);

        Assert.Equal(["scope", "state", "recipient", "limit"], refused.Refusal!.Errors.Select(e => e.Field));
    }

    /// <summary>The queue's use cases over a migrated database whose scope / sends as herald@example.org.</summary>
    private sealed class QueueUnderTest : IAsyncDisposable
    {
        private readonly TestDatabase _db;
        private readonly OutboxWriter _writer;
        private readonly SqlOutboxStore _store;

        private QueueUnderTest(TestDatabase db, SqlOutboxStore store, OutboxWriter writer, QueueService service, SubmissionService submissions, FakeTimeProvider time) =>
            (_db, _store, _writer, Service, Submissions, Time) = (db, store, writer, service, submissions, time);

        public QueueService Service { get; }

        public SubmissionService Submissions { get; }

        public FakeTimeProvider Time { get; }

        public static async Task<QueueUnderTest> StartAsync(string engine)
        {
            var db = await TestDatabases.CreateAsync(engine);
            var time = new FakeTimeProvider(Now);
            var settings = new SqlSettingsStore(db.Database, time);
            foreach (var scope in Callers.Scopes)
            {
                await settings.AddScopeAsync(ScopePath.Parse(scope), Ct);
            }

            await settings.SaveOutgoingAsync(
                new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default", FromAddress = EmailAddress.Parse("herald@example.org") },
                new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "127.0.0.1", Security = SmtpSecurity.None },
                Ct);
            var store = new SqlOutboxStore(db.Database, db.Spool);
            var outboxOptions = Options.Create(new OutboxOptions());
            var signal = new OutboxSignal();
            var writer = new OutboxWriter(store, signal, new DeliveryCapacity(Options.Create(new DeliveryOptions()), new NodeIdentity("queue", []), time), new SuppressionCheck(new SqlSuppressionStore(db.Database), time), outboxOptions);
            var deliveryOptions = Options.Create(new DeliveryOptions());
            var submissions = new SubmissionService(
                new OutgoingSettingsCache(settings, time), writer, new DiskSpaceGuard(db.DataDirectory, outboxOptions, time), outboxOptions, deliveryOptions, time);
            return new QueueUnderTest(db, store, writer, new QueueService(store, signal, deliveryOptions, time), submissions, time);
        }

        public async Task EnqueueAsync(string id, string scope) =>
            await _store.EnqueueAsync(
                [new NewMessage(id, ScopePath.Parse(scope), MessageSource.Api, "herald@example.org", "default", $"<{id}@example.org>",
                    Encoding.ASCII.GetBytes($"Subject: {id}\r\n\r\nx\r\n"), ["a@example.org"], null, Now, Now.AddDays(5)) { Subject = id }],
                Ct);

        public async Task<string[]> SubjectsAsync()
        {
            await using var connection = await _db.Database.OpenAsync(Ct);
            return (await connection.QueryAsync<string>("SELECT subject FROM messages WHERE scope_path = '/hr'")).Order(StringComparer.Ordinal).ToArray();
        }

        public async Task<string> RecipientStateAsync(string id)
        {
            await using var connection = await _db.Database.OpenAsync(Ct);
            return await connection.QuerySingleAsync<string>("SELECT state FROM recipients WHERE message_id = @id", new { id });
        }

        public async Task<DateTimeOffset> NextAttemptAsync(string id)
        {
            await using var connection = await _db.Database.OpenAsync(Ct);
            return DateTimeOffset.FromUnixTimeMilliseconds(await connection.QuerySingleAsync<long>("SELECT next_attempt_at FROM messages WHERE id = @id", new { id }));
        }

        public async ValueTask DisposeAsync()
        {
            await _writer.DisposeAsync();
            await _db.DisposeAsync();
        }
    }
}
