using Herald.Cli;

namespace Herald.Testing;

/// <summary>What a run of the <c>herald</c> command printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}

/// <summary>Runs <c>herald</c> verbs in-process against a private data directory, with its own
/// standard input and environment (nothing is read from the test process's environment).</summary>
internal sealed class HeraldCommandLine : IDisposable
{
    public HeraldCommandLine(string? dataDirectory = null)
    {
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "herald-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DataDirectory);
    }

    public string DataDirectory { get; }

    public Dictionary<string, string> Environment { get; } = new();

    public async Task<CliResult> RunAsync(params string[] args) => await RunWithInputAsync(null, args);

    public async Task<CliResult> RunWithInputAsync(string? standardInput, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CliConsole(
            new StringReader(standardInput ?? ""), output, error,
            name => Environment.TryGetValue(name, out var value) ? value : null,
            InteractiveInput: false)
        {
            Variables = () => Environment,
        };
        var exit = await HeraldCli.RunAsync(["--data-dir", DataDirectory, .. args], console, TestContext.Current.CancellationToken);
        return new CliResult(exit, output.ToString(), error.ToString());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A SQLite handle still pooled; the temp directory is cleaned by the OS eventually.
        }
    }
}
