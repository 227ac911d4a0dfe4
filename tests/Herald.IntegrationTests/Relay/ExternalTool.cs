using System.Diagnostics;
using Herald.IntegrationTests.Fixtures;

namespace Herald.IntegrationTests.Relay;

/// <summary>Runs a real client no one here wrote (swaks, smtp-source, nmap, testssl) to its end,
/// with a bound on its run time, and returns its exit code and output.</summary>
public static class ExternalTool
{
    public static async Task<(int Exit, string Output)> RunAsync(string executable, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var output = new ProcessOutput();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => output.Append(e.Data);
        process.ErrorDataReceived += (_, e) => output.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{executable} did not finish within {timeout}:\n{output.Text}");
        }

        process.WaitForExit(); // Flushes the redirected output.
        return (process.ExitCode, output.Text);
    }
}
