using System.Globalization;
using Herald.Bench.Processes;
using Npgsql;

namespace Herald.Bench.Node;

/// <summary>
/// A private PostgreSQL cluster from <c>tests/fixtures/postgres/postgres-fixture.sh start DIR PORT</c>
/// (which writes <c>DIR/fixture.env</c> with <c>PG_URL</c>), stopped again with <c>stop DIR</c>.
/// </summary>
internal sealed class PostgresCluster : IAsyncDisposable
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(180);

    private readonly string _script;
    private readonly string _directory;

    private PostgresCluster(string script, string directory, string url)
    {
        _script = script;
        _directory = directory;
        Url = url;
    }

    /// <summary>postgres://user@127.0.0.1:PORT/DB, as the fixture wrote it.</summary>
    public string Url { get; }

    public static string Script(string repositoryRoot) => Path.Combine(repositoryRoot, "tests", "fixtures", "postgres", "postgres-fixture.sh");

    public static async Task<PostgresCluster> StartAsync(string script, string directory, int port, CancellationToken cancellationToken)
    {
        var cluster = new PostgresCluster(script, directory, "");
        try
        {
            var result = await Command.RunAsync("bash", [script, "start", directory, port.ToString(CultureInfo.InvariantCulture)], null, ScriptTimeout, cancellationToken);
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"The PostgreSQL fixture did not start: {result}");
            }

            var environment = Path.Combine(directory, "fixture.env");
            var url = File.Exists(environment) ? ReadValue(await File.ReadAllLinesAsync(environment, cancellationToken), "PG_URL") : null;
            return new PostgresCluster(script, directory, url ?? throw new InvalidOperationException($"The PostgreSQL fixture wrote no PG_URL to {environment}."));
        }
        catch
        {
            // Whatever it had started is stopped again.
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an empty database and returns its URL (the fixture's URL with another path).</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        await using (var connection = new NpgsqlConnection(ConnectionString(Url)))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        return WithDatabase(Url, name);
    }

    public async ValueTask DisposeAsync() =>
        await Command.RunAsync("bash", [_script, "stop", _directory], null, ScriptTimeout, CancellationToken.None);

    /// <summary>KEY=value lines as the fixtures write them (values possibly quoted, # comments).</summary>
    public static string? ReadValue(IEnumerable<string> lines, string key) =>
        lines.Where(l => !l.StartsWith('#') && l.StartsWith(key + "=", StringComparison.Ordinal))
            .Select(l => l[(key.Length + 1)..].Trim().Trim('"', '\''))
            .LastOrDefault();

    /// <summary>postgres://user[:password]@host[:port][/database] as an Npgsql connection string.</summary>
    public static string ConnectionString(string url)
    {
        var uri = new Uri(url);
        if (uri.Scheme is not ("postgres" or "postgresql"))
        {
            throw new FormatException($"'{url}' is not a postgres:// URL.");
        }

        var userInfo = uri.UserInfo.Split(':', 2);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Username = Uri.UnescapeDataString(userInfo[0]),
            Database = uri.AbsolutePath.Trim('/') is { Length: > 0 } database ? Uri.UnescapeDataString(database) : "postgres",
            Pooling = false,
        };
        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }

        return builder.ConnectionString;
    }

    public static string WithDatabase(string url, string database) =>
        new UriBuilder(url) { Path = "/" + Uri.EscapeDataString(database) }.Uri.AbsoluteUri;
}
