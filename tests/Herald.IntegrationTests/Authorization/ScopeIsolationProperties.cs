using CsCheck;
using Herald.Access;
using Herald.Cli;
using Herald.Scopes;
using Herald.Settings;
using Herald.Storage.Database;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.IntegrationTests.Authorization;

/// <summary>
/// Generated names against Core's rules: a caller of scope A never reads or changes anything of
/// scope B unless B is A or below it, whatever the names look like (case, dots, underscores,
/// percent signs, spaces, Unicode, prefixes and look-alikes). CsCheck prints the seed of a failure;
/// rerun one with <c>CsCheck_Seed=…</c>.
/// </summary>
public sealed class ScopeIsolationProperties
{
    private static void Print(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact]
    public void A_caller_administers_its_scope_and_those_below_and_nothing_else() =>
        Names.ScopePairs.Sample((a, b) =>
        {
            var expected = Tree.IsWithin(b.Value, a.Value);
            var key = new ApiKey("k", a, ApiKeyRole.Admin, null, DateTimeOffset.UnixEpoch, null);
            var sender = new ApiKey("s", a, ApiKeyRole.Sender, null, DateTimeOffset.UnixEpoch, null);
            Assert.Equal(expected, new Caller.Key(key).Administers(b));
            Assert.Equal(expected, new Caller.Key(sender).MaySendInto(b));
            Assert.False(new Caller.Key(sender).Administers(b));
            Assert.Equal(expected, new Caller.ConsoleAdministrator("someone", a).Administers(b));
            Assert.Equal(expected, b.IsSameOrDescendantOf(a));
        }, writeLine: Print, iter: 5_000);

    [Fact]
    public void A_scope_name_is_normalised_once_and_a_look_alike_never_becomes_it() =>
        Names.ScopeTexts.Sample(text =>
        {
            if (!ScopePath.TryParse(text, out var path, out _))
            {
                return;
            }

            // Parsing is idempotent and the result is the one canonical spelling of the scope.
            Assert.True(ScopePath.TryParse(path.Value, out var again, out _));
            Assert.Equal(path, again);
            Assert.Matches("^(/|(/[a-z0-9][a-z0-9._-]*)+)$", path.Value);
            // ASCII case and a trailing slash are the only spellings folded together; a percent
            // sign, a space inside a name or a letter outside ASCII (even one that lower-cases to
            // ASCII) never names a scope.
            var typed = text.Trim();
            Assert.True(typed.All(char.IsAscii), $"'{text}' was read as scope {path}.");
            Assert.Equal(path.Value, typed.TrimEnd('/') is { Length: > 0 } trimmed ? trimmed.ToLowerInvariant() : "/");
        }, writeLine: Print, iter: 5_000);

    [Fact]
    public void A_connection_name_is_normalised_once_and_a_look_alike_never_becomes_another() =>
        Names.ConnectionNames.Sample(text =>
        {
            if (ConnectionReference.TryNormalizeName(text, out var name, out _))
            {
                Assert.True(text.Trim().All(char.IsAscii), $"'{text}' was read as connection name {name}.");
                Assert.Equal(text.Trim().ToLowerInvariant(), name);
            }
        }, writeLine: Print, iter: 5_000);

    [Fact]
    public async Task Connections_of_a_scope_are_changed_and_seen_only_from_its_branch()
    {
        using var cli = new Herald.Testing.HeraldCommandLine();
        var database = HeraldDatabases.Open(null, cli.DataDirectory);
        var console = new CliConsole(TextReader.Null, TextWriter.Null, TextWriter.Null, _ => null, false);
        await using var services = await HeraldNode.OpenAsync(cli.DataDirectory, database, console, TestContext.Current.CancellationToken);
        var store = services.GetRequiredService<ISettingsStore>();
        var connections = services.GetRequiredService<OutgoingSettingsService>();
        var ct = TestContext.Current.CancellationToken;

        await Gen.Select(Names.ScopePairs, Names.ConnectionNames).SampleAsync(async (pair, name) =>
        {
            var (a, b) = pair;
            foreach (var scope in a.SelfAndAncestors().Concat(b.SelfAndAncestors()).Reverse())
            {
                await store.AddScopeAsync(scope, ct);
            }

            var before = await ConnectionsAsync(store, ct);
            var caller = new Caller.ConsoleAdministrator("someone", a);
            var saved = await connections.SaveConnectionAsync(
                caller, new ConnectionSave(b, name, IsNew: null, new ConnectionUpdate { Host = "smtp.example.org", Security = "none", Authentication = new AuthenticationChange.ToAnonymous() }), ct);
            var after = await ConnectionsAsync(store, ct);
            if (!Tree.IsWithin(b.Value, a.Value))
            {
                Assert.True(saved.Refused, $"{caller.Description} saved connection '{name}' of {b}.");
                Assert.Equal(before, after);
            }
            else if (!saved.Refused)
            {
                // Stored under its owner and nowhere else: the name cannot reach another scope's.
                var stored = saved.Value.Connection;
                Assert.Equal(b, stored.Owner);
                Assert.All(after.Except(before), c => Assert.StartsWith(b.Value + ":", c, StringComparison.Ordinal));

                // Another administrator sees it only from the owner's branch.
                foreach (var other in new[] { a, b, Names.Parse("/hr"), Names.Parse("/hr2"), Names.Parse("/hr.x"), Names.Parse("/hr/payroll") })
                {
                    var seen = await connections.GetConnectionAsync(new Caller.ConsoleAdministrator("other", other), b, stored.Name, ct);
                    var onBranch = Tree.IsWithin(b.Value, other.Value) || Tree.IsWithin(other.Value, b.Value);
                    Assert.Equal(onBranch, !seen.Refused);
                }
            }
        }, writeLine: Print, iter: 150, threads: 1);
    }

    private static async Task<IReadOnlyList<string>> ConnectionsAsync(ISettingsStore store, CancellationToken ct) =>
        (await store.ListConnectionsAsync(ct)).Select(c => $"{c.Owner.Value}:{c.Name}|{c.Host}|{c.Port}").Order(StringComparer.Ordinal).ToArray();
}

/// <summary>The generators: names as people and attackers type them.</summary>
internal static class Names
{
    /// <summary>Characters that make names collide or look alike: case, '.', '_', '-', '%', spaces,
    /// a Latin e with accent, a sharp s, a Cyrillic а, the Turkish dotless ı and dotted İ, and the
    /// Kelvin sign (which lower-cases to an ASCII k).</summary>
    private const string Tricky = "aAhHrRxX029._-% éßаı\u212A\u0130";

    private static readonly Gen<string> Segment = Gen.Frequency<string>(
        (6, Gen.OneOf<string>(["hr", "hr2", "hr.x", "hr_x", "hr-x", "payroll", "eu-west", "eu_west", "finance", "h", "r"])),
        (3, Gen.Char[Tricky].Array[1, 8].Select(chars => new string(chars))),
        (1, Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"].Array[1, 64].Select(chars => new string(chars))));

    /// <summary>Scope paths as typed: often valid, sometimes with a trailing slash, upper case, or refused characters.</summary>
    public static readonly Gen<string> ScopeTexts = Gen.Select(Segment.Array[0, 4], Gen.Bool, Gen.Bool, (segments, trailing, upper) =>
    {
        var text = "/" + string.Join("/", segments) + (trailing && segments.Length > 0 ? "/" : "");
        return upper ? text.ToUpperInvariant() : text;
    });

    public static readonly Gen<ScopePath> Scopes = ScopeTexts.Where(t => ScopePath.TryParse(t, out _, out _)).Select(Parse);

    /// <summary>Pairs of scopes that are often related: equal, parent and child, siblings, and
    /// look-alikes of each other (a suffix, '.', '_' or '-' added, a segment split).</summary>
    public static readonly Gen<(ScopePath A, ScopePath B)> ScopePairs = Gen.Frequency<(ScopePath A, ScopePath B)>(
        (2, Gen.Select(Scopes, Scopes)),
        (3, Gen.Select(Scopes, Gen.OneOf<string>(["x", ".x", "_x", "-x", "2", "/x", "/x/y"]), (a, suffix) => Related(a, suffix))),
        (2, Gen.Select(Scopes, Gen.OneOf<string>(["x", ".x", "_x", "2", "/x"]), (a, suffix) => Related(a, suffix)).Select(p => (p.B, p.A))),
        (1, Scopes.Select(a => (a, a))));

    /// <summary>Connection names as typed: case, dots, underscores, percent signs, spaces, Unicode.</summary>
    public static readonly Gen<string> ConnectionNames = Gen.Frequency<string>(
        (3, Gen.OneOf<string>(["default", "Default", "hr.payroll", "hr_payroll", "smarthost", "SMARTHOST", " smarthost", "smart%20host", "smart host", "/hr:default"])),
        (2, Gen.Char[Tricky].Array[1, 12].Select(chars => new string(chars))));

    public static ScopePath Parse(string text) => ScopePath.Parse(text);

    /// <summary>A scope spelled as <paramref name="a"/> with <paramref name="suffix"/> appended (under /hr for the root).</summary>
    private static (ScopePath A, ScopePath B) Related(ScopePath a, string suffix) =>
        ScopePath.TryParse((a.IsRoot ? "/hr" : a.Value) + suffix, out var path, out _) ? (a, path) : (a, a);
}
