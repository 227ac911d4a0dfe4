using System.Diagnostics;
using System.Globalization;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;
using Npgsql;

[assembly: AssemblyFixture(typeof(PostgresFixture))]

namespace Herald.IntegrationTests.Fixtures;

/// <summary>
/// A private PostgreSQL cluster from Debian's package, started once for the test assembly by
/// tests/fixtures/postgres/postgres-fixture.sh on a free loopback port (fsync on, ICU en-US as the
/// default collation). Each storage test gets a database of its own on it (see
/// <see cref="Storage.TestDatabases"/>).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly Dictionary<string, string> _values = new();
    private NpgsqlDataSource? _admin;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), $"herald-postgres-{Environment.ProcessId}");

    public int Port => int.Parse(_values["PG_PORT"], CultureInfo.InvariantCulture);

    /// <summary>The superuser, who needs no password on loopback; other roles must give theirs.</summary>
    public string Superuser => _values["PG_USER"];

    public string LogFile => _values["PG_LOG"];

    /// <summary>A <c>postgres://</c> URL for <paramref name="database"/>, as an operator writes it.</summary>
    public string Url(string database) => $"postgres://{Superuser}@127.0.0.1:{Port}/{database}";

    /// <summary>Connections to the maintenance database, for creating and dropping databases and roles.</summary>
    public NpgsqlDataSource Admin => _admin ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    public async ValueTask InitializeAsync()
    {
        var (exit, output) = await RunScriptAsync("start", Directory, LoopbackPort.Free().ToString(CultureInfo.InvariantCulture));
        if (exit != 0)
        {
            throw new InvalidOperationException($"The PostgreSQL fixture did not start (exit {exit}):\n{output}");
        }

        foreach (var line in await File.ReadAllLinesAsync(Path.Combine(Directory, "fixture.env")))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && !line.StartsWith('#'))
            {
                _values[line[..equals]] = line[(equals + 1)..];
            }
        }

        _admin = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = Superuser,
            Database = "postgres",
            ApplicationName = "herald-tests-admin",
        }.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        await RunScriptAsync("stop", Directory);
    }

    public string LogTail() =>
        File.Exists(_values.GetValueOrDefault("PG_LOG", "")) ? string.Join('\n', File.ReadLines(LogFile).TakeLast(30)) : "(no server log)";


    private static async Task<(int Exit, string Output)> RunScriptAsync(params string[] args)
    {
        var script = Path.Combine(Repository.Root, "tests", "fixtures", "postgres", "postgres-fixture.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
