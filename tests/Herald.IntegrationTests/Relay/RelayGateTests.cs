using System.Net;
using System.Text;
using Dapper;
using Herald.Access;
using Herald.Delivery;
using Herald.IntegrationTests.Storage;
using Herald.Outbox;
using Herald.Relay;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Outbox;
using Herald.Storage.Relay;
using Herald.Storage.Settings;
using Herald.Storage.Suppression;
using Herald.Suppression;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Relay;

/// <summary><see cref="RelayGate"/> with a real outbox on SQLite: what a relay client is told,
/// and what is stored when it is told 250.</summary>
public sealed class RelayGateTests
{
    private const string Listen = "127.0.0.1:2525";
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
    private static readonly byte[] ClientMime = Encoding.ASCII.GetBytes(
        "From: Scanner <scanner@apps.example.com>\r\nTo: someone@example.net\r\nSubject: scan\r\nMessage-ID: <scan-1@apps.example.com>\r\n\r\nline one\r\n..dot stays unstuffed by the protocol\r\n\tlast line \r\n");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_client_outside_the_access_list_is_refused_with_554_5_7_1()
    {
        await using var relay = await RelayUnderTest.StartAsync(entries: ["127.0.0.1/32"]);

        var refused = await relay.Gate.AdmitAsync(Client("127.0.0.2"), Ct);
        var admitted = await relay.Gate.AdmitAsync(Client("127.0.0.1"), Ct);

        Assert.Equal((554, "5.7.1"), (refused!.Code, refused.EnhancedCode));
        Assert.Null(admitted);
    }

    [Fact]
    public async Task A_policy_change_applies_to_the_next_session_without_a_new_gate()
    {
        await using var relay = await RelayUnderTest.StartAsync(entries: ["127.0.0.1/32"]);
        Assert.NotNull(await relay.Gate.AdmitAsync(Client("127.0.0.2"), Ct));

        await relay.Store.SaveListenerAsync(relay.Listener with { Entries = ["127.0.0.0/8"] }, Now, Ct);
        relay.Time.Advance(RelaySettingsCache.Lifetime);

        Assert.Null(await relay.Gate.AdmitAsync(Client("127.0.0.2"), Ct));
    }

    [Fact]
    public async Task Senders_and_recipients_outside_the_allowed_domains_are_refused_with_550_5_7_1()
    {
        await using var relay = await RelayUnderTest.StartAsync(senderDomains: ["apps.example.com"], recipientDomains: ["example.net"]);
        var session = Session();

        Assert.Null(await relay.Gate.CheckSenderAsync(session, "scanner@APPS.example.com", null, Ct));
        var sender = await relay.Gate.CheckSenderAsync(session, "scanner@sub.apps.example.com", null, Ct);
        var nullSender = await relay.Gate.CheckSenderAsync(session, "", null, Ct);
        Assert.Null(await relay.Gate.CheckRecipientAsync(session, "someone@Example.NET", Ct));
        var recipient = await relay.Gate.CheckRecipientAsync(session, "someone@example.org", Ct);

        Assert.Equal((550, "5.7.1"), (sender!.Code, sender.EnhancedCode));
        Assert.Equal((550, "5.7.1"), (nullSender!.Code, nullSender.EnhancedCode));
        Assert.Equal((550, "5.7.1"), (recipient!.Code, recipient.EnhancedCode));
        Assert.Contains("relay not permitted", recipient.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_the_disk_is_nearly_full_mail_gets_452_4_3_1_and_nothing_is_stored()
    {
        // "Nearly full" is below the configured reserve; a reserve larger than any disk makes it so now.
        await using var relay = await RelayUnderTest.StartAsync(minimumFreeDiskBytes: long.MaxValue);

        var mail = await relay.Gate.CheckSenderAsync(Session(), "scanner@apps.example.com", 1000, Ct);
        var data = await relay.Gate.AcceptAsync(Session(), Envelope(), ClientMime, Ct);

        Assert.Equal((452, "4.3.1"), (mail!.Code, mail.EnhancedCode));
        Assert.Equal((452, "4.3.1"), (data.Code, data.EnhancedCode));
        Assert.Equal(0, await relay.CountMessagesAsync());
    }

    [Fact]
    public async Task A_declared_size_above_the_outbox_limit_or_the_upstreams_SIZE_is_refused_with_552_5_3_4()
    {
        await using var relay = await RelayUnderTest.StartAsync(maxMessageBytes: 100_000);

        Assert.Null(await relay.Gate.CheckSenderAsync(Session(), "a@apps.example.com", 100_000, Ct));
        var tooBig = await relay.Gate.CheckSenderAsync(Session(), "a@apps.example.com", 100_001, Ct);
        relay.UpstreamLimits.Report("default", 50_000);
        var aboveUpstream = await relay.Gate.CheckSenderAsync(Session(), "a@apps.example.com", 60_000, Ct);

        Assert.Equal((552, "5.3.4"), (tooBig!.Code, tooBig.EnhancedCode));
        Assert.Equal((552, "5.3.4"), (aboveUpstream!.Code, aboveUpstream.EnhancedCode));
    }

    [Fact]
    public async Task The_250_comes_only_after_the_row_is_committed_and_the_stored_mime_is_the_received_header_and_the_client_bytes()
    {
        await using var relay = await RelayUnderTest.StartAsync(holdCommits: true, impersonation: ImpersonationPolicy.AllowUserFrom, from: "scanner@apps.example.com");
        var session = new RelaySessionInfo(new RelayClient(IPAddress.Parse("127.0.0.1"), 40000, Listen), "scanner.apps.example.com", Tls: true, AuthenticatedAs: null);

        var accepting = relay.Gate.AcceptAsync(session, Envelope("someone@example.net"), ClientMime, Ct).AsTask();
        await relay.Outbox.CommitStarted.Task.WaitAsync(Ct);
        Assert.False(accepting.IsCompleted);
        relay.Outbox.Release.SetResult();
        var reply = await accepting;

        Assert.Equal((250, "2.0.0"), (reply.Code, reply.EnhancedCode));
        var id = reply.Text.Split(' ')[^1];
        var (mime, envelopeSender, source, messageId) = await relay.StoredAsync(id);
        var text = Encoding.ASCII.GetString(mime);
        var received = text[..text.IndexOf("From: ", StringComparison.Ordinal)];
        Assert.Equal(
            $"Received: from scanner.apps.example.com ([127.0.0.1])\r\n\tby relay.test (Herald) with ESMTPS id {id}\r\n\tfor <someone@example.net>; {MimeKit.Utils.DateUtils.FormatDate(Now)}\r\n",
            received);
        // The scope sends as the client's From address itself: nothing to replace, nothing to add.
        Assert.Equal(ClientMime, mime[Encoding.ASCII.GetByteCount(received)..]);
        Assert.Equal(("scanner@apps.example.com", "relay", "scan-1@apps.example.com"), (envelopeSender, source, messageId));
        Assert.Equal("scan", await relay.SubjectAsync(id));
    }

    [Fact]
    public async Task A_message_without_a_message_id_gets_one_after_its_header_fields_and_the_body_is_unchanged()
    {
        await using var relay = await RelayUnderTest.StartAsync(from: "app@example.org");
        var client = Encoding.ASCII.GetBytes("From: app@example.org\r\nSubject: no id\r\n\r\nbody\r\n");

        var reply = await relay.Gate.AcceptAsync(Session(), Envelope("a@example.net", "b@example.net"), client, Ct);

        var id = reply.Text.Split(' ')[^1];
        var (mime, _, _, messageId) = await relay.StoredAsync(id);
        var text = Encoding.ASCII.GetString(mime);
        Assert.Equal($"{id}@relay.test", messageId);
        Assert.DoesNotContain("\tfor <", text, StringComparison.Ordinal);
        Assert.EndsWith($"\r\nFrom: app@example.org\r\nSubject: no id\r\nMessage-ID: <{id}@relay.test>\r\n\r\nbody\r\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Impersonation_never_replaces_the_clients_From_Reply_To_and_Sender_with_the_scopes_and_keeps_the_originals()
    {
        await using var relay = await RelayUnderTest.StartAsync(fromName: "HR Notifications", replyTo: "hr-desk@example.org");
        var client = Encoding.ASCII.GetBytes(
            "From: \"The CEO\" <ceo@example.com>\r\nSender: ceo@example.com\r\nTo: someone@example.net\r\nReply-To: attacker@evil.example,\r\n ceo@example.com\r\n"
            + "X-Original-From: forged@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nFrom: a line of the body, not a header\r\n");

        var reply = await relay.Gate.AcceptAsync(Session(), Envelope(), client, Ct);

        var id = reply.Text.Split(' ')[^1];
        var (mime, envelopeSender, _, _) = await relay.StoredAsync(id);
        var text = Encoding.ASCII.GetString(mime);
        var start = text.IndexOf("X-Original-From: ", StringComparison.Ordinal);
        Assert.Equal(
            "X-Original-From: \"The CEO\" <ceo@example.com>\r\nFrom: HR Notifications <herald@example.org>\r\n"
            + "X-Original-Sender: ceo@example.com\r\nTo: someone@example.net\r\n"
            + "X-Original-Reply-To: attacker@evil.example,\r\n ceo@example.com\r\nReply-To: hr-desk@example.org\r\n"
            + "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n",
            text[start..text.IndexOf("Message-ID: ", StringComparison.Ordinal)]);
        Assert.DoesNotContain("forged@example.com", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nFrom: a line of the body, not a header\r\n", text, StringComparison.Ordinal);
        Assert.Equal("herald@example.org", envelopeSender);
        Assert.Equal("Grüße", await relay.SubjectAsync(id));
    }

    [Fact]
    public async Task Impersonation_allowed_keeps_the_clients_From_and_makes_the_scope_the_Sender_and_the_envelope_sender()
    {
        await using var relay = await RelayUnderTest.StartAsync(impersonation: ImpersonationPolicy.AllowUserFrom, fromName: "HR Notifications", replyTo: "hr-desk@example.org");

        var reply = await relay.Gate.AcceptAsync(Session(), Envelope(), ClientMime, Ct);

        var (mime, envelopeSender, _, _) = await relay.StoredAsync(reply.Text.Split(' ')[^1]);
        var text = Encoding.ASCII.GetString(mime);
        Assert.Contains(
            "\r\nFrom: Scanner <scanner@apps.example.com>\r\nTo: someone@example.net\r\nSubject: scan\r\nMessage-ID: <scan-1@apps.example.com>\r\n"
            + "Reply-To: hr-desk@example.org\r\nSender: HR Notifications <herald@example.org>\r\n\r\nline one\r\n",
            text,
            StringComparison.Ordinal);
        Assert.DoesNotContain("X-Original-", text, StringComparison.Ordinal);
        Assert.Equal("herald@example.org", envelopeSender);
    }

    [Theory]
    [InlineData("never")]
    [InlineData("allowed")]
    public async Task The_null_sender_is_stored_as_the_null_sender_whatever_the_impersonation_policy(string policy)
    {
        await using var relay = await RelayUnderTest.StartAsync(impersonation: ImpersonationPolicyNames.Values.Parse(policy));

        Assert.Null(await relay.Gate.CheckSenderAsync(Session(), "", null, Ct));
        var reply = await relay.Gate.AcceptAsync(Session(), Envelope() with { Sender = "" }, ClientMime, Ct);

        Assert.Equal((250, "2.0.0"), (reply.Code, reply.EnhancedCode));
        var (_, envelopeSender, _, _) = await relay.StoredAsync(reply.Text.Split(' ')[^1]);
        Assert.Equal("", envelopeSender);
    }

    [Fact]
    public async Task A_storage_failure_is_451_4_3_0_never_250()
    {
        await using var relay = await RelayUnderTest.StartAsync(holdCommits: true);
        var accepting = relay.Gate.AcceptAsync(Session(), Envelope(), ClientMime, Ct).AsTask();
        await relay.Outbox.CommitStarted.Task.WaitAsync(Ct);

        relay.Outbox.Release.SetException(new IOException("disk I/O error"));
        var reply = await accepting;

        Assert.Equal((451, "4.3.0"), (reply.Code, reply.EnhancedCode));
        Assert.Equal(0, await relay.CountMessagesAsync());
    }

    [Fact]
    public async Task An_account_authenticates_on_listeners_of_its_scope_and_below_only()
    {
        await using var relay = await RelayUnderTest.StartAsync(scope: "/hr", auth: RelayAuthMode.Required);
        await relay.Store.SaveAccountAsync(new RelayAccount(RelayUserName.Parse("hr-app"), ScopePath.Parse("/hr"), RelayPasswords.Hash("s3cret", 1000), Now), Ct);
        await relay.Store.SaveAccountAsync(new RelayAccount(RelayUserName.Parse("global-app"), ScopePath.Root, RelayPasswords.Hash("s3cret", 1000), Now), Ct);
        await relay.Store.SaveAccountAsync(new RelayAccount(RelayUserName.Parse("payroll-app"), ScopePath.Parse("/hr/payroll"), RelayPasswords.Hash("s3cret", 1000), Now), Ct);

        Assert.Equal(new RelayAuthRules(Required: true, AllowedWithoutTls: false), await relay.Gate.AuthRulesAsync(Client("127.0.0.1"), Ct));
        Assert.Equal(RelayAuthentication.As("hr-app"), await relay.Gate.AuthenticateAsync(Session(), "hr-app", "s3cret", Ct));
        Assert.Equal(RelayAuthentication.As("hr-app"), await relay.Gate.AuthenticateAsync(Session(), " hr-app ", "s3cret", Ct));
        Assert.Equal(RelayAuthentication.Invalid, await relay.Gate.AuthenticateAsync(Session(), "HR-app", "s3cret", Ct));
        Assert.Equal(RelayAuthentication.Invalid, await relay.Gate.AuthenticateAsync(Session(), "hr app", "s3cret", Ct));
        Assert.Equal(RelayAuthentication.As("global-app"), await relay.Gate.AuthenticateAsync(Session(), "global-app", "s3cret", Ct));
        Assert.Equal(RelayAuthentication.Invalid, await relay.Gate.AuthenticateAsync(Session(), "payroll-app", "s3cret", Ct));
        Assert.Equal(RelayAuthentication.Invalid, await relay.Gate.AuthenticateAsync(Session(), "hr-app", "S3cret", Ct));
        Assert.Equal(RelayAuthentication.Invalid, await relay.Gate.AuthenticateAsync(Session(), "nobody", "s3cret", Ct));
    }

    private static RelayClient Client(string address) => new(IPAddress.Parse(address), 40000, Listen);

    private static RelaySessionInfo Session() => new(Client("127.0.0.1"), "client.example", Tls: false, AuthenticatedAs: null);

    private static RelayEnvelope Envelope(params string[] recipients) =>
        new("scanner@apps.example.com", recipients.Length == 0 ? ["someone@example.net"] : recipients, EightBitMime: false, SmtpUtf8: false);

    /// <summary>A gate over a migrated SQLite outbox, with / configured to send as herald@example.org.</summary>
    private sealed class RelayUnderTest : IAsyncDisposable
    {
        private readonly TestDatabase _db;
        private readonly OutboxWriter _writer;

        private RelayUnderTest(TestDatabase db, OutboxWriter writer, HeldOutbox outbox, SqlRelayStore store, RelayListenerSettings listener, RelayGate gate, UpstreamSizeLimits limits, FakeTimeProvider time)
        {
            (_db, _writer, Outbox, Store, Listener, Gate, UpstreamLimits, Time) = (db, writer, outbox, store, listener, gate, limits, time);
        }

        public HeldOutbox Outbox { get; }

        public SqlRelayStore Store { get; }

        public RelayListenerSettings Listener { get; }

        public RelayGate Gate { get; }

        public UpstreamSizeLimits UpstreamLimits { get; }

        public FakeTimeProvider Time { get; }

        public static async Task<RelayUnderTest> StartAsync(
            string[]? entries = null, string[]? senderDomains = null, string[]? recipientDomains = null, string scope = "/", RelayAuthMode auth = RelayAuthMode.None,
            long minimumFreeDiskBytes = 0, int maxMessageBytes = 1_000_000, ImpersonationPolicy impersonation = ImpersonationPolicy.ConfiguredSenderOnly, bool holdCommits = false,
            string from = "herald@example.org", string? fromName = null, string? replyTo = null)
        {
            var db = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
            var time = new FakeTimeProvider(Now);
            var settings = new SqlSettingsStore(db.Database, time);
            await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
            await settings.AddScopeAsync(ScopePath.Parse("/hr/payroll"), Ct);
            await settings.SaveOutgoingAsync(
                new ScopeOutgoingSettings(ScopePath.Root)
                {
                    ConnectionId = "default",
                    FromAddress = EmailAddress.Parse(from),
                    FromName = fromName,
                    ReplyTo = replyTo is null ? null : EmailAddress.Parse(replyTo),
                    Impersonation = impersonation,
                },
                new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "127.0.0.1", Security = SmtpSecurity.None },
                Ct);
            var outboxOptions = Options.Create(new OutboxOptions { MinimumFreeDiskBytes = minimumFreeDiskBytes, MaxMessageBytes = maxMessageBytes });
            var outbox = new HeldOutbox(new SqlOutboxStore(db.Database, db.Spool), holdCommits);
            var writer = new OutboxWriter(outbox, new OutboxSignal(), new DeliveryCapacity(Options.Create(new DeliveryOptions()), new NodeIdentity("gate", []), TimeProvider.System), new SuppressionCheck(new SqlSuppressionStore(db.Database), TimeProvider.System), outboxOptions);
            var store = new SqlRelayStore(db.Database);
            var listener = new RelayListenerSettings(
                Listen, ScopePath.Parse(scope), RelayAccessMode.OnlyList, entries ?? ["127.0.0.0/8"], auth, senderDomains ?? [], recipientDomains ?? [], AuthWithoutTls: false);
            await store.SaveListenerAsync(listener, Now, Ct);
            var limits = new UpstreamSizeLimits();
            var factory = new RelayGateFactory(
                new RelaySettingsCache(store, time), new OutgoingSettingsCache(settings, time), writer,
                new DiskSpaceGuard(db.DataDirectory, outboxOptions, time), limits, new SystemReverseDnsResolver(),
                outboxOptions, Options.Create(new DeliveryOptions()), NullLogger<RelayGate>.Instance, time, new PasswordChecks(Options.Create(new SignInOptions())))
            {
                HostName = "relay.test",
            };
            return new RelayUnderTest(db, writer, outbox, store, listener, factory.Create(Listen), limits, time);
        }

        public async Task<(byte[] Mime, string EnvelopeSender, string Source, string MessageId)> StoredAsync(string id)
        {
            await using var connection = await _db.Database.OpenAsync(Ct);
            return await connection.QuerySingleAsync<(byte[], string, string, string)>(
                "SELECT mime, envelope_sender, source, message_id_header FROM messages WHERE id = @id", new { id });
        }

        public async Task<string?> SubjectAsync(string id)
        {
            await using var connection = await _db.Database.OpenAsync(Ct);
            return await connection.QuerySingleAsync<string?>("SELECT subject FROM messages WHERE id = @id", new { id });
        }

        public async Task<long> CountMessagesAsync()
        {
            await using var connection = await _db.Database.OpenAsync(Ct);
            return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM messages");
        }

        public async ValueTask DisposeAsync()
        {
            await _writer.DisposeAsync();
            await _db.DisposeAsync();
        }
    }

    /// <summary>The real store, whose commit can be held (to see that nobody is told 250 before
    /// it) or failed.</summary>
    private sealed class HeldOutbox(IOutboxStore inner, bool hold) : IOutboxStore
    {
        public TaskCompletionSource CommitStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<IReadOnlyList<EnqueueResult>> EnqueueAsync(IReadOnlyList<NewMessage> messages, CancellationToken cancellationToken)
        {
            if (hold)
            {
                CommitStarted.TrySetResult();
                await Release.Task;
            }

            return await inner.EnqueueAsync(messages, cancellationToken);
        }

        public Task<IReadOnlyList<ClaimedMessage>> ClaimAsync(string node, IReadOnlyCollection<string>? connections, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) =>
            inner.ClaimAsync(node, connections, max, now, lease, cancellationToken);

        public Task<IReadOnlyList<string>> RenewAsync(string node, IReadOnlyList<string> ids, DateTimeOffset until, CancellationToken cancellationToken) =>
            inner.RenewAsync(node, ids, until, cancellationToken);

        public Task<int> RecordAsync(IReadOnlyList<AttemptOutcome> outcomes, CancellationToken cancellationToken) => inner.RecordAsync(outcomes, cancellationToken);

        public Task<int> ResumeAsync(string connection, DateTimeOffset now, CancellationToken cancellationToken) => inner.ResumeAsync(connection, now, cancellationToken);

        public Task<int> ResumeScopeAsync(Herald.Scopes.ScopePath scope, DateTimeOffset now, CancellationToken cancellationToken) => inner.ResumeScopeAsync(scope, now, cancellationToken);

        public Task<IReadOnlyDictionary<string, long>> CountWaitingAsync(IReadOnlyCollection<string> connections, CancellationToken cancellationToken) =>
            inner.CountWaitingAsync(connections, cancellationToken);

        public Task<MessageDetails?> GetAsync(string id, CancellationToken cancellationToken) => inner.GetAsync(id, cancellationToken);

        public Task<IReadOnlyList<MessageSummary>> ListAsync(MessageFilter filter, CancellationToken cancellationToken) => inner.ListAsync(filter, cancellationToken);

        public Task<int> RetryAsync(string id, DateTimeOffset now, DateTimeOffset newExpiry, CancellationToken cancellationToken) => inner.RetryAsync(id, now, newExpiry, cancellationToken);

        public Task<int> CancelAsync(string id, DateTimeOffset now, CancellationToken cancellationToken) => inner.CancelAsync(id, now, cancellationToken);

        public Task<IReadOnlyDictionary<RecipientState, long>> CountByStateAsync(CancellationToken cancellationToken) => inner.CountByStateAsync(cancellationToken);

        public Task<long> CountFailedAsync(ScopePath scope, CancellationToken cancellationToken) => inner.CountFailedAsync(scope, cancellationToken);
    }
}
