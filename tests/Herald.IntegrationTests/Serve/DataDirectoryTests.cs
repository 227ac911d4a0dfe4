using System.Diagnostics;
using System.Reflection;
using Herald.Testing;

namespace Herald.IntegrationTests.Serve;

/// <summary>Where the data goes when nobody says: <c>./herald-data</c> of the directory the
/// command runs in, as the README says, also when started from source with <c>dotnet run</c>.</summary>
public sealed class DataDirectoryTests : IDisposable
{
    private readonly string _workingDirectory = Directory.CreateTempSubdirectory("herald-cwd-").FullName;

    [Fact]
    public async Task Dotnet_run_keeps_the_data_in_herald_data_of_the_directory_it_runs_in()
    {
        var project = Path.Combine(Repository.Root, "src", "Herald");
        // The tests' build already built the executable in this configuration: run that one.
        var configuration = typeof(DataDirectoryTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = _workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "run", "--no-build", "-c", configuration, "--project", project, "--", "scope", "add", "/hr" })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("HERALD_", StringComparison.Ordinal)).ToArray())
        {
            start.Environment.Remove(name);
        }

        using var run = Process.Start(start)!;
        var output = run.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = run.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await run.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.True(run.ExitCode == 0, $"{await output}\n{await error}");
        Assert.True(File.Exists(Path.Combine(_workingDirectory, "herald-data", "herald.db")));
    }

    public void Dispose() => Directory.Delete(_workingDirectory, recursive: true);
}
