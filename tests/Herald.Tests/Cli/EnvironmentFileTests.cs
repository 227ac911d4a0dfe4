using Herald.Cli;

namespace Herald.Tests.Cli;

/// <summary>The service's settings file (HERALD_ENV_FILE, /etc/herald/herald.env where the package
/// is installed): a verb run by hand works on the service's data unless told otherwise.</summary>
public sealed class EnvironmentFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("herald-envfile-").FullName;

    [Fact]
    public void The_file_is_read_as_systemd_reads_an_environment_file()
    {
        var (variables, problem) = EnvironmentFile.Parse(
            """
            # Herald's settings
            ; also a comment
              HERALD_DATA_DIR=/var/lib/herald
            HERALD_NODE_NAME = "node one"
            HERALD_NODE_TAGS='eu,"dmz"'
            HERALD_DATABASE="postgres://herald:p\"w@db:5432/herald"
            export HERALD_Delivery__Concurrency=8
            HERALD_EMPTY=

            """.Replace("\n", "\r\n", StringComparison.Ordinal),
            "herald.env");

        Assert.Null(problem);
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["HERALD_DATA_DIR"] = "/var/lib/herald",
                ["HERALD_NODE_NAME"] = "node one",
                ["HERALD_NODE_TAGS"] = "eu,\"dmz\"",
                ["HERALD_DATABASE"] = "postgres://herald:p\"w@db:5432/herald",
                ["HERALD_Delivery__Concurrency"] = "8",
                ["HERALD_EMPTY"] = "",
            },
            variables);
    }

    [Theory]
    [InlineData("HERALD_DATA_DIR /var/lib/herald", "Line 2 of the settings file herald.env is not NAME=value.")]
    [InlineData("=value", "Line 2 of the settings file herald.env is not NAME=value.")]
    [InlineData("HERALD_NODE_NAME=\"node one", "Line 2 of the settings file herald.env has a quoted value that does not end with its quote.")]
    public void A_line_that_is_not_a_setting_is_named(string line, string sentence)
    {
        var (variables, problem) = EnvironmentFile.Parse($"# settings\n{line}\n", "herald.env");

        Assert.Null(variables);
        Assert.Equal(sentence, problem);
    }

    [Fact]
    public async Task A_verb_given_no_data_directory_works_on_the_one_the_settings_file_names()
    {
        var serviceData = Path.Combine(_directory, "var-lib-herald");
        var file = await WriteSettingsAsync($"HERALD_DATA_DIR={serviceData}\n");

        var (exit, _, error) = await RunAsync(new() { [EnvironmentFile.Variable] = file }, "scope", "add", "/hr");

        Assert.True(exit == 0, error);
        Assert.True(File.Exists(Path.Combine(serviceData, "herald.db")));
        var (_, output, _) = await RunAsync(new() { [EnvironmentFile.Variable] = file }, "scope", "list");
        Assert.Contains("/hr", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_environment_and_the_options_win_over_the_settings_file()
    {
        var file = await WriteSettingsAsync($"HERALD_DATA_DIR={Path.Combine(_directory, "from-file")}\n");
        var fromEnvironment = Path.Combine(_directory, "from-environment");
        var fromOption = Path.Combine(_directory, "from-option");

        await RunAsync(new() { [EnvironmentFile.Variable] = file, ["HERALD_DATA_DIR"] = fromEnvironment }, "scope", "list");
        await RunAsync(new() { [EnvironmentFile.Variable] = file }, "--data-dir", fromOption, "scope", "list");

        Assert.True(File.Exists(Path.Combine(fromEnvironment, "herald.db")));
        Assert.True(File.Exists(Path.Combine(fromOption, "herald.db")));
        Assert.False(Directory.Exists(Path.Combine(_directory, "from-file")));
    }

    [Fact]
    public async Task Settings_in_the_file_reach_the_options_as_the_environments_do()
    {
        var file = await WriteSettingsAsync($"HERALD_DATA_DIR={Path.Combine(_directory, "data")}\nHERALD_Delivery__Concurrency=0\n");

        var (exit, _, error) = await RunAsync(new() { [EnvironmentFile.Variable] = file }, "scope", "list");

        Assert.Equal(1, exit);
        Assert.Contains("Concurrency", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_settings_file_that_cannot_be_used_stops_the_command_with_a_sentence()
    {
        var file = await WriteSettingsAsync("HERALD_DATA_DIR /nowhere\n");

        var (exit, _, error) = await RunAsync(new() { [EnvironmentFile.Variable] = file }, "scope", "list");

        Assert.Equal(1, exit);
        Assert.Equal($"herald: Line 1 of the settings file {file} is not NAME=value.", error.Trim());
        Assert.False(Directory.Exists("/nowhere"));
    }

    [Fact]
    public async Task A_settings_file_larger_than_a_settings_file_is_refused()
    {
        var file = await WriteSettingsAsync("# " + new string('x', EnvironmentFile.MaxBytes) + "\n");

        var (exit, _, error) = await RunAsync(new() { [EnvironmentFile.Variable] = file }, "scope", "list");

        Assert.Equal(1, exit);
        Assert.Contains("is larger than 64 KiB", error, StringComparison.Ordinal);
    }

    private async Task<string> WriteSettingsAsync(string text)
    {
        var file = Path.Combine(_directory, "herald.env");
        await File.WriteAllTextAsync(file, text, TestContext.Current.CancellationToken);
        return file;
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(Dictionary<string, string> environment, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CliConsole(TextReader.Null, output, error, name => environment.GetValueOrDefault(name), InteractiveInput: false)
        {
            Variables = () => environment,
        };
        var exit = await HeraldCli.RunAsync(args, console, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
