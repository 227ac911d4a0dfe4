using System.Text;
using System.Text.Json;
using Herald.Access;
using Herald.IntegrationTests.Storage;
using Herald.Outbox;
using Herald.Outbox.DeadLetters;
using Herald.Scopes;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;
using Herald.Storage.Suppression;
using Herald.Suppression;
using Herald.Work;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.DeadLetters;

/// <summary><see cref="DeadLetterService"/> over <see cref="SqlDeadLetterStore"/> on real SQLite and
/// real PostgreSQL: dead letters made the way delivery makes them (attempts recorded by the outbox,
/// a quarantine, a suppression list), then listed, retried, suppressed and exported.</summary>
public sealed class DeadLetterStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private static readonly Caller HrAdministrator = new Caller.ConsoleAdministrator("alice", ScopePath.Parse("/hr"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Filters_select_by_scope_subtree_state_domain_and_time_newest_first(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var h = await Harness.CreateAsync(db);

        Assert.Equal(["m2 d@other.net", "m2 c@sub.example.org", "m1 a@Example.ORG", "m5 g@example.org"], Rows(await h.ListAsync(HrAdministrator, new("/hr"))));
        Assert.Equal(["m1 a@Example.ORG", "m5 g@example.org"], Rows(await h.ListAsync(HrAdministrator, new("/hr", Domain: "EXAMPLE.org"))));
        Assert.Equal(["m2 c@sub.example.org"], Rows(await h.ListAsync(Caller.Operator, new("/", Domain: "@Sub.Example.Org"))));
        Assert.Equal(["m2 d@other.net", "m2 c@sub.example.org"], Rows(await h.ListAsync(Caller.Operator, new("/", State: "expired"))));
        Assert.Equal(["m6 x@example.org", "m4 f@example.org", "m3 e@example.org", "m1 a@Example.ORG"], Rows(await h.ListAsync(Caller.Operator, new("/", State: "bounced, failed"))));
        Assert.Equal(
            ["m2 d@other.net", "m2 c@sub.example.org", "m1 a@Example.ORG"],
            Rows(await h.ListAsync(Caller.Operator, new("/", Since: Now.AddHours(1), Until: Now.AddHours(3)))));
        // /hr2 and /hr.x are not below /hr.
        Assert.Equal(["m6 x@example.org"], Rows(await h.ListAsync(Caller.Operator, new("/hr.x"))));
        Assert.Equal(["m3 e@example.org"], Rows(await h.ListAsync(Caller.Operator, new("/hr2"))));

        // Pages of two, continued from each page's next, give the whole list once.
        var all = Rows(await h.ListAsync(Caller.Operator, new("/")));
        var paged = new List<string>();
        for (string? after = null; ;)
        {
            var page = (await h.Service.ListAsync(Caller.Operator, new("/", After: after, Limit: 2), Ct)).Value!;
            paged.AddRange(Rows(page));
            if ((after = page.Next) is null)
            {
                break;
            }
        }

        Assert.Equal(7, all.Count);
        Assert.Equal(all, paged);

        var above = await h.Service.ListAsync(HrAdministrator, new("/"), Ct);
        Assert.Equal(RefusalKind.NotAllowed, above.Refusal!.Kind);
        var bad = await h.Service.ListAsync(HrAdministrator, new("/hr", State: "sent", Domain: "exa mple.org", After: "x", Limit: 1_000_000_000), Ct);
        Assert.Equal(["state", "domain", "after", "limit"], bad.Refusal!.Errors.Select(e => e.Field));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Retry_makes_exactly_the_selected_recipients_due_and_the_same_retry_again_changes_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var h = await Harness.CreateAsync(db);
        h.Time.Advance(TimeSpan.FromDays(1));

        var selection = new DeadLetterSelection([new("m1", "a@Example.ORG"), new("m2", "c@sub.example.org"), new("m4", "f@example.org"), new("m5", "g@example.org")], null);
        var first = await h.Service.RetryAsync(Caller.Operator, selection, Ct);
        // g's address is still on the list of /hr: skipped.
        Assert.Equal(new DeadLetterOutcome(4, 3, 1), first.Value);

        var claimed = await h.Outbox.ClaimAsync("node-b", null, 100, h.Time.GetUtcNow(), Lease, Ct);
        Assert.Equal(
            ["m1: a@Example.ORG", "m2: c@sub.example.org", "m4: f@example.org"],
            claimed.Select(m => $"{m.Id}: {string.Join(' ', m.Recipients.Select(r => r.Address))}").Order(StringComparer.Ordinal));
        Assert.Equal(0, claimed.Single(m => m.Id == "m4").Failures);
        Assert.Equal(Now.AddDays(6), claimed.Single(m => m.Id == "m2").ExpiresAt);
        var states = await StatesAsync(h);
        Assert.Equal(("sent", "expired", "suppressed", "bounced"), (states["b@example.org"], states["d@other.net"], states["g@example.org"], states["e@example.org"]));

        Assert.Equal(new DeadLetterOutcome(4, 0, 4), (await h.Service.RetryAsync(Caller.Operator, selection, Ct)).Value);

        // Once its entry is removed, the suppressed recipient is retried too.
        var entry = (await h.Suppressions.ListAsync(Caller.Operator, new SuppressionQuery("/"), Ct)).Value!.Entries.Single();
        await h.Suppressions.RemoveAsync(Caller.Operator, entry.Id, Ct);
        Assert.Equal(new DeadLetterOutcome(4, 1, 3), (await h.Service.RetryAsync(Caller.Operator, selection, Ct)).Value);
        Assert.Equal("queued", (await StatesAsync(h))["g@example.org"]);
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_selection_naming_another_scopes_message_is_refused_whole_and_a_filter_above_the_cap_retries_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var h = await Harness.CreateAsync(db);
        var before = await StatesAsync(h);

        var foreign = await h.Service.RetryAsync(HrAdministrator, new([new("m1", "a@Example.ORG"), new("m3", "e@example.org")], null), Ct);
        var lookalike = await h.Service.SuppressAsync(HrAdministrator, new([new("m6", "x@example.org")], null), Ct);
        var filterAbove = await h.Service.RetryAsync(HrAdministrator, new(null, new DeadLetterQuery("/")), Ct);
        Assert.Equal("No message 'm3' in the scopes you administer; nothing was retried.", foreign.Refusal!.Sentence);
        Assert.Equal(RefusalKind.NotFound, lookalike.Refusal!.Kind);
        Assert.Equal(RefusalKind.NotAllowed, filterAbove.Refusal!.Kind);
        Assert.Equal(before, await StatesAsync(h));
        Assert.Empty((await h.Suppressions.ListAsync(Caller.Operator, new SuppressionQuery("/", Address: "x@example.org"), Ct)).Value!.Entries);

        // 10,001 dead letters in /finance: "everything matching" is refused with a sentence.
        var many = Enumerable.Range(0, DeadLetterService.MaxSelection + 1).Select(i => $"r{i}@example.org").ToArray();
        await h.Outbox.EnqueueAsync([Message("many", "/finance", many) with { Suppressed = many.Select((_, i) => new SuppressedRecipient(i, "Suppressed.")).ToArray() }], Ct);
        var capped = await h.Service.RetryAsync(Caller.Operator, new(null, new DeadLetterQuery("/finance", State: "suppressed")), Ct);
        Assert.Equal(("filter", "The filter selects more than 10,000 recipients; narrow it (by time, state or domain) and retry them in parts."), (capped.Refusal!.Errors.Single().Field, capped.Refusal.Errors.Single().Message));
        Assert.Equal(DeadLetterService.MaxSelection + 1, (await StatesAsync(h)).Count(s => s.Key.StartsWith('r') && s.Value == "suppressed"));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Suppress_these_adds_administrator_entries_and_the_next_message_to_those_addresses_is_suppressed(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var h = await Harness.CreateAsync(db);

        var outcome = await h.Service.SuppressAsync(HrAdministrator, new(null, new DeadLetterQuery("/hr", State: "expired,bounced")), Ct);

        Assert.Equal(new DeadLetterOutcome(3, 3, 0), outcome.Value);
        var entries = (await h.Suppressions.ListAsync(Caller.Operator, new SuppressionQuery("/"), Ct)).Value!.Entries;
        Assert.Equal(
            ["/hr a@Example.ORG administrator dead letters: suppress selected (message m1) administrator alice",
             "/hr/payroll c@sub.example.org administrator dead letters: suppress selected (message m2) administrator alice",
             "/hr/payroll d@other.net administrator dead letters: suppress selected (message m2) administrator alice"],
            entries.Where(e => e.Reason == SuppressionReason.Administrator)
                .Select(e => $"{e.Scope} {e.Address} {SuppressionReasonNames.Values.NameOf(e.Reason)} {e.Source} {e.CreatedBy}").Order(StringComparer.Ordinal));
        var next = await h.Check.MarkAsync([Message("n1", "/hr/payroll", ["a@example.org", "d@other.net", "new@example.org"])], Ct);
        Assert.Equal([0, 1], next[0].Suppressed.Select(s => s.Ordinal));
    }

    [Theory, MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Export_writes_every_dead_letter_as_csv_safe_for_spreadsheets_and_as_json(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var h = await Harness.CreateAsync(db);

        var csv = await ExportAsync(h, new("/hr", Domain: "example.org"), "csv");
        var json = JsonDocument.Parse(await ExportAsync(h, new("/", State: "failed"), "json")).RootElement;

        Assert.Equal(
            "message_id,recipient,state,code,reply,at,scope,subject\r\n"
            + "m1,a@Example.ORG,bounced,550,\"550 5.1.1 <a@Example.ORG>: unknown, \"\"gone\"\"\",2031-05-06T08:08:09.000Z,/hr,\"'=HYPERLINK(\"\"http://evil\"\")\"\r\n"
            + "m5,g@example.org,suppressed,,Suppressed: on the list,2031-05-06T07:08:09.000Z,/hr,'-2+3\r\n",
            csv);
        var row = Assert.Single(json.EnumerateArray());
        Assert.Equal(("m4", "f@example.org", "failed", "FormatException: bad", "/finance"),
            (row.GetProperty("messageId").GetString(), row.GetProperty("recipient").GetString(), row.GetProperty("state").GetString(), row.GetProperty("reply").GetString(), row.GetProperty("scope").GetString()));
        Assert.Equal(Now.AddHours(4), row.GetProperty("at").GetDateTimeOffset());
        Assert.Equal("format", h.Service.Export(Caller.Operator, new("/"), "xlsx").Refusal!.Errors.Single().Field);
    }

    private static async Task<string> ExportAsync(Harness h, DeadLetterQuery query, string format)
    {
        var export = h.Service.Export(Caller.Operator, query, format).Value!;
        using var buffer = new MemoryStream();
        await export.WriteAsync(buffer, Ct);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static List<string> Rows(DeadLetterPage page) => page.Items.Select(i => $"{i.MessageId} {i.Recipient}").ToList();

    private static async Task<Dictionary<string, string>> StatesAsync(Harness h)
    {
        await using var connection = await h.Db.Database.OpenAsync(Ct);
        return (await Dapper.SqlMapper.QueryAsync<(string Address, string State)>(connection, "SELECT address, state FROM recipients"))
            .ToDictionary(r => r.Address, r => r.State, StringComparer.Ordinal);
    }

    private static NewMessage Message(string id, string scope, string[] recipients, string? subject = null) =>
        new(id, ScopePath.Parse(scope), MessageSource.Api, "herald@example.org", null, $"<{id}@example.org>",
            MimeData.FromBytes(Encoding.ASCII.GetBytes("Subject: x\r\n\r\nx\r\n")), recipients, null, Now, Now.AddDays(5))
        { Subject = subject };

    /// <summary>Seven dead letters and one sent recipient, made as delivery makes them:
    /// m1 (/hr) a bounced at +1h, b sent; m2 (/hr/payroll) c and d expired at +2h; m3 (/hr2) e
    /// bounced at +3h; m4 (/finance) f quarantined at +4h; m5 (/hr) g suppressed as it is stored;
    /// m6 (/hr.x) x bounced at +5h.</summary>
    private sealed record Harness(TestDatabase Db, DeadLetterService Service, SqlOutboxStore Outbox, SuppressionService Suppressions, SuppressionCheck Check, FakeTimeProvider Time)
    {
        public async Task<DeadLetterPage> ListAsync(Caller caller, DeadLetterQuery query)
        {
            var listed = await Service.ListAsync(caller, query, Ct);
            Assert.Null(listed.Refusal);
            return listed.Value!;
        }

        public static async Task<Harness> CreateAsync(TestDatabase db)
        {
            var time = new FakeTimeProvider(Now);
            var settings = new SqlSettingsStore(db.Database, time);
            foreach (var scope in new[] { "/hr", "/hr/payroll", "/hr2", "/hr.x", "/finance" })
            {
                await settings.AddScopeAsync(ScopePath.Parse(scope), Ct);
            }

            var suppressionStore = new SqlSuppressionStore(db.Database);
            var suppressions = new SuppressionService(suppressionStore, settings, time);
            var check = new SuppressionCheck(suppressionStore, time);
            var outbox = new SqlOutboxStore(db.Database, db.Spool);
            var service = new DeadLetterService(new SqlDeadLetterStore(db.Database), suppressionStore, suppressions, new OutboxSignal(), Options.Create(new DeliveryOptions()), time);

            Assert.Null((await suppressions.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "g@example.org", "hard-bounce"), Ct)).Refusal);
            var marked = await check.MarkAsync(
            [
                Message("m1", "/hr", ["a@Example.ORG", "b@example.org"], "=HYPERLINK(\"http://evil\")"),
                Message("m2", "/hr/payroll", ["c@sub.example.org", "d@other.net"]),
                Message("m3", "/hr2", ["e@example.org"]),
                Message("m4", "/finance", ["f@example.org"]),
                Message("m5", "/hr", ["g@example.org"], "-2+3"),
                Message("m6", "/hr.x", ["x@example.org"]),
            ], Ct);
            // The reply of a suppressed recipient names its entry; a fixed one keeps the export comparable.
            marked[4] = marked[4] with { Suppressed = [new SuppressedRecipient(0, "Suppressed: on the list")] };
            await outbox.EnqueueAsync(marked, Ct);
            Assert.Equal(5, (await outbox.ClaimAsync("node-a", null, 100, Now, Lease, Ct)).Count);
            await outbox.RecordAsync(
            [
                new AttemptOutcome("m1", "node-a", Now.AddHours(1), [new(0, RecipientState.Bounced, 550, "550 5.1.1 <a@Example.ORG>: unknown, \"gone\""), new(1, RecipientState.Sent, 250, "250 ok")], Now.AddHours(1)),
                new AttemptOutcome("m2", "node-a", Now.AddHours(2), [new(0, RecipientState.Expired, 450, "450 4.3.0 try later"), new(1, RecipientState.Expired, 450, "450 4.3.0 try later")], Now.AddHours(2)),
                new AttemptOutcome("m3", "node-a", Now.AddHours(3), [new(0, RecipientState.Bounced, 550, "550 no")], Now.AddHours(3)),
                AttemptOutcome.Failed("m4", "node-a", Now.AddHours(4), new ItemFailure("FormatException: bad", 1, null)),
                new AttemptOutcome("m6", "node-a", Now.AddHours(5), [new(0, RecipientState.Bounced, 550, "550 no")], Now.AddHours(5)),
            ], Ct);
            return new Harness(db, service, outbox, suppressions, check, time);
        }
    }
}
