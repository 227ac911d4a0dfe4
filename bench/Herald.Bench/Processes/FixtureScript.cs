using System.Globalization;

namespace Herald.Bench.Processes;

/// <summary>
/// A private server from one of the repository's fixture scripts (tests/fixtures/*/*-fixture.sh):
/// <c>start DIR …</c> starts it and writes <c>DIR/fixture.env</c> (KEY=value lines), <c>stop DIR</c>
/// ends it again. The benchmark starts PostgreSQL and Postfix this way, as the tests do.
/// </summary>
internal sealed class FixtureScript : IAsyncDisposable
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(180);

    private readonly string _what;
    private readonly string _script;
    private readonly string _directory;
    private string[] _values = [];

    private FixtureScript(string what, string script, string directory)
    {
        _what = what;
        _script = script;
        _directory = directory;
    }

    /// <summary>Runs <c>bash SCRIPT start DIR ARGUMENTS…</c>; whatever it started is stopped again
    /// when it fails.</summary>
    public static async Task<FixtureScript> StartAsync(string what, string script, string directory, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"{script} is missing, so there is no {what} to run against.");
        }

        var fixture = new FixtureScript(what, script, directory);
        try
        {
            var result = await Command.RunAsync("bash", [script, "start", directory, .. arguments], null, ScriptTimeout, cancellationToken);
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"The {what} fixture did not start: {result}");
            }

            var environment = Path.Combine(directory, "fixture.env");
            fixture._values = File.Exists(environment) ? await File.ReadAllLinesAsync(environment, cancellationToken) : [];
            return fixture;
        }
        catch
        {
            await fixture.DisposeAsync();
            throw;
        }
    }

    /// <summary>A value the fixture wrote to fixture.env; missing is an error.</summary>
    public string Value(string key) =>
        ReadValue(_values, key) ?? throw new InvalidOperationException($"The {_what} fixture wrote no {key} to {Path.Combine(_directory, "fixture.env")}.");

    public int Port(string key) => int.Parse(Value(key), NumberStyles.None, CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync() =>
        await Command.RunAsync("bash", [_script, "stop", _directory], null, ScriptTimeout, CancellationToken.None);

    /// <summary>KEY=value lines as the fixtures write them (values possibly quoted, # comments).</summary>
    public static string? ReadValue(IEnumerable<string> lines, string key) =>
        lines.Where(l => !l.StartsWith('#') && l.StartsWith(key + "=", StringComparison.Ordinal))
            .Select(l => l[(key.Length + 1)..].Trim().Trim('"', '\''))
            .LastOrDefault();
}
