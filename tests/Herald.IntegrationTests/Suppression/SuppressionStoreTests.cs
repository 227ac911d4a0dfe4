using System.Text;
using Dapper;
using Herald.Access;
using Herald.IntegrationTests.Storage;
using Herald.IntegrationTests.UseCases;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Storage.Outbox;
using Herald.Storage.Settings;
using Herald.Storage.Suppression;
using Herald.Suppression;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Suppression;

/// <summary><see cref="SqlSuppressionStore"/>, <see cref="SuppressionCheck"/> and
/// <see cref="SuppressionService"/> on real SQLite and real PostgreSQL.</summary>
public sealed class SuppressionStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_entry_holds_for_its_scope_and_the_scopes_below_it_never_for_a_sibling_or_a_lookalike(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, check, _, _) = await ServicesAsync(db);
        Assert.Null((await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "hr-only@example.org", "hard-bounce", "DSN from mailbox bounces@example.org"), Ct)).Refusal);
        Assert.Null((await service.AddAsync(Caller.Operator, new SuppressionRequest("/", "everywhere@example.org", "complaint"), Ct)).Refusal);

        string[] recipients = ["hr-only@example.org", "everywhere@example.org", "free@example.org"];
        var marked = await check.MarkAsync(
            new[] { "/", "/hr", "/hr/payroll", "/hr2", "/hr.x", "/finance" }.Select(scope => Message(scope, recipients)).ToArray(), Ct);

        Assert.Equal(
            ["/: 1", "/hr: 0 1", "/hr/payroll: 0 1", "/hr2: 1", "/hr.x: 1", "/finance: 1"],
            marked.Select(m => $"{m.Scope}: {string.Join(' ', m.Suppressed.Select(s => s.Ordinal))}"));
        var reply = marked[2].Suppressed[0].Reply;
        Assert.StartsWith("Suppressed: hr-only@example.org is on the suppression list of /hr since 2031-05-06 07:08 UTC (hard-bounce, source DSN from mailbox bounces@example.org; entry ", reply, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_nearest_scopes_entry_names_the_suppression(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, check, _, _) = await ServicesAsync(db);
        await service.AddAsync(Caller.Operator, new SuppressionRequest("/", "both@example.org", "complaint"), Ct);
        await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr/payroll", "both@example.org", "unsubscribe-all"), Ct);

        var marked = await check.MarkAsync([Message("/hr/payroll", ["both@example.org"]), Message("/hr", ["both@example.org"])], Ct);

        Assert.Contains("suppression list of /hr/payroll", marked[0].Suppressed.Single().Reply, StringComparison.Ordinal);
        Assert.Contains("suppression list of / since", marked[1].Suppressed.Single().Reply, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_expired_entry_no_longer_applies_and_a_new_one_takes_its_place(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, check, time, _) = await ServicesAsync(db);
        var added = await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "later@example.org", "administrator", "ticket 4711", Now.AddHours(1)), Ct);
        Assert.Null(added.Refusal);

        Assert.Single((await check.MarkAsync([Message("/hr", ["later@example.org"])], Ct))[0].Suppressed);
        var again = await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "later@example.org", "administrator"), Ct);
        Assert.Equal(RefusalKind.Conflict, again.Refusal!.Kind);
        Assert.Equal("address", again.Refusal.Errors.Single().Field);

        time.Advance(TimeSpan.FromHours(1));
        Assert.Empty((await check.MarkAsync([Message("/hr", ["later@example.org"])], Ct))[0].Suppressed);
        var replaced = await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "later@example.org", "hard-bounce"), Ct);
        Assert.Null(replaced.Refusal);
        Assert.NotEqual(added.Value!.Id, replaced.Value!.Id);
        Assert.Single((await check.MarkAsync([Message("/hr", ["later@example.org"])], Ct))[0].Suppressed);
        Assert.Single(await RowsAsync(db));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Lookalike_addresses_match_by_domain_case_trailing_dot_and_idn_but_never_by_the_local_parts_case(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, check, _, _) = await ServicesAsync(db);
        Assert.Null((await service.AddAsync(Caller.Operator, new SuppressionRequest("/", "  Bob@Bücher.Example  ", "hard-bounce"), Ct)).Refusal);

        string[] recipients =
        [
            "Bob@bücher.example", "Bob@BÜCHER.EXAMPLE", "Bob@xn--bcher-kva.example", "Bob@xn--bcher-kva.example.", "\"Bob\"@xn--bcher-kva.example",
            "bob@xn--bcher-kva.example", "BOB@bücher.example", "Bob@bucher.example", "Bob@bücher.example.org", "Bob.@bücher.example",
        ];
        var marked = (await check.MarkAsync([Message("/hr", recipients)], Ct))[0];

        Assert.Equal([0, 1, 2, 3, 4], marked.Suppressed.Select(s => s.Ordinal));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_batch_of_thousands_of_recipients_is_checked_in_one_go(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, check, _, _) = await ServicesAsync(db);
        await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "r4999@example.org", "hard-bounce"), Ct);

        // More recipients than SQLite has variables for one statement.
        var messages = Enumerable.Range(0, 100).Select(m => Message("/hr/payroll", Enumerable.Range(m * 400, 400).Select(r => $"r{r}@example.org").ToArray())).ToArray();
        var marked = await check.MarkAsync(messages, Ct);

        Assert.Equal([(12, 199)], marked.SelectMany((m, i) => m.Suppressed.Select(s => (i, s.Ordinal))));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Suppressed_recipients_are_stored_finished_with_the_entry_and_an_all_suppressed_message_is_never_claimed(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, check, _, _) = await ServicesAsync(db);
        await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "gone@example.org", "hard-bounce"), Ct);
        var outbox = new SqlOutboxStore(db.Database, db.Spool);

        var marked = await check.MarkAsync([Message("/hr", ["ok@example.org", "gone@example.org"]), Message("/hr", ["gone@example.org"])], Ct);
        await outbox.EnqueueAsync(marked, Ct);
        var claimed = await outbox.ClaimAsync("node", null, 10, Now.AddMinutes(1), TimeSpan.FromMinutes(5), Ct);

        var only = Assert.Single(claimed);
        Assert.Equal(marked[0].Id, only.Id);
        Assert.Equal(["ok@example.org"], only.Recipients.Select(r => r.Address));
        var finished = (await outbox.GetAsync(marked[1].Id, Ct))!.Message.Recipients.Single();
        Assert.Equal(RecipientState.Suppressed, finished.State);
        Assert.Contains("suppression list of /hr", finished.LastReply, StringComparison.Ordinal);
        Assert.Equal(2L, (await outbox.CountByStateAsync(Ct))[RecipientState.Suppressed]);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Another_scopes_administrator_can_neither_add_remove_nor_list_its_entries_and_nothing_changes(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, _, _) = await ServicesAsync(db);
        var payroll = (await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr/payroll", "p@example.org", "administrator"), Ct)).Value!;
        var before = await RowsAsync(db);

        await Callers.ExpectAsync(
            Callers.Expect(Outcome.NotAllowed, Outcome.Done, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.Done),
            async (_, caller) => Callers.Of(await service.ListAsync(caller, new SuppressionQuery("/hr"), Ct)));
        await Callers.ExpectAsync(
            Callers.Expect(Outcome.NotAllowed, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.Invalid),
            async (i, caller) => Callers.Of(await service.AddAsync(caller, new SuppressionRequest("/hr3", $"x{i}@example.org", "administrator"), Ct)));
        await Callers.ExpectAsync(
            Callers.Expect(Outcome.NotAllowed, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.NotAllowed, Outcome.Done),
            (_, caller) => Task.FromResult(Callers.Of(service.Export(caller, new SuppressionQuery("/"), "csv"))));
        // Removing: the entry of /hr/payroll is not there for /hr2, /hr.x or a sender.
        var remove = Callers.Expect(Outcome.NotFound, Outcome.Done, Outcome.NotFound, Outcome.NotFound, Outcome.Done, Outcome.Done);
        foreach (var (name, caller) in Callers.All.Where(c => remove[c.Name] == Outcome.NotFound))
        {
            Assert.Equal(RefusalKind.NotFound, (await service.RemoveAsync(caller, payroll.Id, Ct)).Refusal?.Kind);
            var listed = await service.ListAsync(caller, new SuppressionQuery(caller is Caller.Key key ? key.ApiKey.Scope.Value : "/"), Ct);
            Assert.DoesNotContain(listed.Value?.Entries ?? [], e => e.Id == payroll.Id);
            Assert.Equal(RefusalKind.NotAllowed, (await service.AddAsync(caller, new SuppressionRequest("/hr/payroll", "q@example.org", "administrator"), Ct)).Refusal?.Kind);
        }

        Assert.Equal(before, await RowsAsync(db));
        Assert.Null((await service.RemoveAsync(Callers.All[1].Caller, payroll.Id, Ct)).Refusal);
        Assert.Empty(await RowsAsync(db));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Huge_or_malformed_input_is_refused_naming_each_field_and_stores_nothing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, _, _) = await ServicesAsync(db);

        var huge = await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", new string('a', 100_000) + "@example.org", new string('r', 100_000), new string('s', 201)), Ct);
        var malformed = await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "two words@example.org", "bounced", "line\nbreak", Now.AddDays(-1)), Ct);
        var noDomain = await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", "nobody@", "administrator"), Ct);
        var badList = await service.ListAsync(Caller.Operator, new SuppressionQuery("/hr", "@@", new string('x', 5000), "zz", 5000), Ct);

        Assert.Equal(["address", "reason", "source"], huge.Refusal!.Errors.Select(e => e.Field));
        Assert.All(huge.Refusal.Errors, e => Assert.True(e.Message.Length < 200, e.Message));
        Assert.Equal("An email address is at most 254 characters.", huge.Refusal.Errors[0].Message);
        Assert.Equal(["address", "reason", "source", "expiresAt"], malformed.Refusal!.Errors.Select(e => e.Field));
        Assert.Equal("The reason is one of hard-bounce, complaint, unsubscribe-all, administrator.", malformed.Refusal.Errors[1].Message);
        Assert.Equal("address", noDomain.Refusal!.Errors.Single().Field);
        Assert.Equal(["address", "reason", "before", "limit"], badList.Refusal!.Errors.Select(e => e.Field));
        Assert.Empty(await RowsAsync(db));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Entries_are_listed_newest_first_a_page_at_a_time_and_filtered_by_address_domain_and_reason(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, time, _) = await ServicesAsync(db);
        foreach (var (address, reason) in new[] { ("a@one.example", "hard-bounce"), ("b@two.example", "complaint"), ("c@one.example", "hard-bounce"), ("d@one.example", "administrator"), ("e@two.example", "hard-bounce") })
        {
            Assert.Null((await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr/payroll", address, reason), Ct)).Refusal);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var pages = new List<string>();
        string? before = null;
        do
        {
            var page = (await service.ListAsync(Caller.Operator, new SuppressionQuery("/hr", Before: before, Limit: 2), Ct)).Value!;
            pages.Add(string.Join(" ", page.Entries.Select(e => e.Address[0])));
            before = page.Next;
        }
        while (before is not null);

        Assert.Equal(["e d", "c b", "a"], pages);
        Assert.Equal(["d", "c", "a"], (await service.ListAsync(Caller.Operator, new SuppressionQuery("/", "@ONE.example"), Ct)).Value!.Entries.Select(e => e.Address[..1]));
        Assert.Equal(["e", "c", "a"], (await service.ListAsync(Caller.Operator, new SuppressionQuery("/", Reason: "hard-bounce"), Ct)).Value!.Entries.Select(e => e.Address[..1]));
        Assert.Equal(["b"], (await service.ListAsync(Caller.Operator, new SuppressionQuery("/", "b@TWO.example."), Ct)).Value!.Entries.Select(e => e.Address[..1]));
        Assert.Empty((await service.ListAsync(Caller.Operator, new SuppressionQuery("/hr2"), Ct)).Value!.Entries);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task The_csv_export_neutralises_formulas_and_quotes_and_the_json_export_has_every_entry(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var (service, _, time, _) = await ServicesAsync(db);
        string[] sources = ["=HYPERLINK(\"http://evil.example\")", "+1+1", "-2+3", "@SUM(A1)", "ticket \"4711\", urgent"];
        for (var i = 0; i < sources.Length; i++)
        {
            Assert.Null((await service.AddAsync(Caller.Operator, new SuppressionRequest("/hr", $"=x{i}@example.org", "administrator", sources[i]), Ct)).Refusal);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var csv = await ExportAsync(service, "csv");
        var json = System.Text.Json.JsonDocument.Parse(await ExportAsync(service, "json")).RootElement;

        var lines = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("id,scope,address,reason,source,created_at,created_by,expires_at", lines[0]);
        Assert.Equal(6, lines.Length);
        Assert.Contains(",'=x0@example.org,administrator,\"'=HYPERLINK(\"\"http://evil.example\"\")\",2031-05-06T07:08:09Z,the local operator,", lines[5], StringComparison.Ordinal);
        Assert.Contains(",'+1+1,", lines[4], StringComparison.Ordinal);
        Assert.Contains(",'-2+3,", lines[3], StringComparison.Ordinal);
        Assert.Contains(",'@SUM(A1),", lines[2], StringComparison.Ordinal);
        Assert.Contains(",\"ticket \"\"4711\"\", urgent\",", lines[1], StringComparison.Ordinal);
        Assert.Equal(5, json.GetArrayLength());
        Assert.Equal(["=x4@example.org", "administrator", "ticket \"4711\", urgent"],
            new[] { json[0].GetProperty("address").GetString(), json[0].GetProperty("reason").GetString(), json[0].GetProperty("source").GetString() });
    }

    private static async Task<string> ExportAsync(SuppressionService service, string format)
    {
        var export = service.Export(Caller.Operator, new SuppressionQuery("/"), format).Value!;
        using var output = new MemoryStream();
        await export.WriteAsync(output, Ct);
        return Encoding.UTF8.GetString(output.ToArray());
    }

    private static async Task<string[]> RowsAsync(TestDatabase db)
    {
        await using var connection = await db.Database.OpenAsync(Ct);
        return (await connection.QueryAsync<string>("SELECT id || ' ' || scope_path || ' ' || address_key FROM suppressions ORDER BY id")).ToArray();
    }

    private static NewMessage Message(string scope, string[] recipients) =>
        new(Guid.NewGuid().ToString("N"), ScopePath.Parse(scope), MessageSource.Api, "herald@example.org", null, "<m@example.org>",
            MimeData.FromBytes(Encoding.ASCII.GetBytes("Subject: x\r\n\r\nx\r\n")), recipients, null, Now, Now.AddDays(5));

    private static async Task<(SuppressionService Service, SuppressionCheck Check, FakeTimeProvider Time, SqlSuppressionStore Store)> ServicesAsync(TestDatabase db)
    {
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        foreach (var scope in new[] { "/hr", "/hr/payroll", "/hr2", "/hr.x", "/finance" })
        {
            await settings.AddScopeAsync(ScopePath.Parse(scope), Ct);
        }

        var store = new SqlSuppressionStore(db.Database);
        return (new SuppressionService(store, settings, time), new SuppressionCheck(store, time), time, store);
    }
}
