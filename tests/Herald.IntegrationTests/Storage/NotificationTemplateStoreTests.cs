using System.Text.Json;
using Herald.Access;
using Herald.Notifications;
using Herald.Notifications.Templates;
using Herald.Notifications.Unsubscribe;
using Herald.Scopes;
using Herald.Storage.Notifications;
using Herald.Storage.Settings;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Herald.IntegrationTests.Storage;

/// <summary>Templates and signing keys on real SQLite and real PostgreSQL.</summary>
public sealed class NotificationTemplateStoreTests
{
    private static readonly DateTimeOffset Now = new(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task A_saved_template_is_stored_per_scope_and_type_replaced_in_place_and_removed(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        await settings.AddScopeAsync(ScopePath.Parse("/hr"), Ct);
        var (store, service) = Templates(db, settings, time);

        var saved = await service.SaveAsync(Caller.Operator, "/hr", "item.changed", new("HR: {{ event.title }}", "Text ü {{ event.actor }}", "<p>{{ event.title }}</p>"), Ct);
        Assert.Null(saved.Refusal);
        await service.SaveAsync(Caller.Operator, "/hr", "item.changed", new("HR 2: {{ event.title }}", "Text 2", " "), Ct);
        await service.SaveAsync(Caller.Operator, "/", "digest", new("{{ digest.count }}", "d", null), Ct);
        var bad = await service.SaveAsync(Caller.Operator, "/hr", "item.added", new("{{ event.title", "t", null), Ct);
        var missingScope = await service.SaveAsync(Caller.Operator, "/nowhere", "item.added", new("s", "t", null), Ct);

        var stored = await store.ListAsync([ScopePath.Parse("/hr"), ScopePath.Root], Ct);
        Assert.Equal([("/", "digest"), ("/hr", "item.changed")], stored.Select(t => (t.Scope.Value, t.EventType)));
        Assert.Equal(new TemplateSources("HR 2: {{ event.title }}", "Text 2", null), stored[1].Sources);
        Assert.Equal(Now, stored[1].UpdatedAt);
        Assert.Equal(saved.Value!.Scope, stored[1].Scope);
        Assert.Equal("subject", Assert.Single(bad.Refusal!.Errors).Field);
        Assert.Equal("scope", Assert.Single(missingScope.Refusal!.Errors).Field);

        var effective = (await service.ListAsync(Caller.Operator, "/hr", Ct)).Value!;
        Assert.Equal(EventTypes.BuiltIn.Count + 1, effective.Count);
        Assert.Equal(TemplateOrigin.Own, effective.Single(e => e.EventType == "item.changed").Origin);
        Assert.Equal(TemplateOrigin.Inherited, effective.Single(e => e.EventType == "digest").Origin);
        Assert.Equal(TemplateOrigin.Default, effective.Single(e => e.EventType == "item.added").Origin);

        Assert.Null(await service.RevertAsync(Caller.Operator, "/hr", "item.changed", Ct));
        Assert.Equal(RefusalKind.NotFound, (await service.RevertAsync(Caller.Operator, "/hr", "item.changed", Ct))?.Kind);
        Assert.Equal(TemplateOrigin.Default, (await service.ShowAsync(Caller.Operator, "/hr", "item.changed", Ct)).Value!.Origin);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Saving_a_template_renders_the_latest_events_stored_for_its_scope_and_below_and_names_one_that_fails(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var time = new FakeTimeProvider(Now);
        var settings = new SqlSettingsStore(db.Database, time);
        foreach (var scope in new[] { "/hr", "/hr/payroll", "/hr2" })
        {
            await settings.AddScopeAsync(ScopePath.Parse(scope), Ct);
        }

        var (store, service) = Templates(db, settings, time);
        var events = new SqlNotificationEventStore(db.Database);
        var divides = new TemplateSources("Changed: {{ event.title }}", "{% if event.data.n %}{{ 12 | divided_by: event.data.n }}{% endif %}", null);
        // n = 0 where the template does not apply: another type, a scope beside /hr that merely starts like it.
        await events.AddAsync(
        [
            Event("hr2-zero", "/hr2", "item.changed", """{"n":0}""", Now.AddMinutes(-3)),
            Event("other-type", "/hr/payroll", "item.added", """{"n":0}""", Now.AddMinutes(-2)),
            Event("fine", "/hr/payroll", "item.changed", """{"n":4}""", Now.AddMinutes(-1)),
        ], Ct);

        var saved = await service.SaveAsync(Caller.Operator, "/hr", "item.changed", divides, Ct);
        Assert.Null(saved.Refusal);
        Assert.NotNull(saved.Value);

        await events.AddAsync([Event("evt-0042", "/hr/payroll", "item.changed", """{"n":0}""", Now)], Ct);
        var refused = await service.SaveAsync(Caller.Operator, "/hr", "item.changed", divides with { Subject = "New: {{ event.title }}" }, Ct);

        Assert.Null(refused.Value);
        var error = Assert.Single(refused.Refusal!.Errors);
        Assert.Equal("text", error.Field);
        Assert.Equal("Rendering event 'evt-0042' (item.changed in /hr/payroll, received 2031-05-06 07:08 UTC) failed: it divides by zero.", error.Message);
        Assert.Equal("Changed: {{ event.title }}", Assert.Single(await store.ListAsync([ScopePath.Parse("/hr")], Ct)).Sources.Subject);
        // A digest template is checked against a digest of the scope's latest events of any type.
        var digest = await service.SaveAsync(Caller.Operator, "/hr", "digest", new("{{ digest.count }}", "{% for e in digest.events %}{% if e.data.n %}{{ 12 | divided_by: e.data.n }}{% endif %}{% endfor %}", null), Ct);
        Assert.Equal("Rendering a digest of the latest 3 events of /hr and below failed: it divides by zero.", Assert.Single(digest.Refusal!.Errors).Message);
    }

    [Theory]
    [MemberData(nameof(TestDatabases.Engines), MemberType = typeof(TestDatabases))]
    public async Task Nodes_racing_to_create_the_signing_key_all_get_the_one_that_was_stored(string engine)
    {
        await using var db = await TestDatabases.CreateAsync(engine);
        var others = Enumerable.Range(0, 4).Select(_ => db.OpenAnother()).ToArray();
        try
        {
            var candidates = others.Select(_ => System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToArray();
            var keys = await Task.WhenAll(others.Select((database, i) => new SqlSigningKeyStore(database).GetOrCreateAsync(UnsubscribeLinks.Purpose, candidates[i], Now, Ct)));

            Assert.All(keys, k => Assert.Equal(keys[0], k));
            Assert.Contains(candidates, c => c.SequenceEqual(keys[0]));
            var later = await new SqlSigningKeyStore(db.Database).GetOrCreateAsync(UnsubscribeLinks.Purpose, new byte[32], Now, Ct);
            Assert.Equal(keys[0], later);
        }
        finally
        {
            foreach (var database in others.OfType<IAsyncDisposable>())
            {
                await database.DisposeAsync();
            }
        }
    }

    private static (SqlTemplateStore Store, TemplateService Service) Templates(TestDatabase db, SqlSettingsStore settings, TimeProvider time)
    {
        var options = Options.Create(new NotificationTemplateOptions());
        var store = new SqlTemplateStore(db.Database);
        var compiler = new TemplateCompiler(options);
        var renderer = new TemplateRenderer(compiler, options, time);
        var templates = new NotificationTemplates(store, renderer, options, time, NullLogger<NotificationTemplates>.Instance);
        var checks = new TemplateChecks(compiler, renderer, new SqlRecentEvents(db.Database), options, time);
        return (store, new TemplateService(store, settings, templates, checks, time));
    }

    private static NotificationEvent Event(string id, string scope, string type, string data, DateTimeOffset received) => new(
        id, type, ScopePath.Parse(scope), "/Shared Documents/a.docx", "bob@example.org", "a.docx", null,
        JsonDocument.Parse(data).RootElement.Clone(), received, received);
}
