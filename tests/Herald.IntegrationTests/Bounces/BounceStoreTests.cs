using System.Text;
using Dapper;
using Herald.Bounces;
using Herald.Credentials;
using Herald.IntegrationTests.Storage;
using Herald.Outbox;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Bounces;
using Herald.Storage.Outbox;
using Herald.Storage.Webhooks;
using Herald.Webhooks;

namespace Herald.IntegrationTests.Bounces;

/// <summary><see cref="SqlBounceStore"/> on real SQLite and real PostgreSQL: what a report does
/// to a recipient and its history, the read lease, and the mailbox with its sealed secrets.</summary>
public sealed class BounceStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_failure_report_bounces_a_sent_recipient_once_and_each_report_is_a_line_of_its_history(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var outbox = new SqlOutboxStore(db.Database, db.Spool);
        var store = new SqlBounceStore(db.Database);
        var id = await SentAsync(outbox, "/", ["bob@example.org", "carol@example.org"], RecipientState.Deferred);

        RecipientState[] sent = [RecipientState.Sent];
        // One batch, recorded in order in one transaction: the second report finds bob bounced already.
        var recorded = await store.RecordAsync([
            new BounceUpdate(id, 0, RecipientState.Bounced, sent, 550, "DSN: failed, 5.1.1: no such user", Now.AddHours(1), "node-b"),
            new BounceUpdate(id, 0, RecipientState.Bounced, sent, 550, "DSN: failed, 5.1.1: again", Now.AddHours(2), "node-b"),
            new BounceUpdate(id, 1, RecipientState.Bounced, sent, 550, "DSN: failed, 5.1.1: early", Now.AddHours(2), "node-b"),
            new BounceUpdate(Guid.NewGuid().ToString("N"), 0, RecipientState.Bounced, sent, 550, "x", Now, "node-b"),
        ], Ct);
        var (first, again, notSent, missing) = (recorded[0], recorded[1], recorded[2], recorded[3]);

        Assert.Equal(new BounceRecorded(ScopePath.Root, "bob@example.org", RecipientState.Sent, true), first);
        Assert.Equal(new BounceRecorded(ScopePath.Root, "bob@example.org", RecipientState.Bounced, false), again);
        Assert.False(notSent!.Changed);
        Assert.Null(missing);
        var details = (await outbox.GetAsync(id, Ct))!;
        var bob = details.Message.Recipients[0];
        Assert.Equal((RecipientState.Bounced, 550, "DSN: failed, 5.1.1: no such user"), (bob.State, bob.LastCode, bob.LastReply));
        Assert.Equal(RecipientState.Deferred, details.Message.Recipients[1].State);
        Assert.Equal(
            ["0 1 sent ok", "0 2 bounced DSN: failed, 5.1.1: no such user", "0 3 bounced DSN: failed, 5.1.1: again"],
            details.Attempts.Where(a => a.Ordinal == 0).Select(a => $"{a.Ordinal} {a.Attempt} {RecipientStateNames.Values.NameOf(a.Outcome)} {a.Reply}"));

        // The deferred recipient's next attempt is numbered after the report's line.
        await outbox.ClaimAsync("node", null, 10, Now.AddHours(3), TimeSpan.FromMinutes(5), Ct);
        await outbox.RecordAsync([new AttemptOutcome(id, "node", Now.AddHours(3), [new RecipientUpdate(1, RecipientState.Sent, 250, "ok")], Now.AddHours(4))], Ct);
        Assert.Equal(RecipientState.Sent, (await outbox.GetAsync(id, Ct))!.Message.Recipients[1].State);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_bounce_lists_the_address_in_its_own_transaction_and_a_report_read_again_lists_it_if_it_is_missing(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var outbox = new SqlOutboxStore(db.Database, db.Spool);
        var store = new SqlBounceStore(db.Database);
        var suppressions = new Herald.Storage.Suppression.SqlSuppressionStore(db.Database);
        var id = await SentAsync(outbox, "/hr", ["Bob@Example.org", "carol@example.org"]);
        RecipientState[] sent = [RecipientState.Sent];
        var hardBounce = new BounceSuppression(Herald.Suppression.SuppressionReason.HardBounce, "DSN <d1@mx> in bounce mailbox imap://mx:993 (scope /)", "Herald (bounce mailbox)");

        // bob bounces: his state, history line and suppression entry are one commit; a delay
        // report for carol asks for no entry.
        await store.RecordAsync([
            new BounceUpdate(id, 0, RecipientState.Bounced, sent, 550, "DSN: failed, 5.1.1: no such user", Now.AddHours(1), "node-b", hardBounce),
            new BounceUpdate(id, 1, null, sent, 451, "DSN: delayed, 4.4.1", Now.AddHours(1), "node-b"),
        ], Ct);
        var listed = await ListedAsync();
        Assert.Equal(["/hr Bob@Example.org hard-bounce DSN <d1@mx> in bounce mailbox imap://mx:993 (scope /) by Herald (bounce mailbox)"], listed);

        // A node that recorded the bounce without the entry (as one built before this store wrote
        // both) reads the same DSN again: the recipient is bounced already, and the entry comes.
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            await connection.ExecuteAsync("DELETE FROM suppressions");
        }

        var again = await store.RecordAsync([new BounceUpdate(id, 0, RecipientState.Bounced, sent, 550, "DSN: failed, 5.1.1: no such user", Now.AddHours(2), "node-c", hardBounce)], Ct);
        Assert.False(again.Single()!.Changed);
        Assert.Equal(listed, await ListedAsync());

        // A report that finds its recipient in another state (a complaint asks for `sent` first)
        // lists nothing.
        await using (var connection = await db.Database.OpenAsync(Ct))
        {
            await connection.ExecuteAsync("DELETE FROM suppressions");
        }

        await store.RecordAsync([new BounceUpdate(id, 0, RecipientState.Complained, [RecipientState.Deferred], null, "ARF: abuse", Now.AddHours(3), "node-c",
            hardBounce with { Reason = Herald.Suppression.SuppressionReason.Complaint })], Ct);
        Assert.Empty(await ListedAsync());

        async Task<string[]> ListedAsync()
        {
            await using var connection = await db.Database.OpenAsync(Ct);
            return (await connection.QueryAsync<(string, string, string, string, string)>(
                "SELECT scope_path, address, reason, source, created_by FROM suppressions ORDER BY address")).Select(r => $"{r.Item1} {r.Item2} {r.Item3} {r.Item4} by {r.Item5}").ToArray();
        }
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_bounce_and_a_complaint_are_told_to_webhook_endpoints_and_a_report_that_changes_nothing_is_not(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var outbox = new SqlOutboxStore(db.Database, db.Spool);
        var webhooks = new SqlWebhookStore(db.Database);
        var store = new SqlBounceStore(db.Database);
        await webhooks.AddAsync(new WebhookEndpoint("hooks", ScopePath.Root, new Uri("https://hooks.example.org/h"), "", [], true, Now, "the local operator", null, null),
            new EncryptedSecret(Encoding.ASCII.GetBytes("not opened here")), Ct);
        var id = await SentAsync(outbox, "/hr", ["bob@example.org", "carol@example.org"]);

        RecipientState[] sent = [RecipientState.Sent];
        await store.RecordAsync(
            [
                new BounceUpdate(id, 0, RecipientState.Bounced, sent, 550, "DSN: failed, 5.1.1: no such user", Now.AddHours(1), "node-b"),
                new BounceUpdate(id, 0, RecipientState.Bounced, sent, 550, "DSN: failed, 5.1.1: again", Now.AddHours(2), "node-b"),
                new BounceUpdate(id, 1, null, sent, 451, "DSN: delayed, 4.4.1", Now.AddHours(2), "node-b"),
            ],
            Ct);
        await store.RecordAsync([new BounceUpdate(id, 1, RecipientState.Complained, sent, null, "ARF: abuse", Now.AddHours(3), "node-b")], Ct);

        var log = await webhooks.LogAsync("hooks", 20, 20, Ct);
        Assert.Equal(
            [$"message.recipient.sent {id} bob@example.org", $"message.recipient.sent {id} carol@example.org", $"message.recipient.bounced {id} bob@example.org", $"message.recipient.complained {id} carol@example.org"],
            log.Waiting.Select(d => $"{d.Type} {d.Subject}"));
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task One_node_at_a_time_holds_a_mailboxs_read_lease_and_its_secrets_go_with_it(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var store = new SqlBounceStore(db.Database);
        var scope = ScopePath.Root;
        var mailbox = new BounceMailbox(scope, new BounceMailboxSettings(MailboxProtocol.Imap, "imap.example.org", 993, MailboxSecurity.ImplicitTls, ServerTrust.System, "bounces.example.org"))
        {
            UserName = new EncryptedSecret([1, 2, 3]),
            Password = new EncryptedSecret([4, 5, 6]),
        };

        Assert.True(await store.SaveAsync(mailbox, Now, Ct));
        Assert.False(await store.SaveAsync(mailbox with { Password = null }, Now, Ct));
        var found = (await store.FindAsync(scope, Ct))!;
        Assert.Equal((mailbox.Settings, new EncryptedSecret([1, 2, 3]), (EncryptedSecret?)null), (found.Settings, found.UserName!, found.Password));
        Assert.Equal([scope], (await store.ListAsync(Ct)).Select(m => m.Scope));

        Assert.True(await store.TryLeaseAsync(scope, "a", Now, Now.AddMinutes(5), Ct));
        Assert.False(await store.TryLeaseAsync(scope, "b", Now.AddMinutes(1), Now.AddMinutes(6), Ct));
        Assert.True(await store.TryLeaseAsync(scope, "a", Now.AddMinutes(1), Now.AddMinutes(6), Ct));
        Assert.True(await store.TryLeaseAsync(scope, "b", Now.AddMinutes(7), Now.AddMinutes(12), Ct));
        await store.ReleaseAsync(scope, "a", Ct);
        Assert.False(await store.TryLeaseAsync(scope, "a", Now.AddMinutes(8), Now.AddMinutes(13), Ct));
        await store.ReleaseAsync(scope, "b", Ct);
        Assert.True(await store.TryLeaseAsync(scope, "a", Now.AddMinutes(8), Now.AddMinutes(13), Ct));

        Assert.True(await store.RemoveAsync(scope, Ct));
        Assert.False(await store.RemoveAsync(scope, Ct));
        await using var connection = await db.Database.OpenAsync(Ct);
        Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM secrets WHERE name LIKE 'bounce-mailbox/%'"));
    }

    /// <summary>A message in <paramref name="scope"/> to two recipients, claimed and recorded as the
    /// delivery worker does: the first <c>sent</c>, the second as <paramref name="second"/> says.</summary>
    private static async Task<string> SentAsync(SqlOutboxStore outbox, string scope, string[] recipients, RecipientState second = RecipientState.Sent)
    {
        var id = Guid.NewGuid().ToString("N");
        await outbox.EnqueueAsync([new NewMessage(id, ScopePath.Parse(scope), MessageSource.Api, "herald@example.org", null, $"<{id}@example.org>",
            MimeData.FromBytes(Encoding.ASCII.GetBytes("Subject: x\r\n\r\nx\r\n")), recipients, null, Now, Now.AddDays(5))], Ct);
        await outbox.ClaimAsync("node", null, 10, Now, TimeSpan.FromMinutes(5), Ct);
        var secondUpdate = second == RecipientState.Sent ? new RecipientUpdate(1, RecipientState.Sent, 250, "ok") : new RecipientUpdate(1, second, 451, "later");
        await outbox.RecordAsync([new AttemptOutcome(id, "node", Now, [new RecipientUpdate(0, RecipientState.Sent, 250, "ok"), secondUpdate], Now.AddMinutes(1))], Ct);
        return id;
    }
}
