using Herald.Access;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Notifications.Explain;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Suppression;
using Herald.Suppression;
using Herald.Testing;
using Microsoft.Extensions.Options;

namespace Herald.IntegrationTests.Notifications;

/// <summary>Explain on real SQLite and PostgreSQL: what the fan-out records for every candidate of
/// an event, what <see cref="ExplainService"/> answers and to whom, and how long it is kept.</summary>
public sealed partial class ExplainTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task One_event_names_every_candidates_outcome_and_the_source_behind_it(string engine)
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.ConfiguredSenderOnly, engine);
        var (engineNode, suppressions) = await EightCandidatesAsync(h);

        await h.Events.AddAsync([NotificationHarness.Event("doc-4711", EventTypes.ItemChanged, "/docs", "/lib/policy.docx", actor: "dave")], Ct);
        await engineNode.RunOnceAsync(Ct);

        var explained = await Service(h).ExplainAsync(Caller.Operator, new EventKey(ScopePath.Parse("/docs"), "doc-4711"), null, Ct);
        Assert.Null(explained.Refusal);
        var e = explained.Value!;
        Assert.Equal(
            ["rule r-ops immediate", "subscription s-alice immediate", "subscription s-bob immediate", "subscription s-hank daily", "subscription s-team immediate"],
            e.Sources.Select(s => $"{s.Kind.ToString().ToLowerInvariant()} {s.Id} {s.Frequency}").Order(StringComparer.Ordinal));
        var lines = e.Candidates
            .Select(c => $"{c.Record.UserId ?? c.Record.Address} {CandidateOutcomeNames.Values.NameOf(c.Record.Outcome)}: {e.Reason(c)}")
            .Select(line => MessageId().Replace(line, "message M"))
            .Order(StringComparer.Ordinal)
            .ToArray();
        var entry = (await suppressions.ListAsync(Caller.Operator, new SuppressionQuery("/docs"), Ct)).Value!.Entries.Single().Id;
        Assert.Equal(
            [
                "alice mailed: Mailed through subscription 'Alert s-alice' (s-alice): message M, queued.",
                "bob no-view: Not mailed: no View on /docs (subscription 'Alert s-bob' (s-bob)).",
                "carol opted-out: Not mailed: opted out of subscription 'Alert s-team' (s-team).",
                "dave actor: Not mailed: the event's actor, and subscription 'Alert s-team' (s-team) leaves the actor out.",
                "erin mailed: Mailed through subscription 'Alert s-team' (s-team): message M, queued.",
                "erin@example.com already-reached: Not mailed again through rule 'Rule r-ops' (r-ops): already reached through subscription 'Alert s-team' (s-team).",
                $"gina suppressed: Not sent (subscription 'Alert s-team' (s-team)): Suppressed: gina@example.com is on the suppression list of /docs since 2031-03-04 09:00 UTC (hard-bounce, source DSN; entry {entry}).",
                "hank digest: Waiting for the daily digest of subscription 'Alert s-hank' (s-hank), window ending 2031-03-05 07:00 UTC (08:00 Europe/Berlin).",
            ],
            lines);
        Assert.Equal(8, e.Counts.Values.Sum());
        Assert.Equal(2, e.Counts[CandidateOutcome.Mailed]);

        // One person: every candidate with their user id or address, whatever its case.
        var erin = (await Service(h).ExplainAsync(Caller.Operator, new EventKey(ScopePath.Parse("/docs"), "doc-4711"), Recipient("ERIN@example.com"), Ct)).Value!;
        Assert.Equal(["mailed", "already-reached"], erin.Candidates.Select(c => CandidateOutcomeNames.Values.NameOf(c.Record.Outcome)));
        Assert.Equal(8, erin.Counts.Values.Sum());

        // What the outbox holds agrees: two messages, gina's stored suppressed.
        var sent = await h.OutboxAsync();
        Assert.Equal(["alice@example.com", "erin@example.com", "gina@example.com"], sent.Select(s => s.Address));
        var mailed = e.Candidates.Single(c => c.Record.UserId == "alice");
        Assert.Equal(Herald.Outbox.RecipientState.Queued, mailed.Delivery!.State);
        Assert.Equal(Herald.Outbox.RecipientState.Suppressed, e.Candidates.Single(c => c.Record.UserId == "gina").Delivery!.State);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_mailed_candidate_whose_mail_bounced_later_is_explained_with_the_reports_diagnostic(string engine)
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.ConfiguredSenderOnly, engine);
        var (engineNode, _) = await EightCandidatesAsync(h);
        await h.Events.AddAsync([NotificationHarness.Event("doc-4711", EventTypes.ItemChanged, "/docs", "/lib/policy.docx", actor: "dave")], Ct);
        await engineNode.RunOnceAsync(Ct);
        var key = new EventKey(ScopePath.Parse("/docs"), "doc-4711");
        var alice = (await Service(h).ExplainAsync(Caller.Operator, key, Recipient("alice"), Ct)).Value!.Candidates.Single();

        // The smart host took alice's mail; days later the bounce mailbox holds its DSN, which the
        // bounce store records as the bounce reader does.
        await using (var connection = await h.Db.Database.OpenAsync(Ct))
        {
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE recipients SET state = 'sent', last_reply = '250 2.0.0 Ok: queued' WHERE message_id = @id", new { id = alice.Record.MessageId });
        }

        const string Diagnostic = "DSN 5.1.1: smtp; 550 5.1.1 <alice@example.com>: Recipient address rejected: User unknown in local recipient table";
        var recorded = await new Herald.Storage.Bounces.SqlBounceStore(h.Db.Database).RecordAsync(
            [new Herald.Bounces.BounceUpdate(alice.Record.MessageId!, 0, Herald.Outbox.RecipientState.Bounced, [Herald.Outbox.RecipientState.Sent], 550, Diagnostic, h.Time.GetUtcNow(), "node-a")], Ct);
        Assert.True(recorded.Single()!.Changed);

        var after = (await Service(h).ExplainAsync(Caller.Operator, key, Recipient("alice"), Ct)).Value!;
        var bounced = after.Candidates.Single();
        Assert.Equal(Herald.Outbox.RecipientState.Bounced, bounced.Delivery!.State);
        Assert.Equal(
            $"Mailed through subscription 'Alert s-alice' (s-alice): message {alice.Record.MessageId}, bounced ({Diagnostic}).",
            after.Reason(bounced));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_event_of_a_scope_whose_email_is_off_says_each_candidate_was_dropped(string engine)
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.ConfiguredSenderOnly, engine);
        var (node, _) = await EightCandidatesAsync(h);
        h.Directory.Grant("/docs2", Principal.User("alice"), AccessLevel.View);
        await h.Settings.SaveOutgoingAsync(new ScopeOutgoingSettings(ScopePath.Parse("/docs2")) { Enabled = false }, null, Ct);

        await h.Events.AddAsync([NotificationHarness.Event("doc-1", EventTypes.ItemChanged, "/docs2", "/lib/a.docx")], Ct);
        await node.RunOnceAsync(Ct);

        var e = (await Service(h).ExplainAsync(Caller.Operator, new EventKey(ScopePath.Parse("/docs2"), "doc-1"), Recipient("alice"), Ct)).Value!;
        var alice = Assert.Single(e.Candidates);
        Assert.Equal(CandidateOutcome.ScopeDisabled, alice.Record.Outcome);
        Assert.Equal("Dropped (subscription 'Alert s-alice' (s-alice)): email of the scope is turned off: Email is turned off for scope /docs2.", e.Reason(alice));
        Assert.Empty(await h.OutboxAsync());
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Another_scopes_administrator_and_a_sender_find_no_such_event_and_an_unknown_recipient_is_no_candidate(string engine)
    {
        await using var h = await NotificationHarness.StartAsync(ImpersonationPolicy.ConfiguredSenderOnly, engine);
        var (node, _) = await EightCandidatesAsync(h);
        await h.Events.AddAsync([NotificationHarness.Event("doc-4711", EventTypes.ItemChanged, "/docs", "/lib/policy.docx", actor: "dave")], Ct);
        await node.RunOnceAsync(Ct);
        var key = new EventKey(ScopePath.Parse("/docs"), "doc-4711");

        var lookalike = await Service(h).ExplainAsync(new Caller.ConsoleAdministrator("eve", ScopePath.Parse("/docs2")), key, null, Ct);
        var sibling = await Service(h).ExplainAsync(new Caller.ConsoleAdministrator("eve", ScopePath.Parse("/hr")), key, null, Ct);
        var owner = await Service(h).ExplainAsync(new Caller.ConsoleAdministrator("ann", ScopePath.Parse("/docs")), key, Recipient("nobody@example.com"), Ct);
        var missing = await Service(h).ExplainAsync(new Caller.ConsoleAdministrator("ann", ScopePath.Parse("/docs")), key with { Id = "doc-9999" }, null, Ct);

        Assert.Equal(RefusalKind.NotFound, lookalike.Refusal!.Kind);
        Assert.Equal("No event 'doc-4711' in scope /docs that you may see.", lookalike.Refusal.Sentence);
        Assert.Equal(lookalike.Refusal, sibling.Refusal);
        Assert.Equal(missing.Refusal!.Sentence.Replace("9999", "4711", StringComparison.Ordinal), lookalike.Refusal.Sentence);
        Assert.Empty(owner.Value!.Candidates);
        Assert.Equal(8, owner.Value.Counts.Values.Sum());
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task An_explanation_is_kept_seven_days_then_pruned_by_the_hourly_purge(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(NotificationHarness.Start);
        var store = new Herald.Storage.Notifications.SqlExplainStore(db.Database);
        var key = new EventKey(ScopePath.Root, "e-1");
        await store.RecordAsync(
            new ExplanationRecord(key, time.GetUtcNow(), [new MatchedSource(1, NotificationSourceKind.Rule, "r", "Rule r", "immediate")], [new CandidateRecord("a@example.com", null, CandidateOutcome.Mailed, 1)], null),
            Ct);

        await using var node = DigestSchedulerTests.Node(db.Database, time, new InMemorySubscriptionStore(), "node-a");
        time.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1));
        await node.Scheduler.RunOnceAsync(Ct);
        Assert.NotNull(await store.FindAsync(key, null, 10, Ct));

        time.Advance(TimeSpan.FromHours(1));
        await node.Scheduler.RunOnceAsync(Ct);
        Assert.Null(await store.FindAsync(key, null, 10, Ct));
    }

    [Fact]
    public void A_recipient_is_a_user_id_or_an_address_of_bounded_length()
    {
        Assert.True(ExplainRecipient.TryParse("alice", out _, out _));
        Assert.True(ExplainRecipient.TryParse("alice@example.org", out _, out _));
        Assert.False(ExplainRecipient.TryParse(new string('a', 300), out _, out var huge));
        Assert.Equal("A recipient is a user id or an email address of at most 254 characters.", huge);
        Assert.False(ExplainRecipient.TryParse("alice\u0000; DROP TABLE", out _, out var malformed));
        Assert.Equal("'alice?; DROP TABLE' is neither a user id nor an email address.", malformed);
    }

    private static ExplainRecipient Recipient(string text) => ExplainRecipient.TryParse(text, out var recipient, out var error) ? recipient : throw new ArgumentException(error);

    private static ExplainService Service(NotificationHarness h) => new(h.Events, h.Explanations, Options.Create(new NotificationOptions()));

    /// <summary>/docs, and everyone the event doc-4711 (changed by dave) reaches or not:
    /// alice subscribed (mailed); bob subscribed without View; the team's subscription (leaving the
    /// actor out) with carol opted out, dave the actor, erin mailed, gina suppressed; hank's daily
    /// subscription; a rule that names erin again.</summary>
    private static async Task<(Herald.Notifications.FanOut.NotificationEngine Engine, SuppressionService Suppressions)> EightCandidatesAsync(NotificationHarness h)
    {
        foreach (var user in new[] { "alice", "bob", "carol", "dave", "erin", "gina", "hank" })
        {
            h.Directory.AddUser(user);
        }

        h.Directory.AddGroup("team", members: [Principal.User("carol"), Principal.User("dave"), Principal.User("erin"), Principal.User("gina")]);
        foreach (var viewer in new[] { Principal.User("alice"), Principal.Group("team"), Principal.User("hank") })
        {
            h.Directory.Grant("/docs", viewer, AccessLevel.View);
        }

        await h.Subscriptions.SaveAsync(h.Subscription("s-alice", "user:alice"), Ct);
        await h.Subscriptions.SaveAsync(h.Subscription("s-bob", "user:bob"), Ct);
        await h.Subscriptions.SaveAsync(h.Subscription("s-team", "group:team", excludeActor: true), Ct);
        await h.Subscriptions.SaveAsync(h.Subscription("s-hank", "user:hank", frequency: NotificationFrequency.Daily), Ct);
        await h.Subscriptions.SaveRuleAsync(FanOutTests.Rule("r-ops", "/docs", [EmailAddress.Parse("erin@example.com")], []), Ct);
        await h.Subscriptions.AddOptOutAsync(new NotificationOrigin(NotificationSourceKind.Subscription, "s-team", "carol"), h.Time.GetUtcNow(), Ct);
        var suppressions = new SuppressionService(new SqlSuppressionStore(h.Db.Database), h.Settings, h.Time);
        Assert.Null((await suppressions.AddAsync(Caller.Operator, new SuppressionRequest("/docs", "gina@example.com", "hard-bounce", "DSN"), Ct)).Refusal);
        var (engine, _, _) = h.Node("node-a");
        return (engine, suppressions);
    }

    [System.Text.RegularExpressions.GeneratedRegex("message [0-9a-f]{32}")]
    private static partial System.Text.RegularExpressions.Regex MessageId();
}
