using System.Text;
using System.Text.Json;
using Herald.Bench.Load;
using Herald.Bench.Node;
using Herald.Bench.Processes;

namespace Herald.Bench.Tests;

public sealed class MessagesTests
{
    [Fact]
    public void A_message_request_has_the_contract_shape_and_a_body_of_exactly_the_given_size()
    {
        var body = new Messages("a", 1024).Requests(7, 1, 1).Single();

        var json = JsonDocument.Parse(body.Body).RootElement;
        Assert.Equal(1, body.Messages);
        Assert.Equal("/", json.GetProperty("scope").GetString());
        Assert.Equal(["a-7@example.org"], json.GetProperty("to").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("Herald benchmark a 7", json.GetProperty("subject").GetString());
        var text = json.GetProperty("text").GetString()!;
        Assert.Equal(1024, Encoding.ASCII.GetByteCount(text));
        Assert.All(text.Split('\n'), line => Assert.InRange(line.Length, 0, 78));
        Assert.Equal(["scope", "to", "subject", "text"], json.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Batches_carry_every_message_once_with_a_shorter_last_batch()
    {
        var requests = new Messages("a", 100).Requests(0, 25, 10);

        Assert.Equal([10, 10, 5], requests.Select(r => r.Messages));
        var recipients = requests
            .SelectMany(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("messages").EnumerateArray())
            .Select(m => m.GetProperty("to")[0].GetString())
            .ToArray();
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"a-{i}@example.org"), recipients);
    }

    [Theory]
    [InlineData("Created an API key for / (sender).\nhrld_abc123\n", "hrld_abc123")]
    [InlineData("hrld_abc123\r\n\r\n", "hrld_abc123")]
    public void The_api_key_is_the_last_line_printed(string output, string key) =>
        Assert.Equal(key, HeraldNode.ApiKeyFrom(output));

    [Theory]
    [InlineData("")]
    [InlineData("Created an API key for / (sender).\n")]
    public void Output_without_a_key_on_its_last_line_is_an_error(string output) =>
        Assert.Throws<InvalidOperationException>(() => HeraldNode.ApiKeyFrom(output));

    [Fact]
    public void A_postgres_url_becomes_a_connection_string_and_names_another_database()
    {
        const string url = "postgres://postgres:s%40cret@127.0.0.1:54321/postgres";

        var connection = new Npgsql.NpgsqlConnectionStringBuilder(PostgresCluster.ConnectionString(url));

        Assert.Equal(("127.0.0.1", 54321, "postgres", "s@cret", "postgres"), (connection.Host, connection.Port, connection.Username, connection.Password, connection.Database));
        Assert.Equal("postgres://postgres:s%40cret@127.0.0.1:54321/herald_bench_1", PostgresCluster.WithDatabase(url, "herald_bench_1"));
        Assert.Equal("postgres://postgres@127.0.0.1:5433/x", FixtureScript.ReadValue(["# comment", "PG_PORT=5433", "PG_URL='postgres://postgres@127.0.0.1:5433/x'"], "PG_URL"));
    }
}
