using Dapper;
using Herald.Access;
using Herald.Cli;
using Herald.IntegrationTests.Storage;
using Herald.Notifications;
using Herald.Notifications.Events;
using Herald.Notifications.Subscriptions;
using Herald.Notifications.Templates;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.Access;

/// <summary>
/// Each rule of issue 13's use cases, for the callers {sender /hr, admin /hr, admin /hr2 (a
/// sibling), admin /hr.x (a look-alike), admin /hr/payroll (below), sender /, admin /} against
/// things of /hr: the use case on Core's real services and a real SQLite database, then the
/// database read afterwards, so that a refusal is seen to have stored nothing.
/// </summary>
public sealed class UseCaseCallerTests
{
    /// <summary>Who sends into /hr (and so manages its subscriptions and posts its events).</summary>
    private static readonly string[] SendersOfHr = ["sender /hr", "admin /hr", "sender /", "admin /"];

    /// <summary>Who administers /hr: its own administrators and those of /.</summary>
    private static readonly string[] AdministratorsOfHr = ["admin /hr", "admin /"];

    private static readonly DateTimeOffset Now = new(2031, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public static TheoryData<string> Callers => ["sender /hr", "admin /hr", "admin /hr2", "admin /hr.x", "admin /hr/payroll", "sender /", "admin /"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory, MemberData(nameof(Callers))]
    public async Task A_subscription_in_hr_is_added_by_its_senders_and_administrators_and_those_above_only(string caller)
    {
        await using var node = await NodeAsync();

        var saved = await node.Get<SubscriptionService>().CreateAsync(CallerOf(caller), new SubscriptionRequest(
            "new-alert", "/hr", "user:alice", null, null, null, null, null, null, null, null, null, null), Ct);

        var allowed = SendersOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, saved.Refusal?.Kind);
        Assert.Equal(allowed ? 1 : 0, await node.CountAsync("SELECT COUNT(*) FROM subscriptions WHERE id = 'new-alert'"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task A_subscription_of_hr_is_found_and_removed_by_those_who_manage_hr_and_is_not_found_by_anyone_else(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<SubscriptionService>();
        await MustAsync(service.PutAsync(Caller.Operator, "hr-alert", Alert("/hr"), Ct));

        var found = await service.FindAsync(CallerOf(caller), "hr-alert", Ct);
        var optOuts = await service.OptOutsAsync(CallerOf(caller), "hr-alert", Ct);
        var removed = await service.RemoveAsync(CallerOf(caller), "hr-alert", Ct);

        var allowed = SendersOfHr.Contains(caller);
        // Another scope's subscription reads exactly as one that does not exist.
        var missing = await service.RemoveAsync(CallerOf(caller), "no-such", Ct);
        var asMissing = missing! with { Sentence = missing.Sentence.Replace("'no-such'", "'hr-alert'", StringComparison.Ordinal) };
        Assert.Equal(allowed ? null : asMissing, removed);
        Assert.Equal(allowed ? null : asMissing, found.Refusal);
        Assert.Equal(allowed ? null : RefusalKind.NotFound, optOuts.Refusal?.Kind);
        Assert.Equal(allowed ? 0 : 1, await node.CountAsync("SELECT COUNT(*) FROM subscriptions WHERE id = 'hr-alert'"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task A_subscription_of_hr_is_replaced_only_by_those_who_manage_hr_and_not_found_by_anyone_else(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<SubscriptionService>();
        await MustAsync(service.PutAsync(Caller.Operator, "hr-alert", Alert("/hr"), Ct));

        // A caller of another scope tries to take the id over for a scope of its own.
        var target = caller.EndsWith("/hr2", StringComparison.Ordinal) ? "/hr2" : caller.EndsWith("/hr.x", StringComparison.Ordinal) ? "/hr.x" : "/hr/payroll";
        var replaced = await service.PutAsync(CallerOf(caller), "hr-alert", Alert(target) with { Name = "Taken over" }, Ct);

        var allowed = SendersOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotFound, replaced.Refusal?.Kind);
        Assert.Equal(allowed ? (target, "Taken over") : ("/hr", "HR alert"),
            await node.RowAsync<(string, string)>("SELECT scope_path, name FROM subscriptions WHERE id = 'hr-alert'"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task A_rule_in_hr_is_added_only_by_administrators_of_hr_or_above(string caller)
    {
        await using var node = await NodeAsync();

        var saved = await node.Get<RuleService>().CreateAsync(CallerOf(caller), Rule("/hr"), Ct);

        var allowed = AdministratorsOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, saved.Refusal?.Kind);
        Assert.Equal(allowed ? 1 : 0, await node.CountAsync("SELECT COUNT(*) FROM notification_rules WHERE id = 'hr-rule'"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task A_rule_of_hr_is_removed_and_tested_by_administrators_of_hr_or_above_and_not_found_by_anyone_else(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<RuleService>();
        await MustAsync(service.PutAsync(Caller.Operator, "hr-rule", Rule("/hr"), Ct));

        var tested = await service.TestAsync(CallerOf(caller), "hr-rule", Ct);
        var removed = await service.RemoveAsync(CallerOf(caller), "hr-rule", Ct);

        var allowed = AdministratorsOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotFound, removed?.Kind);
        Assert.Equal(allowed ? null : RefusalKind.NotFound, tested.Refusal?.Kind);
        // The test tried one sample for each recipient now (the address and alice; port 9 answers
        // no one, so each was deferred), and queued nothing.
        Assert.Equal(allowed ? ["deferred", "deferred"] : [], tested.Value?.Recipients.Select(r => r.Outcome) ?? []);
        Assert.Equal(0, await node.CountAsync("SELECT COUNT(*) FROM messages"));
        Assert.Equal(allowed ? 0 : 1, await node.CountAsync("SELECT COUNT(*) FROM notification_rules WHERE id = 'hr-rule'"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task A_template_of_hr_is_saved_and_reverted_only_by_administrators_of_hr_or_above(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<TemplateService>();
        await MustAsync(service.SaveAsync(Caller.Operator, "/hr", "item.added", new("Kept: {{ event.title }}", "kept", null), Ct));

        var saved = await service.SaveAsync(CallerOf(caller), "/hr", "item.changed", new("HR: {{ event.title }}", "text", null), Ct);
        var reverted = await service.RevertAsync(CallerOf(caller), "/hr", "item.added", Ct);
        var preview = await service.PreviewAsync(CallerOf(caller), "/hr", "item.changed", null, null, Ct);

        var allowed = AdministratorsOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, saved.Refusal?.Kind);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, reverted?.Kind);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, preview.Refusal?.Kind);
        Assert.Equal(allowed ? ["item.changed"] : ["item.added"], await node.ListAsync("SELECT event_type FROM notification_templates WHERE scope_path = '/hr'"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task The_directory_is_read_by_every_administrator_and_changed_only_by_administrators_of_root(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<DirectoryService>();

        var read = await service.ListUsersAsync(CallerOf(caller), Ct);
        var user = await service.SaveUserAsync(CallerOf(caller), new UserUpdate("mallory") { Name = "Mallory", Email = "mallory@example.org" }, SaveMode.AddOrChange, Ct);
        var group = await service.SaveGroupAsync(CallerOf(caller), new GroupUpdate("ops") { Name = "Ops", Members = ["user:alice"] }, SaveMode.AddOrChange, Ct);
        var removed = await service.RemoveUserAsync(CallerOf(caller), "alice", Ct);

        Assert.Equal(caller.StartsWith("admin", StringComparison.Ordinal) ? null : RefusalKind.NotAllowed, read.Refusal?.Kind);
        var root = caller == "admin /";
        Assert.Equal(root ? null : RefusalKind.NotAllowed, user.Refusal?.Kind);
        Assert.Equal(root ? null : RefusalKind.NotAllowed, group.Refusal?.Kind);
        Assert.Equal(root ? null : RefusalKind.NotAllowed, removed?.Kind);
        Assert.Equal(root ? ["mallory"] : ["alice"], await node.ListAsync("SELECT id FROM directory_users ORDER BY id"));
        Assert.Equal(root ? 1 : 0, await node.CountAsync("SELECT COUNT(*) FROM directory_groups"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task The_access_list_of_hr_is_read_and_changed_only_by_administrators_of_hr_or_above(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<DirectoryService>();

        var read = await service.DescribeAccessAsync(CallerOf(caller), "/hr", Ct);
        var granted = await service.GrantAsync(CallerOf(caller), "/hr", "user:alice", "admin", Ct);
        var revoked = await service.RevokeAsync(CallerOf(caller), "/", "user:alice", Ct);

        var allowed = AdministratorsOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, read.Refusal?.Kind);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, granted.Refusal?.Kind);
        // Only administrators of / change the list of /, where alice's View comes from.
        Assert.Equal(caller == "admin /" ? null : RefusalKind.NotAllowed, revoked?.Kind);
        Assert.Equal(
            (allowed ? ["/hr user:alice admin"] : Array.Empty<string>()).Concat(caller == "admin /" ? [] : ["/ user:alice view"]).Order(StringComparer.Ordinal),
            await node.ListAsync("SELECT scope_path || ' ' || principal_kind || ':' || principal_id || ' ' || level FROM access_entries ORDER BY 1"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task Api_keys_of_hr_are_created_listed_and_revoked_only_by_administrators_of_hr_or_above(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<ApiKeyService>();
        var existing = (await service.CreateAsync(Caller.Operator, "/hr", "sender", "existing", Ct)).Value!.Key;

        var created = await service.CreateAsync(CallerOf(caller), "/hr", "admin", "escalation", Ct);
        var listed = await service.ListAsync(CallerOf(caller), Ct);
        var revoked = await service.RevokeAsync(CallerOf(caller), existing.Id, Ct);

        var allowed = AdministratorsOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, created.Refusal?.Kind);
        Assert.Equal(allowed, listed.Any(k => k.Id == existing.Id));
        Assert.Equal(allowed ? null : RefusalKind.NotFound, revoked?.Kind);
        Assert.Equal(allowed ? ["escalation", "existing"] : ["existing"], await node.ListAsync("SELECT name FROM api_keys ORDER BY name"));
        Assert.Equal(allowed ? 1 : 0, await node.CountAsync("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NOT NULL"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task Scopes_below_hr_are_added_and_removed_only_by_administrators_of_hr_or_above(string caller)
    {
        await using var node = await NodeAsync();
        var service = node.Get<ScopeService>();

        var added = await service.AddAsync(CallerOf(caller), "/hr/new", Ct);
        var removed = await service.RemoveAsync(CallerOf(caller), "/hr/payroll", Ct);

        var allowed = AdministratorsOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, added.Refusal?.Kind);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, removed?.Kind);
        Assert.Equal(
            allowed ? ["/", "/hr", "/hr.x", "/hr/new", "/hr2"] : ["/", "/hr", "/hr.x", "/hr/payroll", "/hr2"],
            await node.ListAsync("SELECT path FROM scopes ORDER BY path"));
    }

    [Theory, MemberData(nameof(Callers))]
    public async Task Events_of_hr_are_posted_by_its_senders_and_administrators_and_those_above_only(string caller)
    {
        await using var node = await NodeAsync();

        var posted = await node.Get<EventService>().SubmitAsync(
            CallerOf(caller), [new EventSubmission("doc-1", "item.changed", "/hr", "/docs/a", null, "A document", null, null, null)], batch: false, [], Ct);

        var allowed = SendersOfHr.Contains(caller);
        Assert.Equal(allowed ? null : RefusalKind.NotAllowed, posted.Refusal?.Kind);
        Assert.Equal(allowed ? ["/hr doc-1"] : [], await node.ListAsync("SELECT scope_path || ' ' || id FROM notification_events"));
    }

    private static Caller.Key CallerOf(string name)
    {
        var parts = name.Split(' ');
        return new Caller.Key(new ApiKey("k" + parts[1], ScopePath.Parse(parts[1]), parts[0] == "admin" ? ApiKeyRole.Admin : ApiKeyRole.Sender, name, Now, null));
    }

    private static SubscriptionRequest Alert(string scope) =>
        new(null, scope, "user:alice", "HR alert", null, null, null, null, null, null, null, null, null);

    private static RuleRequest Rule(string scope) =>
        new("hr-rule", scope, "HR rule", null, null, null, null, ["ops@example.org", "user:alice"], null, null);

    private static async Task MustAsync<T>(Task<Result<T>> call)
    {
        var result = await call;
        Assert.True(result.Refusal is null, result.Refusal?.ToString());
    }

    /// <summary>Core's services on a fresh SQLite database: scopes /, /hr, /hr/payroll, /hr2 and
    /// /hr.x, user alice with View on /, and / sending through a connection nothing listens on.</summary>
    private static async Task<Node> NodeAsync()
    {
        var db = await TestDatabases.CreateAsync(TestDatabases.Sqlite);
        var console = new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, _ => null, false);
        var services = new ServiceCollection().AddLogging().AddHeraldNode(db.DataDirectory, db.Database, console).BuildServiceProvider();
        var node = new Node(db, services);
        var scopes = node.Get<ScopeService>();
        foreach (var scope in new[] { "/hr", "/hr/payroll", "/hr2", "/hr.x" })
        {
            await MustAsync(scopes.AddAsync(Caller.Operator, scope, Ct));
        }

        await MustAsync(node.Get<DirectoryService>().SaveUserAsync(Caller.Operator, new UserUpdate("alice") { Name = "Alice", Email = "alice@example.org" }, SaveMode.Add, Ct));
        await MustAsync(node.Get<DirectoryService>().GrantAsync(Caller.Operator, "/", "user:alice", "view", Ct));
        await node.Get<ISettingsStore>().SaveOutgoingAsync(
            new ScopeOutgoingSettings(ScopePath.Root) { ConnectionId = "default", FromAddress = EmailAddress.Parse("herald@example.org") },
            new SmtpConnection { Id = "default", Owner = ScopePath.Root, Name = "default", Host = "127.0.0.1", Port = 9, Security = SmtpSecurity.None },
            Ct);
        return node;
    }

    private sealed class Node(TestDatabase db, ServiceProvider services) : IAsyncDisposable
    {
        public T Get<T>()
            where T : notnull => services.GetRequiredService<T>();

        public async Task<long> CountAsync(string sql)
        {
            await using var connection = await db.Database.OpenAsync(Ct);
            return await connection.ExecuteScalarAsync<long>(sql);
        }

        public async Task<T> RowAsync<T>(string sql)
        {
            await using var connection = await db.Database.OpenAsync(Ct);
            return await connection.QuerySingleAsync<T>(sql);
        }

        public async Task<string[]> ListAsync(string sql)
        {
            await using var connection = await db.Database.OpenAsync(Ct);
            return (await connection.QueryAsync<string>(sql)).ToArray();
        }

        public async ValueTask DisposeAsync()
        {
            await services.DisposeAsync();
            await db.DisposeAsync();
        }
    }
}
