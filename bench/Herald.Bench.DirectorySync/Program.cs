using System.Diagnostics;
using System.Globalization;
using Herald.Access;
using Herald.Bench.DirectorySync;
using Herald.Credentials;
using Herald.IntegrationTests.Fixtures;
using Herald.Ldap;
using Herald.Notifications;
using Herald.Notifications.Sync;
using Herald.Storage.Credentials;
using Herald.Storage.Database;
using Herald.Storage.Notifications;
using Herald.Storage.Settings;
using Microsoft.Extensions.Logging.Abstractions;

// bash bench/run.sh directory-sync [users] [groups]: a private slapd (the integration tests'
// fixture: StartTLS with its own CA, a size limit of 1,000, so every search pages) loaded with
// slapadd with (default) 100,000 users and 10,000 groups (10 users each, nested ten to a parent),
// synced in process into a fresh SQLite database (page size 500), then the directory view rebuilt
// (what matching and fan-out read). Then a second full sync with nothing changed, and a delta
// sync after one change. Figures only; nothing passes or fails on them.
var users = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var groups = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000;
var ct = CancellationToken.None;

var ldif = BenchDirectory.Generate(users, groups);
var started = Stopwatch.StartNew();
using var ldap = await OpenLdap.StartAsync(ldif);
var loaded = started.Elapsed;
Console.WriteLine($"slapd: {users:N0} users, {groups:N0} groups loaded with slapadd and started in {loaded.TotalSeconds:0.0} s");

var dataDirectory = Directory.CreateTempSubdirectory("herald-bench-sync-").FullName;
try
{
    var database = HeraldDatabases.Open(null, dataDirectory);
    await database.MigrateAsync(ct);
    var time = TimeProvider.System;
    var store = new SqlDirectoryStore(database);
    var sources = new SqlDirectorySourceStore(database);
    using var cache = new DirectoryCache(store, time);
    using var vault = new CredentialVault(new SqlCredentialKeyStore(database, time), new NodePassphrase("directory sync benchmark passphrase, slate owl", Path.Combine(dataDirectory, "unused.key")));
    var sync = new DirectorySyncService(sources, store, new LdapDirectoryReader(), cache, vault, time, NullLogger<DirectorySyncService>.Instance);
    var saved = await sync.SaveSourceAsync(
        Caller.Operator,
        new DirectorySourceUpdate("corp") { Url = ldap.Url, Trust = ldap.CaFile, BindDn = OpenLdap.BindDn, BaseDns = [OpenLdap.Suffix] },
        OpenLdap.BindPassword,
        ct);
    if (saved.Refusal is { } refused)
    {
        throw new InvalidOperationException(refused.ToString());
    }

    async Task<DirectorySyncReport> SyncAsync(bool delta)
    {
        var result = await sync.SyncAsync(Caller.Operator, "corp", dryRun: false, delta, ct);
        return result.Value?.Single() ?? throw new InvalidOperationException(result.Refusal!.ToString());
    }

    started.Restart();
    var first = await SyncAsync(delta: false);
    var firstTotal = started.Elapsed;
    Console.WriteLine($"first sync: {firstTotal.TotalSeconds:0.00} s (LDAP read {first.ReadTime.TotalSeconds:0.00} s, plan and write {first.WriteTime.TotalSeconds:0.00} s); {first.Outcome}");

    started.Restart();
    var view = await cache.GetViewAsync(ct);
    var refreshed = started.Elapsed;
    started.Restart();
    var reach = view.MembersOf("g00000").Count;
    var expanded = started.Elapsed;
    Console.WriteLine($"directory view refreshed: {refreshed.TotalSeconds:0.00} s ({view.UserCount:N0} users); the root group expands to {reach:N0} users in {expanded.TotalMilliseconds:0} ms");

    started.Restart();
    var second = await SyncAsync(delta: false);
    Console.WriteLine($"second full sync, nothing changed: {started.Elapsed.TotalSeconds:0.00} s (LDAP read {second.ReadTime.TotalSeconds:0.00} s); {second.Outcome}");

    await ldap.ModifyAsync($"dn: {OpenLdap.UserDn("u000042")}\nchangetype: modify\nreplace: mail\nmail: changed.u000042@example.org\n\n");
    started.Restart();
    var delta = await SyncAsync(delta: true);
    Console.WriteLine($"delta sync after one change: {started.Elapsed.TotalSeconds:0.00} s (LDAP read {delta.ReadTime.TotalSeconds:0.00} s); {delta.Outcome}");
    Console.WriteLine($"target: first sync under 60 s — {(firstTotal < TimeSpan.FromSeconds(60) ? "met" : "missed")}");
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(dataDirectory, recursive: true);
}
