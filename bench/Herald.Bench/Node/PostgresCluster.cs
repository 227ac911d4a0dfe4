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
    private readonly FixtureScript _fixture;

    private PostgresCluster(FixtureScript fixture, string url)
    {
        _fixture = fixture;
        Url = url;
    }

    /// <summary>postgres://user@127.0.0.1:PORT/DB, as the fixture wrote it.</summary>
    public string Url { get; }

    public static string Script(string repositoryRoot) => Path.Combine(repositoryRoot, "tests", "fixtures", "postgres", "postgres-fixture.sh");

    public static async Task<PostgresCluster> StartAsync(string script, string directory, int port, CancellationToken cancellationToken)
    {
        var fixture = await FixtureScript.StartAsync("PostgreSQL", script, directory, [port.ToString(CultureInfo.InvariantCulture)], cancellationToken);
        try
        {
            return new PostgresCluster(fixture, fixture.Value("PG_URL"));
        }
        catch
        {
            await fixture.DisposeAsync();
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

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

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
