using System.Diagnostics;
using System.Globalization;
using Herald.Bench.Processes;

namespace Herald.Bench.Load;

/// <summary>What one smtp-source run did.</summary>
/// <param name="Started"><see cref="Stopwatch"/> timestamp just before smtp-source was started.</param>
/// <param name="Elapsed">Until smtp-source exited: every message sent and answered.</param>
internal sealed record SourceResult(string CommandLine, long Started, TimeSpan Elapsed, int ExitCode, string Error)
{
    /// <summary>smtp-source gives up at the first reply it did not expect (no -A), so exit 0 means
    /// every message got its 250.</summary>
    public bool AllAccepted => ExitCode == 0;
}

/// <summary>
/// Postfix's <c>smtp-source</c> as the client of every relay under test, with the same options for
/// each: <c>-s</c> sessions in parallel, <c>-d</c> so that each session sends message after
/// message over its connection (without it every message is a new connection), <c>-m</c>
/// messages in all, <c>-l</c> bytes of payload after smtp-source's own headers, one recipient.
/// </summary>
internal static class SmtpSource
{
    public static string Path => File.Exists("/usr/sbin/smtp-source") ? "/usr/sbin/smtp-source" : "smtp-source";

    public static IReadOnlyList<string> Arguments(int sessions, int messages, int payloadBytes, int port) =>
    [
        "-d", "-s", Number(sessions), "-m", Number(messages), "-l", Number(payloadBytes),
        "-M", "bench.test", "-f", "bench@example.org", "-t", "sink@example.org", $"127.0.0.1:{Number(port)}",
    ];

    /// <summary>The command as it would be typed, for the report.</summary>
    public static string CommandLine(IReadOnlyList<string> arguments) => "smtp-source " + string.Join(' ', arguments);

    public static async Task<SourceResult> RunAsync(IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await Command.RunAsync(Path, arguments, null, timeout, cancellationToken);
        return new SourceResult(CommandLine(arguments), started, Stopwatch.GetElapsedTime(started), result.ExitCode, (result.Error + result.Output).Trim());
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
