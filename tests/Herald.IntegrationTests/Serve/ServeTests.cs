using System.Net;
using Dapper;
using Herald.IntegrationTests.Fixtures;
using Herald.Testing;

namespace Herald.IntegrationTests.Serve;

/// <summary><c>herald serve</c> as a real process, as an operator starts it.</summary>
public sealed class ServeTests : IDisposable
{
    private readonly HeraldCommandLine _herald = new();

    [Fact]
    public async Task Serve_migrates_the_database_answers_healthz_and_logs_where_everything_is()
    {
        await using var serve = HeraldServer.Launch(_herald.DataDirectory, new Dictionary<string, string> { ["HERALD_CREDENTIAL_KEY"] = "serve test passphrase, amber kestrel" });

        var (status, body) = await serve.WaitUntilHealthyAsync();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"status\":\"ok\"", body, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_herald.DataDirectory, "herald.db")));
        await Task.Delay(200, TestContext.Current.CancellationToken);
        var log = serve.Output;
        Assert.Contains($"Data directory {_herald.DataDirectory}", log, StringComparison.Ordinal);
        Assert.Contains(serve.BaseAddress.ToString().TrimEnd('/'), log, StringComparison.Ordinal);
        Assert.Contains("Credential key from the HERALD_CREDENTIAL_KEY environment variable matches the database", log, StringComparison.Ordinal);
        Assert.DoesNotContain("serve test passphrase, amber kestrel", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_credential_key_the_console_keys_are_sealed_in_the_database_not_in_the_data_directory()
    {
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory, new Dictionary<string, string> { ["HERALD_CREDENTIAL_KEY"] = "serve test passphrase, amber kestrel" });
        using var http = serve.Client();

        // The sign-in form carries an anti-forgery token: the first one makes the key ring's first key.
        using var signIn = await http.GetAsync(new Uri("signin", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(_herald.DataDirectory, "console-keys")));
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_herald.DataDirectory, "herald.db")}"))
        {
            var names = (await connection.QueryAsync<string>("SELECT name FROM secrets")).ToArray();
            Assert.StartsWith("console-key/key-", Assert.Single(names), StringComparison.Ordinal);
        }

        Assert.Contains("Console sign-in keys are kept in the database, sealed with the credential key", serve.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("unencrypted form", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_credential_key_the_console_keys_stay_in_the_data_directory_and_serve_says_so()
    {
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory);
        using var http = serve.Client();

        using var signIn = await http.GetAsync(new Uri("signin", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        Assert.Single(Directory.GetFiles(Path.Combine(_herald.DataDirectory, "console-keys"), "key-*.xml"));
        Assert.Contains($"Console sign-in keys are kept in {Path.Combine(_herald.DataDirectory, "console-keys")}, unencrypted and for this node only", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_first_start_without_a_credential_key_says_what_to_do_next_and_no_framework_warning()
    {
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory);
        using var http = serve.Client();

        // The sign-in form's anti-forgery token needs the key ring's first key: by its answer the
        // key has been made, and anything Data Protection had to say about it has been said.
        using var signIn = await http.GetAsync(new Uri("signin", UriKind.Relative), TestContext.Current.CancellationToken);
        await serve.WaitForOutputAsync("No credential key is set", TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        var log = serve.Output;
        Assert.Contains($"Next: run 'herald key set' (it reads a passphrase from standard input and writes {Path.Combine(_herald.DataDirectory, "credential.key")})", log, StringComparison.Ordinal);
        Assert.DoesNotContain("No XML encryptor", log, StringComparison.Ordinal);
        Assert.DoesNotContain("warn: Microsoft.", log, StringComparison.Ordinal);
        // The key files hold key material in clear: only the node's user may open their directory.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_herald.DataDirectory, "console-keys")));
    }

    [Fact]
    public async Task A_node_whose_credential_key_differs_from_the_database_refuses_to_start()
    {
        var set = await _herald.RunWithInputAsync("the farm's passphrase\n", "key", "set");
        Assert.Equal(0, set.ExitCode);
        await using var serve = HeraldServer.Launch(_herald.DataDirectory, new Dictionary<string, string> { ["HERALD_CREDENTIAL_KEY"] = "another node's passphrase" });

        Assert.True(serve.Process.WaitForExit(TimeSpan.FromSeconds(60)), "serve kept running with the wrong key");

        Assert.NotEqual(0, serve.Process.ExitCode);
        Assert.Contains("does not match this database's key", serve.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("another node's passphrase", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sign_in_limit_out_of_range_stops_serve_with_a_sentence_that_names_it()
    {
        await using var serve = HeraldServer.Launch(_herald.DataDirectory, new Dictionary<string, string> { ["HERALD_SignIn__FailuresPerAddress"] = "0" });

        Assert.True(serve.Process.WaitForExit(TimeSpan.FromSeconds(60)), "serve started with a limit of 0 failures");

        Assert.NotEqual(0, serve.Process.ExitCode);
        Assert.Contains("herald: A setting is not valid: ", serve.Output, StringComparison.Ordinal);
        Assert.Contains("The field FailuresPerAddress must be between 1 and 10000.", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_messages_api()
    {
        await using var serve = await HeraldServer.StartAsync(_herald.DataDirectory);
        using var http = serve.Client();

        var document = await http.GetStringAsync(new Uri("openapi/v1.json", UriKind.Relative), TestContext.Current.CancellationToken);

        Assert.Contains("\"/api/v1/messages\"", document, StringComparison.Ordinal);
        Assert.Contains("\"/api/v1/messages/{id}/retry\"", document, StringComparison.Ordinal);
    }

    public void Dispose() => _herald.Dispose();
}
