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
    /// <param name="deleteOnDispose">False for a data directory the test owns otherwise (a test database's).</param>
    public HeraldCommandLine(string? dataDirectory = null, bool deleteOnDispose = true)
    {
        _deleteOnDispose = deleteOnDispose;
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "herald-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DataDirectory);
    }

    private readonly bool _deleteOnDispose;

    public string DataDirectory { get; }

    public Dictionary<string, string> Environment { get; } = new();

    public async Task<CliResult> RunAsync(params string[] args) => await RunWithInputAsync(null, args);

    public Task<CliResult> RunWithInputAsync(string? standardInput, params string[] args) => Start(standardInput, args).Completion;

    /// <summary>Starts a verb and returns at once, for a verb that waits on something the test
    /// does (a sign-in to approve): its output can be read while it runs.</summary>
    public RunningCommand Start(string? standardInput, params string[] args)
    {
        var output = new RunningOutput();
        var error = new RunningOutput();
        var console = new CliConsole(
            new StringReader(standardInput ?? ""), output, error,
            name => Environment.TryGetValue(name, out var value) ? value : null,
            InteractiveInput: false)
        {
            Variables = () => Environment,
        };
        return new RunningCommand(output, RunAsync());

        async Task<CliResult> RunAsync()
        {
            await Task.Yield();
            var exit = await HeraldCli.RunAsync(["--data-dir", DataDirectory, .. args], console, TestContext.Current.CancellationToken);
            return new CliResult(exit, output.ToString(), error.ToString());
        }
    }

    public void Dispose()
    {
        if (!_deleteOnDispose)
        {
            return;
        }

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

/// <summary>A verb that is still running: what it printed so far, and its result once it ends.</summary>
internal sealed class RunningCommand(RunningOutput output, Task<CliResult> completion)
{
    public Task<CliResult> Completion { get; } = completion;

    /// <summary>Waits until the output has a line matching <paramref name="pattern"/> and returns
    /// the match; fails with everything printed if the verb ends first.</summary>
    public async Task<System.Text.RegularExpressions.Match> WaitForOutputAsync(string pattern)
    {
        var regex = new System.Text.RegularExpressions.Regex(pattern);
        while (true)
        {
            // Taken before reading, so that nothing written in between is missed.
            var changed = output.ChangedAsync();
            if (regex.Match(output.ToString()) is { Success: true } match)
            {
                return match;
            }

            if (Completion.IsCompleted)
            {
                throw new InvalidOperationException($"The verb ended without printing /{pattern}/: {await Completion}");
            }

            await Task.WhenAny(changed, Completion).WaitAsync(TestContext.Current.CancellationToken);
        }
    }
}

/// <summary>Standard output shared between a running verb and the test reading it.</summary>
internal sealed class RunningOutput : TextWriter
{
    private readonly System.Threading.Lock _gate = new();
    private readonly System.Text.StringBuilder _text = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

    public override void Write(char value) => Append(text => text.Append(value));

    public override void Write(string? value) => Append(text => text.Append(value));

    public override void Write(char[] buffer, int index, int count) => Append(text => text.Append(buffer, index, count));

    public override string ToString()
    {
        lock (_gate)
        {
            return _text.ToString();
        }
    }

    /// <summary>Completes when something more is written.</summary>
    public Task ChangedAsync()
    {
        lock (_gate)
        {
            return _changed.Task;
        }
    }

    private void Append(Action<System.Text.StringBuilder> write)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            write(_text);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
