using System.Text;

namespace Herald.Cli;

/// <summary>What a command reads and writes: the real console, or a test's buffers.</summary>
internal sealed record CliConsole(TextReader In, TextWriter Out, TextWriter Error, Func<string, string?> Environment, bool InteractiveInput)
{
    public static CliConsole System => new(Console.In, Console.Out, Console.Error, global::System.Environment.GetEnvironmentVariable, !Console.IsInputRedirected)
    {
        Variables = () => global::System.Environment.GetEnvironmentVariables().Cast<global::System.Collections.DictionaryEntry>()
            .Select(e => KeyValuePair.Create((string)e.Key, (string?)e.Value ?? "")),
    };

    /// <summary>Every environment variable, for the settings read from <c>HERALD_…</c> ones
    /// (<see cref="Environment"/> reads one by name).</summary>
    public Func<IEnumerable<KeyValuePair<string, string>>> Variables { get; init; } = () => [];

    /// <summary>This console with <paramref name="defaults"/> under its environment: a variable
    /// the process has wins over the same one in the defaults (<see cref="EnvironmentFile"/>).</summary>
    public CliConsole WithDefaults(IReadOnlyDictionary<string, string> defaults)
    {
        var (environment, variables) = (Environment, Variables);
        return this with
        {
            Environment = name => environment(name) ?? defaults.GetValueOrDefault(name),
            Variables = () =>
            {
                var own = variables().ToList();
                var names = own.Select(v => v.Key).ToHashSet(StringComparer.Ordinal);
                return own.Concat(defaults.Where(d => !names.Contains(d.Key)));
            },
        };
    }

    /// <summary>Writes "herald: sentence" to standard error; returns the exit code for a failure.</summary>
    public int Fail(string sentence)
    {
        Error.WriteLine($"herald: {sentence}");
        return 1;
    }

    /// <summary>A use case's refusal as the CLI says it: each field's problem on its own line
    /// (named as the API names it), then the sentence; the exit code for a failure.</summary>
    public int Fail(Refusal refusal)
    {
        foreach (var error in refusal.Errors.Where(e => e.Message != refusal.Sentence))
        {
            Error.WriteLine(error.Field.Length == 0 ? $"herald: {error.Message}" : $"herald: {error.Field}: {error.Message}");
        }

        return Fail(refusal.Sentence);
    }

    /// <summary>Reads a secret from standard input: one line, without echo when typed at a terminal.</summary>
    public string? ReadSecret(string prompt)
    {
        if (!InteractiveInput)
        {
            var line = In.ReadLine();
            return string.IsNullOrEmpty(line) ? null : line.TrimEnd('\r');
        }

        Error.Write(prompt);
        var secret = new StringBuilder();
        for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
        {
            if (key.Key == ConsoleKey.Backspace && secret.Length > 0)
            {
                secret.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                secret.Append(key.KeyChar);
            }
        }

        Error.WriteLine();
        return secret.Length == 0 ? null : secret.ToString();
    }
}
